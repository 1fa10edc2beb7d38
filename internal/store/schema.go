package store

import "strings"

// migration is one schema step; steps are applied in order, once, and
// recorded in schema_version.
type migration struct {
	version     int64
	description string // one line, for Migrations and the README
	// stmts returns the step's statements for a dialect.
	stmts func(d *dialect) []string
}

// MigrationInfo describes one step of the schema history.
type MigrationInfo struct {
	Version     int64
	Description string
}

// Migrations lists the schema history this build knows, oldest first.
func Migrations() []MigrationInfo {
	out := make([]MigrationInfo, len(migrations))
	for i, m := range migrations {
		out[i] = MigrationInfo{Version: m.version, Description: m.description}
	}
	return out
}

// ddl returns the stmts of a step written in the schema's placeholders:
// {key} is the type of text that is a key or indexed, {text} of other text,
// {ascii_key} of a long ASCII key (WebAuthn credential IDs, up to 1023 bytes
// base64url-encoded), {table} the table options after the closing
// parenthesis. On SQLite and PostgreSQL every text type is TEXT and there are
// no table options, which is exactly the text of the released steps.
func ddl(stmts ...string) func(d *dialect) []string {
	return func(d *dialect) []string {
		out := make([]string, len(stmts))
		for i, s := range stmts {
			out[i] = d.ddl(s)
		}
		return out
	}
}

// migrations is the schema history. Never change what a released step does
// on a backend that already had it; append one.
// Request tables share these columns: request_id, requested_at, client_id,
// scopes, granted_scopes, audience, granted_audience (lists, see
// encodeList), form (URL-encoded, secrets removed), session (JSON of the
// fosite.Session).
var migrations = []migration{
	{version: 1, description: "OAuth 2.0 and OpenID Connect requests and tokens, login sessions, subjects", stmts: ddl(
		requestTable("oauth2_code", "active BOOLEAN NOT NULL DEFAULT TRUE,"),
		`CREATE INDEX oauth2_code_request_id ON oauth2_code (request_id)`,
		`CREATE INDEX oauth2_code_expires_at ON oauth2_code (expires_at)`,

		requestTable("oauth2_access", ""),
		`CREATE INDEX oauth2_access_request_id ON oauth2_access (request_id)`,
		`CREATE INDEX oauth2_access_expires_at ON oauth2_access (expires_at)`,

		requestTable("oauth2_refresh", "active BOOLEAN NOT NULL DEFAULT TRUE,\n\taccess_signature {text} NOT NULL,"),
		`CREATE INDEX oauth2_refresh_request_id ON oauth2_refresh (request_id)`,
		`CREATE INDEX oauth2_refresh_expires_at ON oauth2_refresh (expires_at)`,

		requestTable("oauth2_pkce", ""),
		`CREATE INDEX oauth2_pkce_expires_at ON oauth2_pkce (expires_at)`,

		requestTable("oauth2_oidc", ""),
		`CREATE INDEX oauth2_oidc_expires_at ON oauth2_oidc (expires_at)`,

		requestTable("oauth2_par", `response_types {text} NOT NULL,
	redirect_uri {text} NOT NULL,
	state {text} NOT NULL,
	response_mode {text} NOT NULL,
	default_response_mode {text} NOT NULL,`),
		`CREATE INDEX oauth2_par_expires_at ON oauth2_par (expires_at)`,

		`CREATE TABLE oauth2_jti (
	signature {key} NOT NULL PRIMARY KEY,
	expires_at BIGINT NOT NULL
){table}`,
		`CREATE INDEX oauth2_jti_expires_at ON oauth2_jti (expires_at)`,

		`CREATE TABLE login_session (
	id_hash {key} NOT NULL PRIMARY KEY,
	username {key} NOT NULL,
	auth_time BIGINT,
	amr {text} NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
){table}`,
		`CREATE INDEX login_session_username ON login_session (username)`,
		`CREATE INDEX login_session_expires_at ON login_session (expires_at)`,

		`CREATE TABLE subject (
	username {key} NOT NULL,
	sector {key} NOT NULL,
	subject {key} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (username, sector)
){table}`,
	)},
	{version: 2, description: "second factors (TOTP, WebAuthn), remembered consent, authentication attempts, session inactivity", stmts: ddl(
		// last_seen_at drives the inactivity timeout; remember_me sessions
		// use the longer lifetime and no inactivity timeout.
		`ALTER TABLE login_session ADD COLUMN last_seen_at BIGINT`,
		`ALTER TABLE login_session ADD COLUMN remember_me BOOLEAN NOT NULL DEFAULT FALSE`,

		// One TOTP secret per user, sealed with a key from Caddy's storage.
		// last_step is the last accepted time step: a code is accepted once.
		`CREATE TABLE totp_secret (
	username {key} NOT NULL PRIMARY KEY,
	secret_sealed {text} NOT NULL,
	confirmed BOOLEAN NOT NULL DEFAULT FALSE,
	last_step BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
){table}`,

		// WebAuthn credentials (passkeys and security keys); data is the
		// JSON of the library's credential record.
		`CREATE TABLE webauthn_credential (
	id {ascii_key} NOT NULL PRIMARY KEY,
	username {key} NOT NULL,
	name {text} NOT NULL,
	data {text} NOT NULL,
	created_at BIGINT NOT NULL,
	last_used_at BIGINT
){table}`,
		`CREATE INDEX webauthn_credential_username ON webauthn_credential (username)`,
		// A WebAuthn user handle per user: random, never the username.
		`CREATE TABLE webauthn_user (
	username {key} NOT NULL PRIMARY KEY,
	handle {key} NOT NULL UNIQUE
){table}`,
		// Ceremony state between the options and the browser's answer.
		`CREATE TABLE webauthn_ceremony (
	id_hash {key} NOT NULL PRIMARY KEY,
	data {text} NOT NULL,
	expires_at BIGINT NOT NULL
){table}`,
		`CREATE INDEX webauthn_ceremony_expires_at ON webauthn_ceremony (expires_at)`,

		// Remembered (pre-configured) consent: valid only for the same user,
		// client, scopes and audience, until expires_at.
		`CREATE TABLE consent (
	username {key} NOT NULL,
	client_id {key} NOT NULL,
	scopes {text} NOT NULL,
	audience {text} NOT NULL,
	granted_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (username, client_id)
){table}`,
		`CREATE INDEX consent_expires_at ON consent (expires_at)`,

		// Authentication attempts for regulation (max_retries within
		// find_time bans for ban_time), per username and per client IP.
		`CREATE TABLE auth_attempt (
	username {key} NOT NULL,
	remote_ip {key} NOT NULL,
	factor {text} NOT NULL,
	success BOOLEAN NOT NULL,
	at BIGINT NOT NULL
){table}`,
		`CREATE INDEX auth_attempt_username_at ON auth_attempt (username, at)`,
		`CREATE INDEX auth_attempt_remote_ip_at ON auth_attempt (remote_ip, at)`,
	)},
	// Rotation keeps every rotated refresh token of a grant (inactive) until
	// it expires, for reuse detection; deactivating "the active ones of this
	// grant" must not visit the whole chain on every refresh. MySQL has no
	// partial indexes: there the index covers (request_id, active).
	{version: 3, description: "index of the active refresh tokens of a grant", stmts: func(d *dialect) []string {
		if d.partialIndexes {
			return []string{`CREATE INDEX oauth2_refresh_active_request_id ON oauth2_refresh (request_id) WHERE active`}
		}
		return []string{`CREATE INDEX oauth2_refresh_active_request_id ON oauth2_refresh (request_id, active)`}
	}},
	// Garbage collection by one instance at a time, in batches: the lease
	// it holds, and an index for deleting old attempts oldest first.
	{version: 4, description: "garbage collection lease; index of authentication attempts by time", stmts: ddl(
		`CREATE TABLE lease (
	name {key} NOT NULL PRIMARY KEY,
	holder {text} NOT NULL,
	expires_at BIGINT NOT NULL
){table}`,
		`CREATE INDEX auth_attempt_at ON auth_attempt (at)`,
	)},
	// Device authorization grant (RFC 8628): the device code and user code
	// are stored as hashes only. code_expires_at is when the codes stop
	// working; expires_at (later) is when the row is collected, so that a
	// device polling a little late still hears expired_token.
	{version: 5, description: "device authorization grant (RFC 8628) codes", stmts: ddl(
		`CREATE TABLE oauth2_device (
	device_code_hash {key} NOT NULL PRIMARY KEY,
	user_code_hash {key} NOT NULL UNIQUE,
	client_id {key} NOT NULL,
	scopes {text} NOT NULL,
	audience {text} NOT NULL,
	status {text} NOT NULL,
	username {text} NOT NULL,
	amr {text} NOT NULL,
	auth_time BIGINT NOT NULL,
	requested_at BIGINT NOT NULL,
	poll_interval BIGINT NOT NULL,
	last_poll_at BIGINT NOT NULL,
	code_expires_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
){table}`,
		`CREATE INDEX oauth2_device_expires_at ON oauth2_device (expires_at)`,
	)},
	// Back- and front-channel logout: a login session's sid (public, in ID
	// and logout tokens; the sessions before this step take their id_hash)
	// and the clients that took part in it, to be told when it ends.
	{version: 6, description: "login session sid; the clients that took part in each login session (logout notifications)", stmts: ddl(
		`ALTER TABLE login_session ADD COLUMN sid {key}`,
		`UPDATE login_session SET sid = id_hash`,
		`CREATE INDEX login_session_sid ON login_session (sid)`,
		`CREATE TABLE login_session_client (
	sid {key} NOT NULL,
	client_id {key} NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (sid, client_id)
){table}`,
		`CREATE INDEX login_session_client_expires_at ON login_session_client (expires_at)`,
	)},
	// Recovery codes: one-time codes a user signs in with instead of a lost
	// second factor, stored as keyed hashes only (internal/authn).
	{version: 7, description: "recovery codes (one-time second-factor replacements, hashed)", stmts: ddl(
		`CREATE TABLE recovery_code (
	username {key} NOT NULL,
	code_hash {key} NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (username, code_hash)
){table}`,
	)},
	{version: 8, description: "an authorization code's PKCE and OpenID Connect requests in the code's own row", stmts: ddl(
		// Written together with the code (see WithCodeBundle): one row per
		// authorization instead of three. NULL when the code has none, or
		// when they are in oauth2_pkce and oauth2_oidc as before.
		`ALTER TABLE oauth2_code ADD COLUMN pkce_form {text}`,
		`ALTER TABLE oauth2_code ADD COLUMN oidc_key {text}`,
		`ALTER TABLE oauth2_code ADD COLUMN oidc_form {text}`,
	)},
	// A rotated refresh token only has to be recognised (reuse revokes its
	// grant, which needs the grant's request ID and client): on backends
	// whose dialect sets retireRefresh, rotation moves those columns here
	// and deletes the token's row instead of rewriting the whole row with
	// active = FALSE. Rotated and revoked tokens from before, and on the
	// other backends, stay inactive rows of oauth2_refresh.
	{version: 9, description: "rotated refresh tokens, kept narrow for reuse detection", stmts: ddl(
		`CREATE TABLE oauth2_refresh_rotated (
	signature {key} NOT NULL PRIMARY KEY,
	request_id {key} NOT NULL,
	client_id {text} NOT NULL,
	expires_at BIGINT
){table}`,
		`CREATE INDEX oauth2_refresh_rotated_expires_at ON oauth2_refresh_rotated (expires_at)`,
	)},
	// Every lookup of refresh tokens by grant asks for the active ones,
	// which the index of step 3 answers (on MySQL it starts with
	// request_id), so the index of step 1 on request_id alone was only
	// maintained: one B-tree more for every refresh token written,
	// rotated and collected.
	{version: 10, description: "drop the refresh tokens' index on request_id alone (step 3's index answers)", stmts: func(d *dialect) []string {
		if d.name == "mysql" {
			return []string{`DROP INDEX oauth2_refresh_request_id ON oauth2_refresh`}
		}
		return []string{`DROP INDEX oauth2_refresh_request_id`}
	}},
	// A code exchange sets the code's active flag to FALSE, which on
	// PostgreSQL writes a new version of the whole row. On a full page
	// that version goes to another page, with a new entry in each of the
	// table's three indexes; with room left on the page it stays there
	// without them (a heap-only tuple). Codes are written once and
	// updated once, so a third of each page is kept free for that update.
	// ALTER TABLE … SET takes a lock that lets reads and writes go on,
	// and only pages written from then on keep the room. The other
	// backends update the row in place.
	{version: 11, description: "room on PostgreSQL's pages of codes for their invalidation", stmts: func(d *dialect) []string {
		if d.name != "postgres" {
			return nil
		}
		return []string{`ALTER TABLE oauth2_code SET (fillfactor = 70)`}
	}},
	// Instances on PostgreSQL keep the login sessions they read
	// (logincache.go) and must hear of every change to one, by whichever
	// instance, build or tool: each row updated or deleted is announced
	// on the channel loginChannel, with its id_hash, when its transaction
	// commits. Inserts need no notice: a session not yet written is not
	// kept anywhere.
	{version: 12, description: "notify login session changes on PostgreSQL", stmts: func(d *dialect) []string {
		if d.name != "postgres" {
			return nil
		}
		return []string{
			`CREATE FUNCTION caddy_oidc_login_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + loginChannel + `', OLD.id_hash);
	RETURN NULL;
END
$$`,
			`CREATE TRIGGER login_session_changed AFTER UPDATE OR DELETE ON login_session
	FOR EACH ROW EXECUTE FUNCTION caddy_oidc_login_changed()`,
		}
	}},
	// Instances on PostgreSQL keep the access tokens their code exchanges
	// issued until their first use (accessrows.go) and must hear of every
	// deletion of one, by whichever instance or tool: such a row is
	// written with announce set, and its deletion (or an update, which
	// nothing does) is announced on loginChannel, where the login
	// sessions' listener hears it, with accessPrefix and its signature.
	// Other rows (a refresh's access token, client credentials') are
	// deleted without a notice: no instance keeps them.
	{version: 13, description: "notify deletions of access tokens kept, on PostgreSQL", stmts: func(d *dialect) []string {
		if d.name != "postgres" {
			return nil
		}
		return []string{
			`ALTER TABLE oauth2_access ADD COLUMN announce BOOLEAN NOT NULL DEFAULT FALSE`,
			`CREATE FUNCTION caddy_oidc_access_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + loginChannel + `', '` + accessPrefix + `' || OLD.signature);
	RETURN NULL;
END
$$`,
			`CREATE TRIGGER oauth2_access_deleted AFTER UPDATE OR DELETE ON oauth2_access
	FOR EACH ROW WHEN (OLD.announce) EXECUTE FUNCTION caddy_oidc_access_deleted()`,
		}
	}},
}

// requestTable is the DDL of a table holding a persisted fosite requester,
// keyed by signature, with the extra columns given.
func requestTable(name, extra string) string {
	return `CREATE TABLE ` + name + ` (
	signature {key} NOT NULL PRIMARY KEY,
	request_id {key} NOT NULL,
	requested_at BIGINT NOT NULL,
	client_id {text} NOT NULL,
	scopes {text} NOT NULL,
	granted_scopes {text} NOT NULL,
	audience {text} NOT NULL,
	granted_audience {text} NOT NULL,
	form {text} NOT NULL,
	session {text} NOT NULL,
	` + extra + `
	expires_at BIGINT
){table}`
}

// latestVersion is the newest schema version this build knows.
func latestVersion() int64 { return migrations[len(migrations)-1].version }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

package store

// The stored form of fosite's requesters: the SQL of the request tables, how
// a requester is encoded into a row (secrets removed from the form, lists and
// sessions as JSON) and read back (hydrate), and the create/get/delete steps
// that fosite.go's storage methods are built from.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/caddy-oidc/caddy-oidc/internal/bufpool"
	"github.com/caddy-oidc/caddy-oidc/internal/sessionjson"
)

// --- SQL ---

// requestColumns are the columns of a persisted fosite requester, in the
// order of storedRequest.dest and requestArgs.
const requestColumns = "request_id, requested_at, client_id, scopes, granted_scopes, audience, granted_audience, form, session"

// insertRequest is the INSERT of a requester into table: signature, the
// request columns, expires_at, then extra columns.
func insertRequest(table string, extra ...string) string {
	cols := "signature, " + requestColumns + ", expires_at"
	n := 11 + len(extra)
	if len(extra) > 0 {
		cols += ", " + strings.Join(extra, ", ")
	}
	return "INSERT INTO " + table + " (" + cols + ") VALUES (" + strings.Repeat("?, ", n-1) + "?)"
}

// selectRequest is the SELECT of a requester by signature from table, with
// extra columns after the request columns.
func selectRequest(table string, extra ...string) string {
	cols := requestColumns
	if len(extra) > 0 {
		cols += ", " + strings.Join(extra, ", ")
	}
	return "SELECT " + cols + " FROM " + table + " WHERE signature = ?"
}

// deleteRequest is the DELETE of a requester by signature.
func deleteRequest(table string) string {
	return "DELETE FROM " + table + " WHERE signature = ?"
}

var (
	sqlInsertCode       = insertRequest("oauth2_code")
	sqlInsertCodeBundle = insertRequest("oauth2_code", "pkce_form", "oidc_key", "oidc_form")
	sqlSelectCode       = selectRequest("oauth2_code", "active", "pkce_form", "oidc_key", "oidc_form")
	// The bundled records outside a code exchange's context (bundle.go).
	sqlSelectCodePKCE = selectRequest("oauth2_code", "pkce_form") + " AND active AND pkce_form IS NOT NULL"
	sqlSelectCodeOIDC = `SELECT ` + requestColumns + `, oidc_form FROM oauth2_code WHERE request_id = ? AND oidc_key = ?`
	sqlClearCodePKCE  = `UPDATE oauth2_code SET pkce_form = NULL WHERE signature = ? AND pkce_form IS NOT NULL`
	// A failed exchange burns the code's bundled PKCE request and retires
	// the code with it (DeletePKCERequestSession): an instance that keeps
	// the code as written (recentrows.go) still finds the PKCE request
	// there, and only the code's conditional invalidation, on active,
	// stops an exchange of it. Unconditional: an older version may have
	// cleared the request already and left the code active.
	sqlBurnCodePKCE   = `UPDATE oauth2_code SET pkce_form = NULL, active = FALSE WHERE signature = ?`
	sqlClearCodeOIDC  = `UPDATE oauth2_code SET oidc_key = NULL, oidc_form = NULL WHERE oidc_key = ?`
	sqlInvalidateCode = `UPDATE oauth2_code SET active = FALSE WHERE signature = ? AND active`
	sqlCodeActive     = `SELECT active FROM oauth2_code WHERE signature = ?`

	sqlInsertAccess          = insertRequest("oauth2_access")
	sqlInsertAccessAnnounced = insertRequest("oauth2_access", "announce") // accessrows.go
	sqlSelectAccess          = selectRequest("oauth2_access")
	sqlDeleteAccess          = deleteRequest("oauth2_access")
	sqlDeleteAccessOfRequest = `DELETE FROM oauth2_access WHERE request_id = ?`

	sqlInsertRefresh              = insertRequest("oauth2_refresh", "access_signature")
	sqlSelectRefresh              = selectRequest("oauth2_refresh", "active")
	sqlDeleteRefresh              = deleteRequest("oauth2_refresh")
	sqlDeactivateRefresh          = `UPDATE oauth2_refresh SET active = FALSE WHERE signature = ? AND active`
	sqlDeactivateRefreshOfRequest = `UPDATE oauth2_refresh SET active = FALSE WHERE request_id = ? AND active`
	sqlSelectRotatedRefresh       = `SELECT request_id, client_id FROM oauth2_refresh_rotated WHERE signature = ?`
	sqlDeleteRotatedRefresh       = `DELETE FROM oauth2_refresh_rotated WHERE signature = ?`
	// sqlRetireRefreshReturning is a dialect's retireRefresh where a DELETE
	// can feed an INSERT (PostgreSQL).
	sqlRetireRefreshReturning = `WITH retired AS (DELETE FROM oauth2_refresh WHERE signature = ? AND active ` +
		`RETURNING signature, request_id, client_id, expires_at) ` +
		`INSERT INTO oauth2_refresh_rotated (signature, request_id, client_id, expires_at) ` +
		`SELECT signature, request_id, client_id, expires_at FROM retired`

	sqlInsertPKCE = insertRequest("oauth2_pkce")
	sqlSelectPKCE = selectRequest("oauth2_pkce")
	sqlDeletePKCE = deleteRequest("oauth2_pkce")

	sqlInsertOIDC = insertRequest("oauth2_oidc")
	sqlSelectOIDC = selectRequest("oauth2_oidc")
	sqlDeleteOIDC = deleteRequest("oauth2_oidc")

	sqlInsertPAR = insertRequest("oauth2_par", "response_types", "redirect_uri", "state", "response_mode", "default_response_mode")
	sqlSelectPAR = selectRequest("oauth2_par", "response_types", "redirect_uri", "state", "response_mode", "default_response_mode") + " AND expires_at > ?"
	sqlDeletePAR = deleteRequest("oauth2_par")

	sqlJTIKnown         = `SELECT 1 FROM oauth2_jti WHERE signature = ? AND expires_at > ?`
	sqlDeleteExpiredJTI = `DELETE FROM oauth2_jti WHERE expires_at <= ?`
	sqlInsertJTI        = `INSERT INTO oauth2_jti (signature, expires_at) VALUES (?, ?) ON CONFLICT (signature) DO NOTHING`
)

// --- encoding of requesters ---

// sensitiveFormKeys are request parameters never written to the database:
// credentials of the client or user, and the codes and tokens themselves.
// fosite needs none of them from a stored request (it reads the live token
// request for code, code_verifier and refresh_token).
var sensitiveFormKeys = []string{
	"password",
	"client_secret",
	"client_assertion",
	"code",
	"code_verifier",
	"refresh_token",
	"assertion",
	"subject_token",
	"actor_token",
	"device_code",
}

// encodeForm URL-encodes form without the sensitive keys.
func encodeForm(form url.Values) string {
	if len(form) == 0 {
		return ""
	}
	drop := false
	for _, k := range sensitiveFormKeys {
		if _, ok := form[k]; ok {
			drop = true
			break
		}
	}
	if drop {
		kept := make(url.Values, len(form))
		for k, v := range form {
			kept[k] = v
		}
		for _, k := range sensitiveFormKeys {
			delete(kept, k)
		}
		form = kept
	}
	return form.Encode()
}

// encodeList encodes a scope, audience or response type list. The usual
// case, non-empty elements without spaces, is stored space-separated (as in
// OAuth's scope parameter: readable, and cheap to decode); anything else is a
// JSON array, which starts with '[' (so does a first element starting with
// '[', to keep the two forms apart).
func encodeList(a []string) (string, error) {
	plain := true
	for _, e := range a {
		if e == "" || strings.ContainsAny(e, " ") {
			plain = false
			break
		}
	}
	if plain && (len(a) == 0 || a[0][0] != '[') {
		return strings.Join(a, " "), nil
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// decodeList decodes what encodeList wrote; the result is never nil.
func decodeList(s string) (fosite.Arguments, error) {
	if s == "" {
		return fosite.Arguments{}, nil
	}
	if s[0] != '[' {
		return fosite.Arguments(strings.Split(s, " ")), nil
	}
	a := fosite.Arguments{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, err
	}
	return a, nil
}

// encodeSession returns the JSON of a requester's session: the provider's
// *openid.DefaultSession through sessionjson (the fields that hold their
// zero value left out; four to five times faster than encoding/json, whose
// encoding and decoding of sessions were 10-15% of a code flow's CPU), any
// other session through encoding/json.
func encodeSession(sess fosite.Session) (string, error) {
	s, ok := sess.(*openid.DefaultSession)
	if !ok {
		b, err := json.Marshal(sess)
		return string(b), err
	}
	// The row needs the JSON as a string: encoded in a pooled buffer and
	// copied once, it costs one allocation of its own size (Marshal's
	// buffer and then the string were about 1.3 KB a row).
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	var err error
	if *buf, err = sessionjson.AppendMarshal(*buf, s); err != nil {
		return "", err
	}
	return string(*buf), nil
}

// decodeSession decodes what encodeSession wrote, or what encoding/json wrote
// before it (sessionjson reads both), into session.
func decodeSession(data []byte, session fosite.Session) error {
	if s, ok := session.(*openid.DefaultSession); ok {
		return sessionjson.Unmarshal(data, s)
	}
	return json.Unmarshal(data, session)
}

// requestNanos encodes a request time (NOT NULL column; the zero time is 0).
func requestNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// requestArgs returns the INSERT arguments for key and r: signature, the
// request columns, and expires_at taken from the session's expiry for tt.
func requestArgs(key string, r fosite.Requester, tt fosite.TokenType, extra ...any) ([]any, error) {
	var (
		clientID string
		expires  time.Time
	)
	if c := r.GetClient(); c != nil {
		clientID = c.GetID()
	}
	sess := r.GetSession()
	if sess != nil {
		expires = sess.GetExpiresAt(tt)
	}
	sessJSON, err := encodeSession(sess)
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	lists := [4]string{}
	for i, l := range [4][]string{r.GetRequestedScopes(), r.GetGrantedScopes(), r.GetRequestedAudience(), r.GetGrantedAudience()} {
		if lists[i], err = encodeList(l); err != nil {
			return nil, fmt.Errorf("encode scopes and audience: %w", err)
		}
	}
	args := make([]any, 0, requestArgsColumns+len(extra))
	args = append(args,
		key,
		r.GetID(),
		requestNanos(r.GetRequestedAt()),
		clientID,
		lists[0], lists[1], lists[2], lists[3],
		encodeForm(r.GetRequestForm()),
		sessJSON,
		nanos(expires),
	)
	return append(args, extra...), nil
}

// storedRequest is a requester row as read back.
type storedRequest struct {
	requestID       string
	requestedAt     int64
	clientID        string
	scopes          string
	grantedScopes   string
	audience        string
	grantedAudience string
	form            string
	session         []byte
}

// dest returns the Scan destinations for requestColumns, then extra.
func (s *storedRequest) dest(extra ...any) []any {
	return append([]any{
		&s.requestID, &s.requestedAt, &s.clientID,
		&s.scopes, &s.grantedScopes, &s.audience, &s.grantedAudience,
		&s.form, &s.session,
	}, extra...)
}

// client resolves a client through the configuration, mapping a missing one
// to fosite.ErrNotFound.
func (f *Fosite) client(ctx context.Context, id string) (fosite.Client, error) {
	c, err := f.clients(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("client %q: %w", id, err)
	}
	if c == nil {
		return nil, fmt.Errorf("client %q: %w", id, fosite.ErrNotFound)
	}
	return c, nil
}

// hydrate rebuilds the request: the client from the configuration, and the
// stored session decoded into session (or a new one when session is nil).
func (f *Fosite) hydrate(ctx context.Context, s *storedRequest, session fosite.Session) (*fosite.Request, error) {
	client, err := f.client(ctx, s.clientID)
	if err != nil {
		return nil, err
	}
	if session == nil {
		session = f.NewSession()
	}
	if err := decodeSession(s.session, session); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	form, err := url.ParseQuery(s.form)
	if err != nil {
		return nil, fmt.Errorf("decode form: %w", err)
	}
	r := &fosite.Request{
		ID:      s.requestID,
		Client:  client,
		Form:    form,
		Session: session,
	}
	if s.requestedAt != 0 {
		r.RequestedAt = time.Unix(0, s.requestedAt).UTC()
	}
	for _, l := range []struct {
		src string
		dst *fosite.Arguments
	}{
		{s.scopes, &r.RequestedScope},
		{s.grantedScopes, &r.GrantedScope},
		{s.audience, &r.RequestedAudience},
		{s.grantedAudience, &r.GrantedAudience},
	} {
		if *l.dst, err = decodeList(l.src); err != nil {
			return nil, fmt.Errorf("decode scopes and audience: %w", err)
		}
	}
	return r, nil
}

// notFound maps sql.ErrNoRows to fosite.ErrNotFound, wrapping with what.
func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", what, fosite.ErrNotFound)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// insert runs an INSERT of requestArgs.
func (f *Fosite) insert(ctx context.Context, what, query string, args []any) error {
	if err := f.db.execQueued(ctx, nil, query, args...); err != nil {
		return fmt.Errorf("store: create %s: %w", what, err)
	}
	return nil
}

// hydrateRequester is hydrate for the interface methods.
func (f *Fosite) hydrateRequester(ctx context.Context, what string, s *storedRequest, session fosite.Session) (fosite.Requester, error) {
	r, err := f.hydrate(ctx, s, session)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return r, nil
}

// get reads and hydrates a requester; extra receives the extra columns.
func (f *Fosite) get(ctx context.Context, what, query string, args []any, session fosite.Session, extra ...any) (*fosite.Request, error) {
	var s storedRequest
	if err := f.db.queryRow(ctx, query, args...).Scan(s.dest(extra...)...); err != nil {
		return nil, notFound(what, err)
	}
	r, err := f.hydrate(ctx, &s, session)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return r, nil
}

// getRequester is get for the interface methods: a miss is a nil interface,
// not a nil *fosite.Request inside one.
func (f *Fosite) getRequester(ctx context.Context, what, query string, args []any, session fosite.Session) (fosite.Requester, error) {
	r, err := f.get(ctx, what, query, args, session)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// del deletes by key; no row is fosite.ErrNotFound.
func (f *Fosite) del(ctx context.Context, what, query, key string) error {
	n, err := f.db.exec(ctx, query, key)
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("store: delete %s: %w", what, fosite.ErrNotFound)
	}
	return nil
}

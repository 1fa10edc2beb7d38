// Package telemetry is how the engine reports what happens, for metrics and
// for the audit log, without knowing where the reports go: two small
// interfaces with no-op defaults. Package caddyoidc implements them with
// Prometheus collectors in Caddy's registry and a named zap logger.
//
// Reports never carry a password, secret, code or token. Metric labels are
// bounded: methods, results and grant types come from fixed sets here;
// client IDs are those of the configuration (the engine reports an unknown
// client as the empty string).
package telemetry

import (
	"context"
	"time"
)

// Results of a sign-in or second factor.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
	ResultBanned  = "banned" // refused by regulation, whatever the credentials
)

// Sign-in and second-factor methods.
const (
	MethodPassword      = "password"       // the login form
	MethodPasswordGrant = "password_grant" // the token endpoint's password grant
	MethodPasskey       = "passkey"        // a passwordless passkey
	MethodTOTP          = "totp"           // an authenticator app
	MethodWebAuthn      = "webauthn"       // a security key or passkey as second factor
	MethodRecoveryCode  = "recovery_code"  // a one-time recovery code instead of a second factor
)

// DigestUserPassword is the kind of digest verification of a user's
// password (the login form and the password grant).
const DigestUserPassword = "user_password"

// Metrics counts what the engine does. Implementations must be safe for
// concurrent use and cheap: they are called on the request path.
type Metrics interface {
	// SignIn counts a first-factor sign-in attempt by method and result.
	SignIn(method, result string)
	// SecondFactor counts a second-factor attempt by method and result.
	SecondFactor(method, result string)
	// Ban counts an attempt refused because the user or address is
	// banned by regulation.
	Ban()
	// Authorization counts an authorization request by its outcome: "ok"
	// when a code or token went back to the client, else the OAuth error
	// code (access_denied, login_required, invalid_request, ...).
	Authorization(clientID, outcome string)
	// TokenIssued counts tokens issued at the token endpoint by grant type.
	TokenIssued(clientID, grantType string)
	// TokenError counts token endpoint errors by OAuth error code.
	TokenError(clientID, code string)
	// DigestVerified observes how long verifying a digest of kind took.
	DigestVerified(kind string, d time.Duration)
}

// Audit actions.
const (
	ActionSignIn          = "sign_in"
	ActionSecondFactor    = "second_factor"
	ActionConsentGiven    = "consent_given"
	ActionConsentDenied   = "consent_denied"
	ActionConsentRevoked  = "consent_revoked"
	ActionTokenIssued     = "token_issued"
	ActionTokenRefreshed  = "token_refreshed"
	ActionTokenRevoked    = "token_revoked"
	ActionSignOut         = "sign_out"
	ActionBan             = "ban"
	ActionSessionsRevoked = "sessions_revoked"
	ActionGrantsRevoked   = "grants_revoked"
	ActionUsersReloaded   = "users_reloaded"
	ActionKeysRotated     = "keys_rotated"
	ActionPasskeysRemoved = "passkeys_removed" // by an administrator
)

// Event is one audit event. Empty fields are left out of the log. It has
// no field for a credential, by design.
type Event struct {
	Action    string   // one of the Action constants
	Result    string   // success, failure, banned; empty when it has none
	User      string   // the username, as typed for a failed sign-in
	Client    string   // the client ID
	IP        string   // the client's address
	Method    string   // sign-in or second-factor method
	GrantType string   // token events
	Scopes    []string // consent and token events
	Reason    string   // why, for failures and admin actions
	Actor     string   // who did it: "user", "admin"
	Count     int64    // how many things an admin action touched
}

// Audit records security-relevant events. Implementations must be safe for
// concurrent use.
type Audit interface {
	Record(ctx context.Context, e Event)
}

// Sink bundles the two; nil members are replaced by no-ops (see Or).
type Sink struct {
	Metrics Metrics
	Audit   Audit
}

// Or returns s with nil members replaced by no-ops.
func (s Sink) Or() Sink {
	if s.Metrics == nil {
		s.Metrics = NopMetrics{}
	}
	if s.Audit == nil {
		s.Audit = NopAudit{}
	}
	return s
}

// NopMetrics discards every count.
type NopMetrics struct{}

// SignIn does nothing.
func (NopMetrics) SignIn(string, string) {}

// SecondFactor does nothing.
func (NopMetrics) SecondFactor(string, string) {}

// Ban does nothing.
func (NopMetrics) Ban() {}

// Authorization does nothing.
func (NopMetrics) Authorization(string, string) {}

// TokenIssued does nothing.
func (NopMetrics) TokenIssued(string, string) {}

// TokenError does nothing.
func (NopMetrics) TokenError(string, string) {}

// DigestVerified does nothing.
func (NopMetrics) DigestVerified(string, time.Duration) {}

// NopAudit discards every event.
type NopAudit struct{}

// Record does nothing.
func (NopAudit) Record(context.Context, Event) {}

// OutcomeOK is the outcome of an authorization request that sent a code or
// tokens back to the client.
const OutcomeOK = "ok"

// errorCodes are the OAuth 2.0 and OpenID Connect error codes reported as
// they are; any other is reported as "other".
var errorCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "access_denied": true, "unsupported_response_type": true,
	"server_error": true, "temporarily_unavailable": true, "interaction_required": true, "login_required": true,
	"account_selection_required": true, "consent_required": true, "invalid_request_uri": true,
	"invalid_request_object": true, "request_not_supported": true, "request_uri_not_supported": true,
	"registration_not_supported": true, "invalid_token": true, "unsupported_token_type": true,
	"request_unauthorized": true, "request_forbidden": true, "invalid_state": true, "misconfiguration": true,
	"insufficient_entropy": true, "not_found": true, "token_signature_mismatch": true, "token_expired": true,
	"token_inactive": true, "token_claim": true, "scope_not_granted": true, "jti_known": true,
	"authorization_pending": true, "slow_down": true, "expired_token": true,
}

// ErrorCode bounds an OAuth error code for a metric label.
func ErrorCode(code string) string {
	if errorCodes[code] {
		return code
	}
	return "other"
}

// grantTypes are the grant types reported as they are.
var grantTypes = map[string]bool{
	"authorization_code": true, "refresh_token": true, "client_credentials": true, "password": true, "implicit": true,
	"urn:ietf:params:oauth:grant-type:device_code": true,
}

// GrantType bounds a grant type for a metric label.
func GrantType(gt string) string {
	if grantTypes[gt] {
		return gt
	}
	return "other"
}

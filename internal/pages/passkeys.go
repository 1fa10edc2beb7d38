package pages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/webauthn"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/i18n"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// The WebAuthn (passkey) JSON endpoints, below /api/webauthn. Every POST
// carries the page's CSRF token in the X-CSRF-Token header. The state of a
// ceremony stays in the database; the browser holds only its random ID, in
// an HttpOnly SameSite=Strict cookie, and each ceremony finishes once.
const (
	webauthnCookie = "caddy_oidc_webauthn"
	// passkeyReauthWindow: adding or removing a passkey needs a sign-in this
	// recent, so a session left open is not enough.
	passkeyReauthWindow = stepUpWindow // stepup.go
	passkeyNameMax      = 64
	passkeyDefaultName  = "Passkey"
	webauthnMaxBody     = 64 << 10
)

// relyingParties caches the WebAuthn relying party per issuer and display
// name. It depends on those only, and a Provider is rebuilt on every
// configuration reload.
var relyingParties sync.Map // issuer + "\x00" + display name -> relyingParty

type relyingParty struct {
	rp  *webauthn.WebAuthn
	err error
}

// newPasskeys returns the passkey ceremonies of p. It is cheap (the relying
// party is built once per issuer) and fails with authn.ErrPasskeysDisabled
// when the configuration turned passkeys off, authn.ErrPasskeyUnavailable
// when the issuer's host is an IP address.
func newPasskeys(p *Pages) (*authn.Passkeys, error) {
	if p.passkeyCfg.Disable {
		return nil, authn.ErrPasskeysDisabled
	}
	key := p.issuer + "\x00" + p.passkeyCfg.DisplayName
	v, ok := relyingParties.Load(key)
	if !ok {
		rp, err := authn.NewRelyingParty(p.issuer, p.passkeyCfg.DisplayName)
		v, _ = relyingParties.LoadOrStore(key, relyingParty{rp, err})
	}
	e, ok := v.(relyingParty)
	if !ok {
		return nil, fmt.Errorf("passkeys: the relying party cache holds a %T", v)
	}
	if e.err != nil {
		return nil, e.err
	}
	return authn.NewPasskeys(e.rp, p.db), nil
}

// passkeyHooks returns what the pages need to know about passkeys (the
// AuthnConfig.PasskeysEnrolled and ListPasskeys functions), or nils when
// passkeys are unavailable for this issuer (an IP address as host).
func (p *Pages) passkeyHooks() (enrolled func(context.Context, string) (bool, error), list func(context.Context, string) ([]ui.Passkey, error)) {
	keys, err := newPasskeys(p)
	if err != nil {
		return nil, nil
	}
	enrolled = keys.Has
	list = func(ctx context.Context, username string) ([]ui.Passkey, error) {
		all, err := keys.List(ctx, username)
		if err != nil {
			return nil, err
		}
		out := make([]ui.Passkey, 0, len(all))
		for _, k := range all {
			// The settings page puts the times into words (settingsExtras).
			item := ui.Passkey{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339)}
			item.Created = item.CreatedAt
			if !k.LastUsedAt.IsZero() {
				item.LastUsedAt = k.LastUsedAt.UTC().Format(time.RFC3339)
				item.LastUsed = item.LastUsedAt
			}
			out = append(out, item)
		}
		return out, nil
	}
	return enrolled, list
}

// Endpoint is one WebAuthn endpoint, for the provider's route table: its
// path below the issuer, its method, its handler, and its answer to other
// methods (405, the Allow header already set).
type Endpoint struct {
	Path   string
	Method string
	Serve  http.HandlerFunc
	Refuse http.HandlerFunc
}

// PasskeyEndpoints are the WebAuthn (passkey) JSON endpoints below
// /api/webauthn.
func (p *Pages) PasskeyEndpoints() []Endpoint {
	post, get := http.MethodPost, http.MethodGet
	rs := []Endpoint{
		{"/login/options", post, p.passkeyCeremony(p.passkeyLoginOptions), nil},
		{"/login/finish", post, p.passkeyCeremony(p.passkeyLoginFinish), nil},
		{"/2fa/options", post, p.passkeyCeremony(p.passkey2FAOptions), nil},
		{"/2fa/finish", post, p.passkeyCeremony(p.passkey2FAFinish), nil},
		{"/register/options", post, p.passkeyCeremony(p.passkeyRegisterOptions), nil},
		{"/register/finish", post, p.passkeyCeremony(p.passkeyRegisterFinish), nil},
		{"/credentials", get, p.passkeyCeremony(p.passkeyList), nil},
		{"/credentials/delete", post, p.passkeyCeremony(p.passkeyDelete), nil},
	}
	for i := range rs {
		rs[i].Path = PathWebAuthn + rs[i].Path
		use := rs[i].Method
		rs[i].Refuse = func(w http.ResponseWriter, _ *http.Request) {
			webauthnHeaders(w)
			webauthnError(w, http.StatusMethodNotAllowed, "invalid_request", "Use "+use+".")
		}
	}
	return rs
}

// webauthnHeaders are set on every answer of the WebAuthn endpoints.
func webauthnHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// ServePasskeyNotFound answers an unknown path below /api/webauthn.
func (p *Pages) ServePasskeyNotFound(w http.ResponseWriter, _ *http.Request) {
	webauthnHeaders(w)
	webauthnError(w, http.StatusNotFound, "not_found", "No such WebAuthn endpoint.")
}

// passkeyCeremony wraps a WebAuthn endpoint: it needs passkeys for this
// issuer and, for a POST, the page's CSRF token.
func (p *Pages) passkeyCeremony(handler func(http.ResponseWriter, *http.Request, *authn.Passkeys)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		webauthnHeaders(w)
		keys, err := newPasskeys(p)
		if err != nil {
			why := "passkey_api.ip_address"
			if errors.Is(err, authn.ErrPasskeysDisabled) {
				why = "passkey_api.disabled"
			}
			webauthnError(w, http.StatusNotFound, "passkeys_unavailable", p.Localizer(r).T(why))
			return
		}
		if r.Method == http.MethodPost && !p.CheckCSRF(r, r.Header.Get("X-CSRF-Token")) {
			webauthnError(w, http.StatusForbidden, "invalid_csrf_token", p.Localizer(r).T("passkey_api.csrf"))
			return
		}
		handler(w, r, keys)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// webauthnError writes {"error","error_description"}.
func webauthnError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// webauthnFailure is RenderFailure for the passkey scripts' JSON; desc is
// a message ID (package i18n).
func webauthnFailure(w http.ResponseWriter, loc *i18n.Localizer, err error, desc string) {
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", retryAfter)
		webauthnError(w, http.StatusServiceUnavailable, "temporarily_unavailable", loc.T("error.unavailable_desc"))
		return
	}
	webauthnError(w, http.StatusInternalServerError, "server_error", loc.T(desc))
}

var webauthnOK = map[string]any{"ok": true}

// ceremonyOptions ends every "options" endpoint: on success it hands the
// browser the ceremony's ID (setCeremony) and the options; on failure it
// answers and logs as passkeyFailure does.
func (p *Pages) ceremonyOptions(w http.ResponseWriter, r *http.Request, op, username string, opts any, id string, err error) {
	if err != nil {
		p.passkeyFailure(w, r, op, username, err)
		return
	}
	p.setCeremony(w, id)
	writeJSON(w, http.StatusOK, opts)
}

// setCeremony hands the browser the ID of a ceremony in progress.
func (p *Pages) setCeremony(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: webauthnCookie, Value: id, Path: p.cookiePath(),
		MaxAge: int(authn.PasskeyCeremonyLifetime / time.Second),
		Secure: p.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// takeCeremony reads the ceremony ID and clears the cookie: a ceremony is
// answered once, whatever the outcome.
func (p *Pages) takeCeremony(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(webauthnCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: webauthnCookie, Value: "", Path: p.cookiePath(), MaxAge: -1,
		Secure: p.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return c.Value
}

// readWebAuthnBody reads a bounded JSON body.
func readWebAuthnBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webauthnMaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			webauthnError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request is too large.")
		} else {
			webauthnError(w, http.StatusBadRequest, "invalid_request", "The request could not be read.")
		}
		return nil, false
	}
	return body, true
}

// passkeySession returns the signed-in user's login session, or writes 401.
func (p *Pages) passkeySession(w http.ResponseWriter, r *http.Request) (*store.LoginSession, bool) {
	login, err := p.CurrentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		webauthnFailure(w, p.Localizer(r), err, "failure.read_session")
		return nil, false
	}
	if login == nil {
		webauthnError(w, http.StatusUnauthorized, "login_required", p.Localizer(r).T("logout.not_signed_in"))
		return nil, false
	}
	if u, err := p.users.Lookup(login.Username); err != nil || u.Disabled {
		webauthnError(w, http.StatusUnauthorized, "login_required", p.Localizer(r).T("login.error_again"))
		return nil, false
	}
	return login, true
}

// passkeyStepUp checks that a session may change the user's passkeys: a
// sign-in within passkeyReauthWindow and, when the user has a second factor
// (a passkey or an authenticator app), a session that used two factors, so
// a stolen password alone cannot add a passkey and then sign in with it.
func (p *Pages) passkeyStepUp(w http.ResponseWriter, r *http.Request, login *store.LoginSession) bool {
	if p.now().Sub(login.AuthTime) > passkeyReauthWindow {
		webauthnError(w, http.StatusUnauthorized, "login_required", p.Localizer(r).T("passkey_api.reauth"))
		return false
	}
	if authn.IsTwoFactor(login.AMR) {
		return true
	}
	has, err := p.db.WebAuthnUserHasSecondFactor(r.Context(), login.Username)
	if err != nil {
		p.log.Error("checking second factors", zap.String("username", login.Username), zap.Error(err))
		webauthnFailure(w, p.Localizer(r), err, "failure.check_factors")
		return false
	}
	if has {
		webauthnError(w, http.StatusUnauthorized, "login_required", p.Localizer(r).T("passkey_api.step_up"))
		return false
	}
	return true
}

// passkeyFailure answers a failed ceremony and logs it (never the response).
func (p *Pages) passkeyFailure(w http.ResponseWriter, r *http.Request, op, username string, err error) {
	fields := []zap.Field{zap.String("operation", op), zap.String("remote_ip", p.ClientIP(r)), zap.Error(err)}
	p.reportPasskeyFailure(r, op, username, err)
	if username != "" {
		fields = append(fields, zap.String("username", username))
	}
	switch {
	case errors.Is(err, authn.ErrPasskeyCeremony):
		p.log.Info("passkey ceremony rejected", fields...)
		webauthnError(w, http.StatusBadRequest, "invalid_request", p.Localizer(r).T("passkey_api.expired"))
	case errors.Is(err, authn.ErrPasskeyMalformed):
		p.log.Info("passkey ceremony rejected", fields...)
		webauthnError(w, http.StatusBadRequest, "invalid_request", p.Localizer(r).T("passkey_api.unreadable"))
	case errors.Is(err, authn.ErrPasskeyExists):
		p.log.Info("passkey ceremony rejected", fields...)
		webauthnError(w, http.StatusConflict, "invalid_request", p.Localizer(r).T("passkey_api.registered"))
	case errors.Is(err, authn.ErrPasskeyCloned):
		p.log.Warn("passkey refused: possibly cloned authenticator", fields...)
		webauthnError(w, http.StatusUnauthorized, "access_denied", p.Localizer(r).T("passkey_api.rejected"))
	case errors.Is(err, authn.ErrPasskeyRefused):
		p.log.Info("passkey refused", fields...)
		webauthnError(w, http.StatusUnauthorized, "access_denied", p.Localizer(r).T("passkey_api.rejected"))
	case errors.Is(err, authn.ErrNoPasskeys):
		webauthnError(w, http.StatusBadRequest, "invalid_request", p.Localizer(r).T("passkey_api.none"))
	default:
		p.log.Error("passkey ceremony failed", fields...)
		webauthnFailure(w, p.Localizer(r), err, "failure.passkey_step")
	}
}

// passkeyLoginOptions begins a passwordless sign-in.
func (p *Pages) passkeyLoginOptions(w http.ResponseWriter, r *http.Request, keys *authn.Passkeys) {
	opts, id, err := keys.BeginLogin(r.Context())
	p.ceremonyOptions(w, r, "login options", "", opts, id, err)
}

// passkeyLoginFinish signs the user in with a discoverable credential
// (user verification required): amr hwk, user and mfa, since possession of
// the authenticator plus its PIN or biometric check are two factors, as
// acr "2" says (authn.IsTwoFactor).
func (p *Pages) passkeyLoginFinish(w http.ResponseWriter, r *http.Request, keys *authn.Passkeys) {
	id := p.takeCeremony(w, r)
	body, ok := readWebAuthnBody(w, r)
	if !ok {
		return
	}
	res, err := keys.FinishLogin(r.Context(), id, body)
	if err != nil {
		p.passkeyFailure(w, r, "login", "", err)
		return
	}
	if u, err := p.users.Lookup(res.Username); err != nil || u.Disabled {
		p.log.Info("passkey login refused: unknown or disabled user", zap.String("username", res.Username))
		p.reportSignIn(r, telemetry.MethodPasskey, telemetry.ResultFailure, res.Username, nil)
		webauthnError(w, http.StatusUnauthorized, "access_denied", p.Localizer(r).T("passkey_api.rejected"))
		return
	}
	// The login page's "Keep me signed in" travels as ?remember_me=1.
	rememberMe := r.URL.Query().Get("remember_me") == "1" && p.rememberMeTTL > 0
	if _, err := p.startLogin(w, r, res.Username, []string{"hwk", "user", "mfa"}, rememberMe); err != nil {
		p.log.Error("creating login session", zap.Error(err))
		webauthnFailure(w, p.Localizer(r), err, "failure.save_session")
		return
	}
	p.log.Info("login succeeded", zap.String("username", res.Username), zap.String("method", "passkey"))
	p.reportSignIn(r, telemetry.MethodPasskey, telemetry.ResultSuccess, res.Username, nil)
	writeJSON(w, http.StatusOK, webauthnOK)
}

// passkey2FAOptions begins a second-factor assertion for the signed-in user.
func (p *Pages) passkey2FAOptions(w http.ResponseWriter, r *http.Request, keys *authn.Passkeys) {
	login, ok := p.passkeySession(w, r)
	if !ok {
		return
	}
	opts, id, err := keys.BeginSecondFactor(r.Context(), login.Username)
	p.ceremonyOptions(w, r, "2fa options", login.Username, opts, id, err)
}

// passkey2FAFinish adds "hwk" to the signed-in user's session.
func (p *Pages) passkey2FAFinish(w http.ResponseWriter, r *http.Request, keys *authn.Passkeys) {
	id := p.takeCeremony(w, r)
	login, ok := p.passkeySession(w, r)
	if !ok {
		return
	}
	body, ok := readWebAuthnBody(w, r)
	if !ok {
		return
	}
	if _, err := keys.FinishSecondFactor(r.Context(), login.Username, id, body); err != nil {
		p.passkeyFailure(w, r, "2fa", login.Username, err)
		return
	}
	s := withFactor(*login, "hwk", p.now()) // as for the other second factors
	if err := p.db.UpdateLoginSession(r.Context(), s); err != nil {
		p.log.Error("updating login session", zap.Error(err))
		webauthnFailure(w, p.Localizer(r), err, "failure.save_session")
		return
	}
	p.log.Info("second factor succeeded", zap.String("username", s.Username), zap.String("method", "hwk"))
	p.reportSecondFactor(r, telemetry.MethodWebAuthn, telemetry.ResultSuccess, s.Username, nil)
	writeJSON(w, http.StatusOK, webauthnOK)
}

// passkeyRegisterOptions begins adding a passkey to the signed-in user.
func (p *Pages) passkeyRegisterOptions(w http.ResponseWriter, r *http.Request, keys *authn.Passkeys) {
	login, ok := p.passkeySession(w, r)
	if !ok || !p.passkeyStepUp(w, r, login) {
		return
	}
	display := login.Username
	if u, err := p.users.Lookup(login.Username); err == nil {
		display = u.DisplayName()
	}
	opts, id, err := keys.BeginRegistration(r.Context(), login.Username, display)
	p.ceremonyOptions(w, r, "register options", login.Username, opts, id, err)
}

// passkeyRegisterFinish stores the new passkey.
func (p *Pages) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, keys *authn.Passkeys) {
	id := p.takeCeremony(w, r)
	login, ok := p.passkeySession(w, r)
	if !ok || !p.passkeyStepUp(w, r, login) {
		return
	}
	body, ok := readWebAuthnBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Credential) == 0 {
		webauthnError(w, http.StatusBadRequest, "invalid_request", `The body must be {"name": "...", "credential": {...}}.`)
		return
	}
	pk, err := keys.FinishRegistration(r.Context(), login.Username, id, passkeyName(req.Name), req.Credential)
	if err != nil {
		p.passkeyFailure(w, r, "register", login.Username, err)
		return
	}
	p.log.Info("passkey registered", zap.String("username", login.Username), zap.String("credential", pk.ID), zap.Bool("discoverable", pk.Discoverable))
	res := map[string]any{"ok": true, "id": pk.ID}
	if codes := p.codesForNewFactor(r.Context(), login.Username); codes != nil { // recovery.go
		res["recovery_codes"] = codes // shown once by the settings page's script
	}
	writeJSON(w, http.StatusOK, res)
}

// passkeyName cleans a user's label: control characters dropped, spaces
// trimmed, at most passkeyNameMax characters, "Passkey" when empty.
func passkeyName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > passkeyNameMax {
		s = strings.TrimSpace(string([]rune(s)[:passkeyNameMax]))
	}
	if s == "" {
		return passkeyDefaultName
	}
	return s
}

// passkeyInfo is one credential in the GET /credentials answer.
type passkeyInfo struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	Discoverable bool       `json:"discoverable"`
}

// passkeyList lists the signed-in user's passkeys.
func (p *Pages) passkeyList(w http.ResponseWriter, r *http.Request, keys *authn.Passkeys) {
	login, ok := p.passkeySession(w, r)
	if !ok {
		return
	}
	list, err := keys.List(r.Context(), login.Username)
	if err != nil {
		p.passkeyFailure(w, r, "list", login.Username, err)
		return
	}
	out := make([]passkeyInfo, 0, len(list))
	for _, k := range list {
		info := passkeyInfo{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt.UTC(), Discoverable: k.Discoverable}
		if !k.LastUsedAt.IsZero() {
			t := k.LastUsedAt.UTC()
			info.LastUsedAt = &t
		}
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, out)
}

// passkeyDelete removes one of the signed-in user's passkeys.
func (p *Pages) passkeyDelete(w http.ResponseWriter, r *http.Request, keys *authn.Passkeys) {
	login, ok := p.passkeySession(w, r)
	if !ok || !p.passkeyStepUp(w, r, login) {
		return
	}
	body, ok := readWebAuthnBody(w, r)
	if !ok {
		return
	}
	var req struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.ID == "" {
		webauthnError(w, http.StatusBadRequest, "invalid_request", `The body must be {"id": "..."}.`)
		return
	}
	err := keys.Delete(r.Context(), login.Username, req.ID)
	if errors.Is(err, store.ErrNotFound) {
		webauthnError(w, http.StatusNotFound, "not_found", p.Localizer(r).T("passkey_api.no_such"))
		return
	} else if err != nil {
		p.passkeyFailure(w, r, "delete", login.Username, err)
		return
	}
	p.log.Info("passkey removed", zap.String("username", login.Username), zap.String("credential", req.ID))
	writeJSON(w, http.StatusOK, webauthnOK)
}

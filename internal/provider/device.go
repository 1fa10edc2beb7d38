package provider

// The device authorization grant (RFC 8628), for TVs and command-line tools
// that cannot show a browser: the device asks the device authorization
// endpoint for a device code and a short user code, shows the user the code
// and the verification URI, and polls the token endpoint with the device
// code. The user opens the verification URI on another device, types the
// code (or follows verification_uri_complete, which fills it in), and goes
// through the same sign-in, second factor, authorization policy and consent
// as a browser flow. fosite v0.49 has no device grant: the endpoint and the
// page are ours, and the token endpoint's grant is a fosite handler
// (deviceGrantHandler) composed with the others.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/pages"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// DeviceGrants stores device grants (*store.DB does).
type DeviceGrants interface {
	CreateDeviceGrant(ctx context.Context, g store.DeviceGrant) error
	GetDeviceGrant(ctx context.Context, deviceCodeHash string) (*store.DeviceGrant, error)
	GetDeviceGrantByUserCode(ctx context.Context, userCodeHash string) (*store.DeviceGrant, error)
	DecideDeviceGrant(ctx context.Context, userCodeHash, status, username string, authTime time.Time, amr []string, now time.Time) (bool, error)
	PollDeviceGrant(ctx context.Context, deviceCodeHash string, prev, now time.Time, interval time.Duration) (bool, error)
	UseDeviceGrant(ctx context.Context, deviceCodeHash string) (bool, error)
}

// pathDeviceAuthorization is the device authorization endpoint (Authelia's path).
const pathDeviceAuthorization = "/api/oidc/device-authorization"

// Device grant defaults: Authelia's device_code lifespan, RFC 8628's
// polling interval, and the step slow_down adds to it (RFC 8628 3.5).
const (
	DefaultDeviceCodeLifespan = 10 * time.Minute
	DefaultDevicePollInterval = 5 * time.Second
	deviceSlowDownStep        = 5 * time.Second
)

// User codes: eight letters of an alphabet without vowels (no words) and
// without letters easily mistaken for digits or each other, shown as
// XXXX-XXXX; case, spaces and dashes do not matter when typed (RFC 8628
// 6.1). 20^8 is about 2^34.6: with regulation bounding the guesses per
// address (deviceAuthorize), a code lives far too briefly to be found.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLength   = 8
)

// regulationFactorUserCode is the factor failed user-code entries are
// recorded under: they count against the client IP, with failed passwords.
const regulationFactorUserCode = "device_user_code"

// newUserCode returns a random user code, normalised (no dash).
func newUserCode() string {
	b := make([]byte, 0, userCodeLength)
	buf := make([]byte, 1)
	for len(b) < userCodeLength {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		// Rejection sampling: 240 is the largest multiple of 20 below 256.
		if buf[0] < 240 {
			b = append(b, userCodeAlphabet[int(buf[0])%len(userCodeAlphabet)])
		}
	}
	return string(b)
}

// normalizeUserCode returns a typed user code in its stored form (upper
// case, no spaces or dashes), or false when it cannot be one of ours.
func normalizeUserCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case strings.ContainsRune(userCodeAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != userCodeLength {
		return "", false
	}
	return b.String(), true
}

// formatUserCode shows a normalised user code as XXXX-XXXX.
func formatUserCode(code string) string {
	if len(code) != userCodeLength {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// deviceHash is the keyed hash a device or user code is stored under: a
// database leak gives neither.
func (p *Provider) deviceHash(kind, code string) string {
	m := hmac.New(sha256.New, p.fosite.GlobalSecret)
	m.Write([]byte("device\x00" + kind + "\x00" + code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// deviceCodeLifespan and devicePollInterval are the configured values or
// the defaults.
func (p *Provider) deviceCodeLifespan() time.Duration {
	if p.deviceLifespan > 0 {
		return p.deviceLifespan
	}
	return DefaultDeviceCodeLifespan
}

func (p *Provider) devicePollInterval() time.Duration {
	if p.deviceInterval > 0 {
		return p.deviceInterval
	}
	return DefaultDevicePollInterval
}

// deviceAuthorizationResponse is the endpoint's answer (RFC 8628 3.2).
type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// serveDeviceAuthorization is the device authorization endpoint (RFC 8628
// 3.1): it authenticates the client as the token endpoint does (public
// clients name themselves with client_id), checks that it may use the
// device grant and the scopes and audience it asks for, and stores a
// pending grant under the hashes of a new device code and user code.
func (p *Provider) serveDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	const endpoint = "device authorization"
	ctx := r.Context()
	if !p.parseEndpointForm(w, r, endpoint) {
		return
	}
	fc, err := p.clientAuth.Authenticate(ctx, r, r.PostForm)
	if err != nil {
		p.endpointError(w, r, endpoint, err)
		return
	}
	client, ok := fc.(*clients.Client)
	if !ok {
		p.endpointError(w, r, endpoint, fosite.ErrServerError.WithDebug("device: unexpected client type"))
		return
	}
	if !client.GetGrantTypes().Has(clients.GrantDeviceCode) {
		p.endpointError(w, r, endpoint, fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", clients.GrantDeviceCode))
		return
	}
	scopes := fosite.RemoveEmpty(strings.Split(r.PostForm.Get("scope"), " "))
	for _, s := range scopes {
		if !p.fosite.GetScopeStrategy(ctx)(client.GetScopes(), s) {
			p.endpointError(w, r, endpoint, fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope '%s'.", s))
			return
		}
	}
	audience := fosite.GetAudiences(r.PostForm)
	if err := p.fosite.GetAudienceStrategy(ctx)(client.GetAudience(), audience); err != nil {
		p.endpointError(w, r, endpoint, err)
		return
	}

	now := p.now()
	lifespan, interval := p.deviceCodeLifespan(), p.devicePollInterval()
	deviceCode := randomToken()
	var userCode string
	for attempt := 0; ; attempt++ {
		userCode = newUserCode()
		err = p.devices.CreateDeviceGrant(ctx, store.DeviceGrant{
			DeviceCodeHash: p.deviceHash("device_code", deviceCode),
			UserCodeHash:   p.deviceHash("user_code", userCode),
			ClientID:       client.GetID(),
			Scopes:         scopes,
			Audience:       audience,
			RequestedAt:    now,
			Interval:       interval,
			CodeExpiresAt:  now.Add(lifespan),
		})
		// A failure may be a user code already taken (one chance in
		// billions): try another, but not forever.
		if err == nil || attempt == 2 || errors.Is(err, store.ErrUnavailable) {
			break
		}
	}
	if err != nil {
		p.endpointError(w, r, endpoint, fosite.ErrServerError.WithWrap(err).WithDebug("storing the device grant"))
		return
	}
	verification := p.url(pages.PathDevice)
	shown := formatUserCode(userCode)
	p.log.Info("device authorization started", zap.String("client_id", client.GetID()))
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(deviceAuthorizationResponse{
		DeviceCode:              deviceCode,
		UserCode:                shown,
		VerificationURI:         verification,
		VerificationURIComplete: verification + "?" + url.Values{"user_code": {shown}}.Encode(),
		ExpiresIn:               int64(lifespan / time.Second),
		Interval:                int64(interval / time.Second),
	})
}

// isDeviceRequest reports whether a request resumed by the pages (after
// sign-in, a second factor or consent) is a device grant's: its return_to
// carries the user code instead of an authorization request.
func isDeviceRequest(r *http.Request) bool {
	return r.URL.Query().Has("user_code")
}

// deviceReturnTo resumes the device grant of a user code.
func (p *Provider) deviceReturnTo(clientID, userCode string) string {
	return p.base + pathAuthorize + "?" + url.Values{"client_id": {clientID}, "user_code": {formatUserCode(userCode)}}.Encode()
}

// deviceAuthorize runs the user's part of a device grant: the user code's
// grant, then sign-in, the client's authorization policy and second factor
// as authorize does, and always an explicit consent (the user must see
// which application on which device they let in: RFC 8628 5.4), whose
// decision is recorded for the polling device.
func (p *Provider) deviceAuthorize(w http.ResponseWriter, r *http.Request, flow pages.Flow) {
	ctx, now, ip := r.Context(), p.now(), p.pages.ClientIP(r)
	typed := r.URL.Query().Get("user_code")
	if err := p.pages.Regulator().Check(ctx, "", ip, now); err != nil {
		p.pages.LogBan(err, "", ip)
		if !errors.Is(err, authn.ErrBanned) {
			p.pages.RenderFailure(w, r, err, "failure.check_code")
			return
		}
		p.pages.RenderDevice(w, r, http.StatusTooManyRequests, typed, "device.too_many")
		return
	}
	fail := func(msg string) {
		if err := p.pages.Regulator().Record(ctx, "", ip, regulationFactorUserCode, false, now); err != nil {
			p.log.Error("recording attempt", zap.Error(err))
		}
		p.log.Info("device user code refused", zap.String("remote_ip", ip), zap.String("reason", msg))
		p.pages.RenderDevice(w, r, http.StatusBadRequest, typed, msg)
	}
	code, ok := normalizeUserCode(typed)
	if !ok {
		fail("device.malformed")
		return
	}
	userHash := p.deviceHash("user_code", code)
	g, err := p.devices.GetDeviceGrantByUserCode(ctx, userHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail("device.unknown")
		return
	case err != nil:
		p.log.Error("reading device grant", zap.Error(err))
		p.pages.RenderFailure(w, r, err, "failure.check_code")
		return
	case !now.Before(g.CodeExpiresAt):
		fail("device.code_expired")
		return
	case g.Status != store.DeviceStatusPending:
		fail("That code has already been used. Start again on your device to get a new one.")
		return
	}
	client := p.clients.Get(g.ClientID)
	if client == nil {
		p.pages.RenderError(w, r, http.StatusBadRequest, "device.code_invalid", "device.client_gone", "invalid_client")
		return
	}
	returnTo := p.deviceReturnTo(client.GetID(), code)

	// Authentication, as authorize.
	login := flow.Login
	var user *users.User
	if login != nil {
		if u, err := p.users.Lookup(login.Username); err == nil && !u.Disabled {
			user = u
		}
	}
	if user == nil {
		p.pages.RenderLogin(w, r, http.StatusOK, client, returnTo, "", "")
		return
	}

	// Authorization policy, with the subject built as authorize builds it.
	level := client.Policy().Evaluate(authn.Subject{Username: user.Username, Groups: user.Groups, IP: authn.ParseIP(p.pages.ClientIP(r))})
	if level == authn.Deny {
		p.log.Info("authorization policy denied the user (device)", zap.String("client_id", client.GetID()), zap.String("username", user.Username))
		// The device hears access_denied; if the grant expired meanwhile,
		// expired_token: the user is told they may not use the client.
		if _, err := p.devices.DecideDeviceGrant(ctx, userHash, store.DeviceStatusDenied, login.Username, login.AuthTime, login.AMR, now); err != nil {
			p.log.Error("recording the device grant decision", zap.Error(err))
		}
		p.pages.RenderError(w, r, http.StatusForbidden, p.pages.Localizer(r).T("error.denied", "Client", client.DisplayName()), "error.denied_desc", "access_denied")
		return
	}
	if !authn.Satisfies(login.AMR, level) {
		p.pages.SecondFactorStep(w, r, client, user, returnTo, "")
		return
	}

	// Consent: always asked, remembered or implicit consent notwithstanding.
	switch flow.Decision {
	case "":
		p.pages.RenderConsent(w, r, client, user, g.Scopes, returnTo)
		return
	case "deny":
		p.log.Info("consent denied (device)", zap.String("client_id", client.GetID()), zap.String("username", user.Username))
		p.tel.Audit.Record(ctx, telemetry.Event{Action: telemetry.ActionConsentDenied, User: user.Username, Client: client.GetID(), IP: ip, Scopes: g.Scopes})
		if p.decideDevice(w, r, userHash, store.DeviceStatusDenied, login, now) {
			p.pages.RenderDeviceDone(w, r, client, false)
		}
		return
	}
	p.tel.Audit.Record(ctx, telemetry.Event{Action: telemetry.ActionConsentGiven, User: user.Username, Client: client.GetID(), IP: ip, Scopes: g.Scopes})
	if flow.Remember {
		p.pages.RememberConsent(ctx, client, user.Username, g.Scopes, g.Audience)
	}
	if !p.decideDevice(w, r, userHash, store.DeviceStatusApproved, login, now) {
		return
	}
	p.log.Info("device authorization granted", zap.String("client_id", client.GetID()), zap.String("username", user.Username), zap.Strings("scopes", g.Scopes))
	p.pages.RenderDeviceDone(w, r, client, true)
}

// decideDevice records a decision and reports whether it was recorded. When
// it was not, it has answered: the grant expired or was decided meanwhile
// (the device page says so), or the database failed.
func (p *Provider) decideDevice(w http.ResponseWriter, r *http.Request, userHash, status string, login *store.LoginSession, now time.Time) bool {
	ok, err := p.devices.DecideDeviceGrant(r.Context(), userHash, status, login.Username, login.AuthTime, login.AMR, now)
	if err != nil {
		p.log.Error("recording the device grant decision", zap.Error(err))
		p.pages.RenderFailure(w, r, err, "failure.record_decision")
		return false
	}
	if !ok {
		p.pages.RenderDevice(w, r, http.StatusBadRequest, "", "device.expired")
	}
	return ok
}

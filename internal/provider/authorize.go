package provider

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/i18n"
	"github.com/caddy-oidc/caddy-oidc/internal/pages"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// serveAuthorize is the authorization endpoint (GET or POST).
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	login, err := p.pages.CurrentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		p.pages.RenderFailure(w, r, err, "failure.read_session")
		return
	}
	p.authorize(w, r, pages.Flow{Login: login})
}

// authorize runs one authorization request to its end: a redirect back to the
// client (code or error), the login page, the consent page, or an error page
// when the client or redirect URI cannot be trusted.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, flow pages.Flow) {
	if isDeviceRequest(r) { // a device grant's user code (device.go)
		p.deviceAuthorize(w, r, flow)
		return
	}
	ctx := r.Context()
	if !p.pushedRequestOnly(w, r) { // PAR (par.go)
		return
	}
	if err := p.resolveRequestObject(ctx, r, false); err != nil { // requestobject.go
		p.requestObjectFailed(w, r, err)
		return
	}
	ar, err := p.oauth2.NewAuthorizeRequest(ctx, r)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	ar.SetID(newRequestID())
	client, ok := ar.GetClient().(*clients.Client)
	if !ok {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithDebug("authorize: unexpected client type"))
		return
	}
	if err := p.checkAuthorizeRequest(ar, client); err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	if err := authorizeResources(ar, client); err != nil { // RFC 8707 (resource.go)
		p.authorizeError(w, r, ar, err)
		return
	}
	if err := checkDPoPJKT(ar); err != nil { // RFC 9449 10 (dpop.go)
		p.authorizeError(w, r, ar, err)
		return
	}
	claimsReq, err := p.applyClaimsRequest(ar, client) // claimsrequest.go
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	form := ar.GetRequestForm()
	r = i18n.WithUILocales(r, form.Get("ui_locales")) // the pages speak the language the client asked for
	prompts := strings.Fields(form.Get("prompt"))
	promptNone := slices.Contains(prompts, "none")
	if promptNone && len(prompts) > 1 {
		p.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("The prompt value 'none' must not be combined with other values."))
		return
	}

	// id_token_hint: checked here, against our keys (an expired hint is fine),
	// so that a hint naming another user leads to login_required or the login
	// page rather than to a failure when the ID token is issued. fosite would
	// compare it again then; once checked, it is removed from the request.
	hintSub, err := p.idTokenHintSubject(form.Get("id_token_hint"))
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("The id_token_hint is not an ID token issued by this provider.").WithWrap(err))
		return
	}
	form.Del("id_token_hint")

	// Authentication.
	login := flow.Login
	var user *users.User
	if login != nil {
		u, err := p.users.Lookup(login.Username)
		if err != nil || u.Disabled {
			login = nil // the user was removed or disabled since signing in
		} else {
			user = u
		}
	}
	needLogin := login == nil
	if !needLogin && !flow.Fresh && flow.Decision == "" {
		if slices.Contains(prompts, "login") {
			needLogin = true
		}
		if maxAge, ok := parseMaxAge(form.Get("max_age")); ok && p.now().Sub(login.AuthTime) > time.Duration(maxAge)*time.Second {
			needLogin = true
		}
	}
	if !needLogin && !flow.Fresh && flow.Decision == "" && hintSub != "" && !p.isSubjectOf(ctx, client, login.Username, hintSub) {
		needLogin = true // the application expects another user
	}
	if sub := claimsReq.Subject(); !needLogin && sub != "" && !p.isSubjectOf(ctx, client, login.Username, sub) {
		if flow.Fresh || flow.Decision != "" {
			// Signed in within this request as someone else (Core 5.5.1).
			p.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The signed-in user is not the one the claims parameter's sub names."))
			return
		}
		needLogin = true // the claims parameter names another user
	}
	if needLogin {
		if promptNone {
			p.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The user is not signed in and prompt=none forbids asking."))
			return
		}
		p.pages.RenderLogin(w, r, http.StatusOK, client, p.returnTo(r, ar), form.Get("login_hint"), "")
		return
	}

	// Authorization policy: who may use this client, and with how many factors.
	level := client.Policy().Evaluate(authn.Subject{Username: user.Username, Groups: user.Groups, IP: authn.ParseIP(p.pages.ClientIP(r))})
	if level == authn.Deny {
		p.denied(w, r, ar, client, user)
		return
	}
	if level, err = acrLevel(level, claimsReq); err != nil { // essential acr (claimsrequest.go)
		p.authorizeError(w, r, ar, err)
		return
	}
	if !authn.Satisfies(login.AMR, level) {
		if promptNone {
			p.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The client requires two-factor authentication and prompt=none forbids asking."))
			return
		}
		p.pages.SecondFactorStep(w, r, client, user, p.returnTo(r, ar), "")
		return
	}

	// Consent.
	switch flow.Decision {
	case "deny":
		p.log.Info("consent denied", zap.String("client_id", client.GetID()), zap.String("username", login.Username))
		p.tel.Audit.Record(ctx, telemetry.Event{Action: telemetry.ActionConsentDenied, User: login.Username, Client: client.GetID(), IP: p.pages.ClientIP(r), Scopes: ar.GetRequestedScopes()})
		p.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	case "allow":
		p.tel.Audit.Record(ctx, telemetry.Event{Action: telemetry.ActionConsentGiven, User: login.Username, Client: client.GetID(), IP: p.pages.ClientIP(r), Scopes: ar.GetRequestedScopes()})
		if flow.Remember {
			p.pages.RememberConsent(ctx, client, user.Username, ar.GetRequestedScopes(), ar.GetRequestedAudience())
		}
	case "":
		if slices.Contains(prompts, "consent") || !p.pages.Consented(ctx, client, user.Username, ar.GetRequestedScopes(), ar.GetRequestedAudience()) {
			if promptNone {
				p.authorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user has not consented and prompt=none forbids asking."))
				return
			}
			p.pages.RenderConsent(w, r, client, user, ar.GetRequestedScopes(), p.returnTo(r, ar))
			return
		}
	}

	// Issue the code.
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	requestedAt := ar.GetRequestedAt()
	if flow.Fresh || flow.Decision != "" {
		// The re-authentication or consent happened within this flow, before
		// this parse of the request: the request began no later than that.
		requestedAt = login.AuthTime
	}
	sess, err := p.newSession(ctx, client, user, login, ar.GetGrantedScopes(), requestedAt)
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	bindCodeToDPoPKey(ar, sess) // dpop_jkt (dpop.go)
	p.addRequestedClaims(sess, client, user, ar, claimsReq)
	// The code, PKCE and OpenID Connect records are written in one
	// transaction, as one row (store.WithCodeBundle): one INSERT at its
	// commit instead of three.
	txCtx, err := p.storage.BeginTX(store.WithCodeBundle(ctx))
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	resp, err := p.oauth2.NewAuthorizeResponse(txCtx, ar, sess)
	if err == nil {
		err = p.storage.Commit(txCtx)
	}
	if err != nil {
		_ = p.storage.Rollback(txCtx)
		p.authorizeError(w, r, ar, err)
		return
	}
	resp.AddParameter("iss", p.issuer)                // RFC 9207
	p.recordSessionClient(ctx, login, client.GetID()) // logout.go
	p.log.Info("authorization granted", zap.String("client_id", client.GetID()), zap.String("username", user.Username), zap.Strings("scopes", ar.GetGrantedScopes()))
	p.tel.Metrics.Authorization(client.GetID(), telemetry.OutcomeOK)
	if isOOB(ar) {
		// A native app without a redirect URI: the user copies the code.
		p.pages.Render(w, r, http.StatusOK, ui.CodePage{ClientName: client.DisplayName(), Code: resp.GetParameters().Get("code")})
		return
	}
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		setFormPostHeaders(w.Header())
	}
	p.oauth2.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// oobRedirectURI is the out-of-band redirect of public native clients: the
// code is shown to the user instead of sent anywhere.
const oobRedirectURI = "urn:ietf:wg:oauth:2.0:oob"

func isOOB(ar fosite.AuthorizeRequester) bool {
	return ar.GetRedirectURI() != nil && ar.GetRedirectURI().String() == oobRedirectURI
}

// idTokenHintSubject verifies an id_token_hint (signature by one of our
// keys, current or retired; our issuer; expiry not checked, as the spec
// allows) and returns its subject. An empty hint gives "".
func (p *Provider) idTokenHintSubject(hint string) (string, error) {
	if hint == "" {
		return "", nil
	}
	claims, err := p.keys.Verify(hint)
	if err != nil {
		return "", err
	}
	sub, _ := claims["sub"].(string)
	if iss, _ := claims["iss"].(string); iss != p.issuer || sub == "" {
		return "", fmt.Errorf("id_token_hint: wrong issuer or no subject")
	}
	return sub, nil
}

// isSubjectOf reports whether sub names the user, as this client sees them
// (pairwise) or publicly.
func (p *Provider) isSubjectOf(ctx context.Context, c *clients.Client, username, sub string) bool {
	for _, get := range []func() (string, error){
		func() (string, error) { return p.subject(ctx, c, username) },
		func() (string, error) { return p.db.Subject(ctx, username, "") },
	} {
		if s, err := get(); err == nil && s == sub {
			return true
		}
	}
	return false
}

// checkAuthorizeRequest applies the checks fosite leaves to us: per-client
// PKCE requirements and the nonce's minimum length.
func (p *Provider) checkAuthorizeRequest(ar fosite.AuthorizeRequester, c *clients.Client) error {
	form := ar.GetRequestForm()
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	if c.RequirePKCE() && challenge == "" {
		return fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow, but it is missing.")
	}
	if err := p.checkPKCEPolicy(ar, c, challenge, method); err != nil {
		return err
	}
	if c.PKCEChallengeMethod() != "" && challenge != "" {
		if method == "" {
			method = "plain"
		}
		if method != c.PKCEChallengeMethod() {
			return fosite.ErrInvalidRequest.WithHintf("The client must use code_challenge_method '%s'.", c.PKCEChallengeMethod())
		}
	}
	if nonce := form.Get("nonce"); nonce != "" && len(nonce) < p.minEntropy {
		return fosite.ErrInsufficientEntropy.WithHintf("Parameter 'nonce' is set but does not satisfy the minimum entropy of %d characters.", p.minEntropy)
	}
	if err := checkResponseTypeAndMode(ar); err != nil {
		return err
	}
	// Request objects were resolved before fosite saw the request
	// (requestobject.go); one left here came some other way.
	if form.Get("request") != "" {
		return fosite.ErrRequestNotSupported.WithHint("A request object must be the request's own 'request' parameter.")
	}
	if uri := form.Get("request_uri"); uri != "" && !p.isPushedURI(uri) { // fosite resolved a pushed one
		return fosite.ErrRequestURINotSupported.WithHint("A request_uri must be the request's own parameter.")
	}
	return nil
}

// checkPKCEPolicy applies the provider-wide PKCE policy as fosite's PKCE
// handler does, but before the login and consent pages: fosite checks it only
// when it issues the code, so a public client without PKCE would have the
// user sign in and consent just to receive invalid_request.
func (p *Provider) checkPKCEPolicy(ar fosite.AuthorizeRequester, c *clients.Client, challenge, method string) error {
	f, ok := p.oauth2.(*fosite.Fosite)
	if !ok || !ar.GetResponseTypes().Has("code") {
		return nil // fosite's handler still checks when it issues the code
	}
	cfg, ctx := f.Config, context.Background()
	if challenge == "" {
		if cfg.GetEnforcePKCE(ctx) || (cfg.GetEnforcePKCEForPublicClients(ctx) && c.IsPublic()) {
			return fosite.ErrInvalidRequest.WithHint("This client must include a code_challenge when performing the authorize code flow, but it is missing.")
		}
		return nil
	}
	switch method {
	case "S256":
	case "plain", "":
		if !cfg.GetEnablePKCEPlainChallengeMethod(ctx) {
			return fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256, plain is not allowed.")
		}
	default:
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method is not supported, use S256 instead.")
	}
	return nil
}

func parseMaxAge(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// returnTo is the relative URL that resumes this authorization request.
func (p *Provider) returnTo(r *http.Request, ar fosite.AuthorizeRequester) string {
	if s, ok := p.pushedReturnTo(r, ar); ok {
		return s
	}
	return p.base + pathAuthorize + "?" + ar.GetRequestForm().Encode()
}

// authorizeError answers a failed authorization request. When the client or
// its redirect URI cannot be trusted, the user gets a readable page and the
// browser goes nowhere; otherwise the client gets the error at its redirect
// URI, with iss (RFC 9207).
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	err = asUnavailable(err)
	rfc := fosite.ErrorToRFC6749Error(err)
	fields := []zap.Field{zap.String("error", rfc.ErrorField), zap.String("hint", rfc.HintField)}
	fields = append(fields, zap.String("client_id", requestedClientID(r, ar))) // unknownclient.go
	p.tel.Metrics.Authorization(requestClientID(ar), telemetry.ErrorCode(rfc.ErrorField))
	if rfc.CodeField >= 500 {
		p.log.Error("authorization request failed", append(fields, zap.String("debug", rfc.DebugField), zap.Error(rfc.Cause()))...)
	} else {
		p.log.Info("authorization request rejected", fields...)
	}
	if ar == nil || !ar.IsRedirectURIValid() {
		title, desc := "error.link_invalid", rfc.HintField
		if !knownRequestClient(ar) {
			desc = "error.client_unknown"
		} else if strings.Contains(rfc.HintField, "redirect") {
			desc = "error.redirect_unknown"
		}
		p.pages.RenderError(w, r, http.StatusBadRequest, title, desc, rfc.ErrorField)
		return
	}
	if isOOB(ar) {
		p.pages.RenderError(w, r, rfc.CodeField, "error.not_completed", rfc.HintField, rfc.ErrorField)
		return
	}
	prepareErrorResponseMode(ar) // formpost.go
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		setFormPostHeaders(w.Header()) // the page adds iss itself
	}
	p.oauth2.WriteAuthorizeError(r.Context(), p.errorWriter(w, ar), ar, err)
}

// errorWriter is where fosite writes an authorization error: through
// issWriter, but for JARM, whose JWT carries iss (jarm.go).
func (p *Provider) errorWriter(w http.ResponseWriter, ar fosite.AuthorizeRequester) http.ResponseWriter {
	if isJARM(ar) {
		return w
	}
	return &issWriter{ResponseWriter: w, issuer: p.issuer}
}

// issWriter adds iss (RFC 9207) to the error redirect fosite writes, in the
// query or the fragment. The form_post page adds it itself (formpost.go).
type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (w *issWriter) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); loc != "" {
		w.Header().Set("Location", withIss(loc, w.issuer))
	}
	w.ResponseWriter.WriteHeader(code)
}

// denied tells the user they may not use the client, and the client that
// access was denied (the page links to the error redirect).
func (p *Provider) denied(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, c *clients.Client, u *users.User) {
	p.log.Info("authorization policy denied the user", zap.String("client_id", c.GetID()), zap.String("username", u.Username))
	p.tel.Metrics.Authorization(c.GetID(), "access_denied")
	rec := &redirectRecorder{header: http.Header{}}
	p.oauth2.WriteAuthorizeError(r.Context(), p.errorWriter(rec, ar), ar,
		fosite.ErrAccessDenied.WithHint("The user is not allowed to use this client."))
	loc := p.pages.Localizer(r)
	page := ui.ErrorPage{
		Title:       loc.T("error.denied", "Client", c.DisplayName()),
		Description: loc.T("error.denied_desc"),
		Code:        "access_denied",
	}
	if loc := rec.header.Get("Location"); loc != "" && rec.status >= 300 && rec.status < 400 {
		page.ContinueURL = template.URL(loc) // our own redirect to a registered URI
	}
	p.pages.Render(w, r, http.StatusForbidden, page)
}

// redirectRecorder captures the redirect fosite would send.
type redirectRecorder struct {
	header http.Header
	status int
}

func (r *redirectRecorder) Header() http.Header         { return r.header }
func (r *redirectRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *redirectRecorder) WriteHeader(status int)      { r.status = status }

// checkResponseTypeAndMode refuses, before any page is shown, what fosite
// would refuse only after the user signed in and consented: tokens in the
// query, a form_post to a redirect URI a form cannot post to, and an ID
// token from the authorization endpoint without the openid scope, a nonce
// (OpenID Connect Core 3.2.2.1, 3.3.2.11) or the redirect_uri parameter.
func checkResponseTypeAndMode(ar fosite.AuthorizeRequester) error {
	types, form := ar.GetResponseTypes(), ar.GetRequestForm()
	codeOnly := types.ExactOne("code")
	switch mode := ar.GetResponseMode(); {
	case !codeOnly && (mode == fosite.ResponseModeQuery || mode == clients.ResponseModeQueryJWT):
		return fosite.ErrUnsupportedResponseMode.WithHintf("The response_mode '%s' cannot carry the tokens of response_type '%s'; use fragment or form_post.", mode, form.Get("response_type"))
	case (mode == fosite.ResponseModeFormPost || mode == clients.ResponseModeFormPostJWT) && !canFormPost(ar.GetRedirectURI()):
		return fosite.ErrUnsupportedResponseMode.WithHintf("The response_mode '%s' needs an http or https redirect_uri.", mode)
	}
	if types.Has("id_token") {
		switch {
		case !ar.GetRequestedScopes().Has("openid"):
			return fosite.ErrInvalidScope.WithHint("The response_type 'id_token' needs the 'openid' scope.")
		case form.Get("nonce") == "":
			return fosite.ErrInvalidRequest.WithHint("Parameter 'nonce' must be set when requesting an ID Token from the authorization endpoint (implicit and hybrid flows).")
		}
	}
	if !codeOnly && ar.GetRequestedScopes().Has("openid") && form.Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter is required when using OpenID Connect 1.0.")
	}
	return nil
}

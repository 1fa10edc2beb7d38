package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// authFlow is what the pages add to an authorization request on its way
// through login and consent.
type authFlow struct {
	login    *store.LoginSession // the signed-in user, nil if none
	fresh    bool                // the user authenticated within this flow
	decision string              // "allow" or "deny" from the consent page, "" before it
	remember bool                // the user asked to remember an allow decision
}

// serveAuthorize is the authorization endpoint (GET or POST).
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	login, err := p.currentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		p.renderError(w, http.StatusInternalServerError, "Something went wrong", "The sign-in service could not read your session. Please try again.", "server_error")
		return
	}
	p.authorize(w, r, authFlow{login: login})
}

// authorize runs one authorization request to its end: a redirect back to the
// client (code or error), the login page, the consent page, or an error page
// when the client or redirect URI cannot be trusted.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, flow authFlow) {
	ctx := r.Context()
	if !p.pushedRequestOnly(w, r) { // PAR (par.go)
		return
	}
	ar, err := p.oauth2.NewAuthorizeRequest(ctx, r)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	client := ar.GetClient().(*clients.Client)
	if err := p.checkAuthorizeRequest(ar, client); err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	form := ar.GetRequestForm()
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
	login := flow.login
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
	if !needLogin && !flow.fresh && flow.decision == "" {
		if slices.Contains(prompts, "login") {
			needLogin = true
		}
		if maxAge, ok := parseMaxAge(form.Get("max_age")); ok && time.Since(login.AuthTime) > time.Duration(maxAge)*time.Second {
			needLogin = true
		}
	}
	if !needLogin && !flow.fresh && flow.decision == "" && hintSub != "" && !p.isSubjectOf(ctx, client, login.Username, hintSub) {
		needLogin = true // the application expects another user
	}
	if needLogin {
		if promptNone {
			p.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The user is not signed in and prompt=none forbids asking."))
			return
		}
		p.renderLogin(w, r, http.StatusOK, client, p.returnTo(r, ar), form.Get("login_hint"), "")
		return
	}

	// Authorization policy: who may use this client, and with how many factors.
	level := client.Policy().Evaluate(authn.Subject{Username: user.Username, Groups: user.Groups})
	if level == authn.Deny {
		p.denied(w, r, ar, client, user)
		return
	}
	if !authn.Satisfies(login.AMR, level) {
		if promptNone {
			p.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The client requires two-factor authentication and prompt=none forbids asking."))
			return
		}
		p.secondFactorStep(w, r, client, user, p.returnTo(r, ar), "")
		return
	}

	// Consent.
	switch flow.decision {
	case "deny":
		p.log.Info("consent denied", zap.String("client_id", client.GetID()), zap.String("username", login.Username))
		p.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	case "allow":
		if flow.remember && client.ConsentMode() == "pre-configured" {
			now := time.Now()
			if err := p.db.PutConsent(ctx, store.Consent{
				Username: user.Username, ClientID: client.GetID(),
				Scopes: ar.GetRequestedScopes(), Audience: ar.GetRequestedAudience(),
				GrantedAt: now, ExpiresAt: now.Add(client.ConsentDuration()),
			}); err != nil {
				p.log.Error("remembering consent", zap.Error(err))
			}
		}
	case "":
		if slices.Contains(prompts, "consent") || !p.consented(ctx, client, user.Username, ar) {
			if promptNone {
				p.authorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user has not consented and prompt=none forbids asking."))
				return
			}
			p.renderConsent(w, r, client, user, ar)
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
	if flow.fresh || flow.decision != "" {
		// The re-authentication or consent happened within this flow, before
		// this parse of the request: the request began no later than that.
		requestedAt = login.AuthTime
	}
	sess, err := p.newSession(ctx, client, user, login, ar.GetGrantedScopes(), requestedAt)
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	// The code, PKCE and OpenID Connect records are written in one
	// transaction: one write to the database instead of three.
	txCtx, err := p.storage.BeginTX(ctx)
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
	resp.AddParameter("iss", p.issuer) // RFC 9207
	p.log.Info("authorization granted", zap.String("client_id", client.GetID()), zap.String("username", user.Username), zap.Strings("scopes", ar.GetGrantedScopes()))
	if isOOB(ar) {
		// A native app without a redirect URI: the user copies the code.
		p.render(w, http.StatusOK, ui.CodePage{ClientName: client.DisplayName(), Code: resp.GetParameters().Get("code")})
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

// consented reports whether the client may skip the consent page: implicit
// consent, or a remembered consent of this user for exactly these scopes and
// audience.
func (p *Provider) consented(ctx context.Context, c *clients.Client, username string, ar fosite.AuthorizeRequester) bool {
	switch c.ConsentMode() {
	case "implicit":
		return true
	case "pre-configured":
		rc, err := p.db.GetConsent(ctx, username, c.GetID(), time.Now())
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				p.log.Error("reading remembered consent", zap.Error(err))
			}
			return false
		}
		return sameSet(rc.Scopes, ar.GetRequestedScopes()) && sameSet(rc.Audience, ar.GetRequestedAudience())
	}
	return false
}

// sameSet compares two lists as sets.
func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
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
	if form.Get("request") != "" {
		return fosite.ErrRequestNotSupported.WithHint("Request objects are not supported.")
	}
	if uri := form.Get("request_uri"); uri != "" && !p.isPushedURI(uri) { // fosite resolved a pushed one
		return fosite.ErrRequestURINotSupported.WithHint("The request_uri parameter is not supported.")
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

// resume rebuilds the authorization request a page form refers to. It accepts
// only our own authorization endpoint, so it cannot become an open redirect.
func (p *Provider) resume(r *http.Request, returnTo string) (*http.Request, bool) {
	u, err := url.Parse(returnTo)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != p.base+pathAuthorize || u.Fragment != "" {
		return nil, false
	}
	ar := r.Clone(r.Context())
	ar.Method = http.MethodGet
	ar.URL = &url.URL{Path: u.Path, RawQuery: u.RawQuery}
	ar.RequestURI = u.RequestURI()
	ar.Body = http.NoBody
	ar.ContentLength = 0
	ar.Header.Del("Content-Type")
	ar.Form, ar.PostForm, ar.MultipartForm = nil, nil, nil
	return ar, true
}

// authorizeError answers a failed authorization request. When the client or
// its redirect URI cannot be trusted, the user gets a readable page and the
// browser goes nowhere; otherwise the client gets the error at its redirect
// URI, with iss (RFC 9207).
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	fields := []zap.Field{zap.String("error", rfc.ErrorField), zap.String("hint", rfc.HintField)}
	if ar != nil && ar.GetClient() != nil {
		fields = append(fields, zap.String("client_id", ar.GetClient().GetID()))
	}
	if rfc.CodeField >= 500 {
		p.log.Error("authorization request failed", append(fields, zap.String("debug", rfc.DebugField))...)
	} else {
		p.log.Info("authorization request rejected", fields...)
	}
	if ar == nil || !ar.IsRedirectURIValid() {
		title, desc := "This sign-in link is not valid", rfc.HintField
		if ar == nil || ar.GetClient() == nil {
			desc = "The application that sent you here is not registered with this sign-in service, or the link is damaged."
		} else if strings.Contains(rfc.HintField, "redirect") {
			desc = "The application asked to send you back to an address that is not registered for it, so you are not being redirected. Whoever runs the application should check its redirect URI."
		}
		p.renderError(w, http.StatusBadRequest, title, desc, rfc.ErrorField)
		return
	}
	if isOOB(ar) {
		p.renderError(w, rfc.CodeField, "The sign-in did not complete", rfc.HintField, rfc.ErrorField)
		return
	}
	prepareErrorResponseMode(ar) // formpost.go
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		setFormPostHeaders(w.Header()) // the page adds iss itself
	}
	p.oauth2.WriteAuthorizeError(r.Context(), &issWriter{ResponseWriter: w, issuer: p.issuer}, ar, err)
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

// renderLogin shows the login page for an authorization request.
func (p *Provider) renderLogin(w http.ResponseWriter, r *http.Request, status int, c *clients.Client, returnTo, username, msg string) {
	page := ui.LoginPage{
		Action:    p.base + pathLogin,
		CSRFToken: p.csrfToken(w, r),
		ReturnTo:  returnTo,
		Username:  username,
		Error:     msg,

		RememberMe:     p.rememberMeTTL > 0,
		Passkeys:       p.passkeysEnrolled != nil,
		WebAuthnBase:   p.base + pathWebAuthn,
		ContinueAction: p.base + pathContinue,
	}
	if c != nil {
		page.ClientName = c.DisplayName()
	}
	p.render(w, status, page)
}

// humanDuration writes a consent duration for people: "30 days", "12 hours".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d/time.Second), "second")
}

// renderConsent shows the consent page.
func (p *Provider) renderConsent(w http.ResponseWriter, r *http.Request, c *clients.Client, u *users.User, ar fosite.AuthorizeRequester) {
	page := ui.ConsentPage{
		ClientName: c.DisplayName(),
		ClientID:   c.GetID(),
		UserName:   u.DisplayName(),
		Action:     p.base + pathConsent,
		CSRFToken:  p.csrfToken(w, r),
		ReturnTo:   p.returnTo(r, ar),
	}
	if c.ConsentMode() == "pre-configured" {
		page.RememberFor = humanDuration(c.ConsentDuration())
	}
	for _, s := range ar.GetRequestedScopes() {
		desc, ok := scopeDescriptions[s]
		if !ok {
			desc = "Access to " + s
		}
		page.Scopes = append(page.Scopes, ui.Scope{Name: s, Description: desc})
	}
	p.render(w, http.StatusOK, page)
}

// serveConsent takes the consent page's decision and finishes the request.
func (p *Provider) serveConsent(w http.ResponseWriter, r *http.Request) {
	if !p.formOK(w, r, "Go back to the application and sign in again.") {
		return
	}
	decision := r.PostForm.Get("decision")
	if decision != "allow" && decision != "deny" {
		p.renderError(w, http.StatusBadRequest, "Unknown choice", "The consent form was incomplete. Go back to the application and try again.", "invalid_request")
		return
	}
	ar, ok := p.resume(r, r.PostForm.Get("return_to"))
	if !ok {
		p.renderError(w, http.StatusBadRequest, "This sign-in link is not valid", "The consent form pointed somewhere it should not. Go back to the application and try again.", "invalid_request")
		return
	}
	login, err := p.currentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		p.renderError(w, http.StatusInternalServerError, "Something went wrong", "The sign-in service could not read your session. Please try again.", "server_error")
		return
	}
	p.authorize(w, ar, authFlow{login: login, decision: decision, remember: r.PostForm.Get("remember") != ""})
}

// serveLogin shows the login page (GET) or checks the credentials (POST) and
// continues the authorization request.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost { // GET, HEAD
		returnTo := r.URL.Query().Get("return_to")
		if _, ok := p.resume(r, returnTo); !ok {
			returnTo = p.base + pathSettings
		}
		p.renderLogin(w, r, http.StatusOK, nil, returnTo, "", "")
		return
	}
	if !p.formOK(w, r, "Go back to the application and sign in again.") {
		return
	}
	returnTo := r.PostForm.Get("return_to")
	next, ok := p.resume(r, returnTo)
	if returnTo == p.base+pathSettings {
		ok = true
	}
	if returnTo != "" && !ok {
		p.renderError(w, http.StatusBadRequest, "This sign-in link is not valid", "The sign-in form pointed somewhere it should not. Go back to the application and try again.", "invalid_request")
		return
	}
	var client *clients.Client
	if next != nil {
		if id := next.URL.Query().Get("client_id"); id != "" {
			client = p.clients.Get(id)
		}
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	ctx, now, ip := r.Context(), time.Now(), p.clientIP(r)
	banned := p.regulator.Check(ctx, username, ip, now)
	// The password is checked even when banned, so that a ban looks and
	// takes exactly like a wrong password: usernames cannot be probed.
	user, err := p.users.Authenticate(username, r.PostForm.Get("password"))
	if banned == nil && !errors.Is(err, users.ErrInvalidCredentials) && err != nil {
		p.log.Error("authenticating user", zap.Error(err))
	}
	if banned == nil {
		if regErr := p.regulator.Record(ctx, username, ip, "password", err == nil, now); regErr != nil {
			p.log.Error("recording attempt", zap.Error(regErr))
		}
	}
	if banned != nil || err != nil {
		if banned != nil {
			p.logBan(banned, username, ip)
		} else {
			p.log.Info("login failed", zap.String("username", username), zap.String("remote_ip", ip))
		}
		p.renderLogin(w, r, http.StatusUnauthorized, client, returnTo, username, "Incorrect username or password.")
		return
	}
	login, err := p.startLogin(w, r, user.Username, []string{"pwd"}, r.PostForm.Get("remember_me") != "" && p.rememberMeTTL > 0)
	if err != nil {
		p.log.Error("creating login session", zap.Error(err))
		p.renderError(w, http.StatusInternalServerError, "Something went wrong", "The sign-in service could not save your session. Please try again.", "server_error")
		return
	}
	p.log.Info("login succeeded", zap.String("username", user.Username))
	if next == nil {
		http.Redirect(w, r, p.base+pathSettings, http.StatusSeeOther)
		return
	}
	p.authorize(w, next, authFlow{login: login, fresh: true})
}

// serveLogout shows the sign-out confirmation (GET) and signs out (POST).
func (p *Provider) serveLogout(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		page := ui.LogoutPage{Action: p.base + pathLogout, CSRFToken: p.csrfToken(w, r)}
		if login, err := p.currentLogin(r); err == nil && login != nil {
			page.UserName = login.Username
			if u, err := p.users.Lookup(login.Username); err == nil {
				page.UserName = u.DisplayName()
			}
		}
		p.render(w, http.StatusOK, page)
	case http.MethodPost:
		if !p.formOK(w, r, "Reload the page and try again.") {
			return
		}
		if r.PostForm.Get("all_devices") != "" {
			if login, err := p.currentLogin(r); err == nil && login != nil {
				if err := p.db.DeleteLoginSessionsOfUser(r.Context(), login.Username); err != nil {
					p.log.Error("ending every login session of the user", zap.Error(err))
				}
				p.log.Info("signed out on all devices", zap.String("username", login.Username))
			}
		}
		if err := p.endLogin(w, r); err != nil {
			p.log.Error("ending login session", zap.Error(err))
		}
		p.render(w, http.StatusOK, ui.LogoutPage{Action: p.base + pathLogout, Done: true})
	}
}

// render writes a page, logging template failures.
func (p *Provider) render(w http.ResponseWriter, status int, page any) {
	if err := p.pages.Render(w, status, page); err != nil {
		p.log.Error("rendering page", zap.Error(err))
	}
}

// renderError writes the readable error page.
func (p *Provider) renderError(w http.ResponseWriter, status int, title, desc, code string) {
	p.render(w, status, ui.ErrorPage{Title: title, Description: desc, Code: code})
}

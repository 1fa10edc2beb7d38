package provider

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// endSessionRequest is a validated RP-initiated logout request (OpenID
// Connect RP-Initiated Logout 1.0).
type endSessionRequest struct {
	client      *clients.Client // the client that sent the user, nil when unknown
	redirectURI string          // a registered post_logout_redirect_uri, "" for none
	state       string          // echoed on the redirect
	hintSubject string          // sub of the id_token_hint, "" without one
}

// endSessionError is why a logout request is refused; the user reads it.
type endSessionError struct {
	description string
}

func (e *endSessionError) Error() string { return e.description }

// serveEndSession is the end_session_endpoint (GET or POST).
//
// The request is validated first: an id_token_hint must carry a valid
// signature of one of our keys (active or retired; an expired token is
// fine) and our iss, and names the client through azp or its single aud; a
// client_id sent with it must be one of its audiences. A
// post_logout_redirect_uri must be registered, exactly, in the client's
// post_logout_redirect_uris; anything else gets an error page and no
// redirect.
//
// A signed-in user is always asked to confirm, hint or not, so that a link
// on another site cannot sign them out. The confirmation form posts back
// here with csrf_token and a return_to that holds the validated client_id,
// post_logout_redirect_uri and state; they are validated again on the way
// back. An id_token_hint naming another user than the one signed in is
// logged and changes nothing else: the user still confirms, and the
// redirect still goes only to a registered URI. A visitor who is not signed
// in is sent straight back (there is nothing to confirm), or sees "not
// signed in". Confirming tells the clients that took part in the session
// (back-channel in the background, front-channel iframes on the signed-out
// page before the redirect; logout.go).
func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	}
	if err := r.ParseForm(); err != nil {
		p.pages.RenderError(w, r, http.StatusBadRequest, "error.signout_link_invalid", "error.signout_unreadable", "invalid_request")
		return
	}
	if r.Method == http.MethodPost && r.PostForm.Has("csrf_token") {
		p.confirmEndSession(w, r)
		return
	}

	req, err := p.parseEndSession(r.Form)
	if err != nil {
		p.log.Info("logout request rejected", zap.String("client_id", r.Form.Get("client_id")), zap.String("reason", err.Error()))
		p.pages.RenderError(w, r, http.StatusBadRequest, "error.signout_link_invalid", err.Error(), "invalid_request")
		return
	}
	login, err := p.pages.CurrentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		p.pages.RenderFailure(w, r, err, "failure.read_session")
		return
	}
	if login == nil {
		if req.redirectURI != "" {
			p.endSessionRedirect(w, r, req)
			return
		}
		p.pages.Render(w, r, http.StatusOK, ui.LogoutPage{Action: p.base + pathEndSession})
		return
	}
	if req.hintSubject != "" {
		if sub, err := p.subject(r.Context(), req.client, login.Username); err == nil && sub != req.hintSubject {
			p.log.Info("logout request's id_token_hint names another user than the one signed in", zap.String("client_id", req.clientID()), zap.String("username", login.Username))
		}
	}
	page := ui.LogoutPage{
		Action:    p.base + pathEndSession,
		CSRFToken: p.pages.CSRFToken(w, r),
		ReturnTo:  req.returnTo(p.base + pathEndSession),
		UserName:  login.Username,
	}
	if u, err := p.users.Lookup(login.Username); err == nil {
		page.UserName = u.DisplayName()
	}
	p.pages.Render(w, r, http.StatusOK, page)
}

// confirmEndSession handles the confirmation form: it ends the login
// session, then redirects to the client or shows "signed out".
func (p *Provider) confirmEndSession(w http.ResponseWriter, r *http.Request) {
	if !p.pages.CheckCSRF(r, r.PostForm.Get("csrf_token")) {
		p.pages.RenderError(w, r, http.StatusForbidden, "error.session_changed", "error.form_stale_reload", "")
		return
	}
	req := &endSessionRequest{}
	if returnTo := r.PostForm.Get("return_to"); returnTo != "" {
		u, err := url.Parse(returnTo)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != p.base+pathEndSession || u.Fragment != "" {
			p.pages.RenderError(w, r, http.StatusBadRequest, "error.signout_link_invalid", "error.signout_form_invalid", "invalid_request")
			return
		}
		if req, err = p.parseEndSession(u.Query()); err != nil {
			p.pages.RenderError(w, r, http.StatusBadRequest, "error.signout_link_invalid", err.Error(), "invalid_request")
			return
		}
	}
	login, _ := p.pages.CurrentLogin(r)
	ended, err := p.pages.SignOut(w, r, false) // tells the clients (logout.go)
	if err != nil {
		p.log.Error("ending login session", zap.Error(err))
		p.pages.RenderFailure(w, r, err, "failure.end_session")
		return
	}
	fields := []zap.Field{zap.String("client_id", req.clientID())}
	if login != nil {
		fields = append(fields, zap.String("username", login.Username))
	}
	p.log.Info("signed out (RP-initiated)", fields...)
	if login != nil {
		p.tel.Audit.Record(r.Context(), telemetry.Event{Action: telemetry.ActionSignOut, User: login.Username, Client: p.knownClientID(req.clientID()), IP: p.pages.ClientIP(r), Actor: "user"})
	}
	if p.signedOutPage(w, r, req, ended) { // front-channel logout iframes (logout.go)
		return
	}
	if req.redirectURI != "" {
		p.endSessionRedirect(w, r, req)
		return
	}
	p.pages.Render(w, r, http.StatusOK, ui.LogoutPage{Action: p.base + pathEndSession, Done: true})
}

// parseEndSession validates the parameters of a logout request.
func (p *Provider) parseEndSession(form url.Values) (*endSessionRequest, error) {
	req := &endSessionRequest{state: form.Get("state")}
	clientID := form.Get("client_id")
	if hint := form.Get("id_token_hint"); hint != "" {
		claims, err := p.keys.Verify(hint)
		if err != nil {
			return nil, &endSessionError{"The application sent an ID token that this sign-in service did not issue."}
		}
		if iss, _ := claims["iss"].(string); iss != p.issuer {
			return nil, &endSessionError{"The application sent an ID token issued by another sign-in service."}
		}
		aud := audience(claims["aud"])
		azp, _ := claims["azp"].(string)
		switch {
		case clientID != "":
			if !slices.Contains(aud, clientID) {
				return nil, &endSessionError{"The application's client_id is not the one its ID token was issued to."}
			}
		case azp != "":
			clientID = azp
		case len(aud) == 1:
			clientID = aud[0]
		}
		req.hintSubject, _ = claims["sub"].(string)
	}
	if clientID != "" {
		req.client = p.clients.Get(clientID)
		if req.client == nil {
			return nil, &endSessionError{"The application that sent you here is not registered with this sign-in service."}
		}
	}
	if uri := form.Get("post_logout_redirect_uri"); uri != "" {
		switch {
		case req.client == nil:
			return nil, &endSessionError{"The application asked to be sent back to an address but did not say which application it is (client_id or id_token_hint), so you are not being redirected."}
		case !req.client.IsPostLogoutRedirectURI(uri):
			return nil, &endSessionError{"The application asked to send you to an address that is not registered for it, so you are not being redirected."}
		}
		req.redirectURI = uri
	}
	return req, nil
}

// audience reads an aud claim: a string or an array of strings.
func audience(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (req *endSessionRequest) clientID() string {
	if req.client == nil {
		return ""
	}
	return req.client.GetID()
}

// returnTo is the confirmation form's return_to: the endpoint with the
// validated parameters, "" when there are none.
func (req *endSessionRequest) returnTo(endpoint string) string {
	q := url.Values{}
	if req.client != nil {
		q.Set("client_id", req.client.GetID())
	}
	if req.redirectURI != "" {
		q.Set("post_logout_redirect_uri", req.redirectURI)
		if req.state != "" {
			q.Set("state", req.state)
		}
	}
	if len(q) == 0 {
		return ""
	}
	return endpoint + "?" + q.Encode()
}

// endSessionRedirect sends the user to the registered post-logout URI, with
// state appended to its query as sent.
func (p *Provider) endSessionRedirect(w http.ResponseWriter, r *http.Request, req *endSessionRequest) {
	target := req.redirectTarget()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// redirectTarget is the post-logout redirect URI with state appended to its
// query as sent.
func (req *endSessionRequest) redirectTarget() string {
	target := req.redirectURI
	if req.state != "" {
		sep := "&"
		switch {
		case !strings.Contains(target, "?"):
			sep = "?"
		case strings.HasSuffix(target, "?"), strings.HasSuffix(target, "&"):
			sep = ""
		}
		target += sep + "state=" + url.QueryEscape(req.state)
	}
	return target
}

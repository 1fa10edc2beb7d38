package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// pushedInteractionLifespan is the least time a user has to finish signing in
// and consenting once the authorization endpoint has opened a pushed request
// (see pushedReturnTo). par_context_lifespan bounds only how long the client
// may wait before sending the user, and is often short.
const pushedInteractionLifespan = 30 * time.Minute

// servePAR is the pushed authorization request endpoint (RFC 9126), through
// fosite: NewPushedAuthorizeRequest authenticates the client with our
// strategy (public clients identify themselves with client_id) and validates
// the request as the authorization endpoint would; the PAR handler stores it
// (expiring after par_context_lifespan, enforced by the store) under a
// one-time request_uri.
func (p *Provider) servePAR(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.parseEndpointForm(w, r, "pushed authorization request") {
		return
	}
	if err := p.resolveRequestObject(ctx, r, true); err != nil { // requestobject.go
		p.endpointError(w, r, "pushed authorization request", err)
		return
	}
	ar, err := p.oauth2.NewPushedAuthorizeRequest(ctx, r)
	if err != nil {
		p.endpointError(w, r, "pushed authorization request", err)
		return
	}
	client, ok := ar.GetClient().(*clients.Client)
	if !ok {
		p.endpointError(w, r, "pushed authorization request", fosite.ErrServerError.WithDebug("par: unexpected client type"))
		return
	}
	// Our own checks (per-client PKCE, nonce length, no request objects) run
	// now, so the client hears of a bad request here rather than through the
	// user's browser.
	if err := p.checkAuthorizeRequest(ar, client); err != nil {
		p.endpointError(w, r, "pushed authorization request", err)
		return
	}
	if err := p.pushedDPoP(w, r, ar, client); err != nil { // DPoP and resources (dpop.go)
		p.endpointError(w, r, "pushed authorization request", err)
		return
	}
	resp, err := p.oauth2.NewPushedAuthorizeResponse(ctx, ar, emptySession())
	if err != nil {
		p.endpointError(w, r, "pushed authorization request", err)
		return
	}
	p.log.Info("authorization request pushed", zap.String("client_id", client.GetID()))
	p.oauth2.WritePushedAuthorizeResponse(ctx, w, ar, resp)
}

// parPrefix is the prefix of our request URIs, urn:ietf:params:oauth:request_uri:.
func (p *Provider) parPrefix() string {
	return p.fosite.GetPushedAuthorizeRequestURIPrefix(context.Background())
}

// isPushedURI reports whether a request_uri names a pushed authorization
// request (rather than a request object by reference, which we do not fetch).
func (p *Provider) isPushedURI(uri string) bool {
	return uri != "" && strings.HasPrefix(uri, p.parPrefix())
}

// pushedRequestOnly prepares an authorization request before fosite parses
// it, and reports whether the caller should go on (false: it has answered).
//
//   - With a pushed request_uri, every parameter but client_id and
//     request_uri is dropped: the pushed request is the request (RFC 9126 4),
//     and fosite would otherwise let parameters in the URL fill in what the
//     pushed request left out (a nonce, prompt, max_age...).
//   - Without one, a client that must push (require_pushed_authorization_requests,
//     its own or provider-wide) gets an error page. Its redirect_uri came
//     from the URL and was not pushed, so the browser goes nowhere.
func (p *Provider) pushedRequestOnly(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		p.pages.RenderError(w, r, http.StatusBadRequest, "error.link_invalid", "error.request_unreadable", "invalid_request")
		return false
	}
	uri := r.Form.Get("request_uri")
	if p.isPushedURI(uri) {
		kept := url.Values{"request_uri": {uri}}
		if id, ok := r.Form["client_id"]; ok {
			kept["client_id"] = id
		}
		r.Form = kept
		return true
	}
	if uri != "" {
		return true // a request object by reference (requestobject.go)
	}
	c := p.clients.Get(r.Form.Get("client_id"))
	if c == nil || (!p.requirePAR && !c.RequirePAR()) {
		return true
	}
	p.log.Info("authorization request rejected", zap.String("client_id", c.GetID()), zap.String("error", "invalid_request"), zap.String("hint", "the client must use a pushed authorization request"))
	p.pages.RenderError(w, r, http.StatusBadRequest, "error.link_invalid", "error.par_required", "invalid_request")
	return false
}

// pushedReturnTo returns what resumes a pushed authorization request after a
// page (login, consent), and whether ar is one. fosite deleted the pushed
// request when it read it (a request_uri is single-use), so the rest of the
// interaction goes on under a fresh request_uri holding the same request,
// valid for pushedInteractionLifespan (or par_context_lifespan when longer).
// The parameters thus stay those the client pushed, the client's PAR
// requirement stays met, and a used request_uri never works twice.
func (p *Provider) pushedReturnTo(r *http.Request, ar fosite.AuthorizeRequester) (string, bool) {
	if !p.isPushedURI(ar.GetRequestForm().Get("request_uri")) {
		return "", false
	}
	uri, err := p.repush(r.Context(), ar)
	if err != nil {
		// The page then cannot resume the request; the user starts again
		// from the application.
		p.log.Error("storing the continuation of a pushed authorization request", zap.String("client_id", ar.GetClient().GetID()), zap.Error(err))
		return "", true
	}
	q := url.Values{"client_id": {ar.GetClient().GetID()}, "request_uri": {uri}}
	return p.base + pathAuthorize + "?" + q.Encode(), true
}

// repush stores ar again as a pushed authorization request and returns its
// new request_uri.
func (p *Provider) repush(ctx context.Context, ar fosite.AuthorizeRequester) (string, error) {
	orig, ok := ar.(*fosite.AuthorizeRequest)
	if !ok {
		return "", fmt.Errorf("unexpected authorization request type %T", ar)
	}
	cp := *orig
	cp.Form = url.Values{}
	for k, v := range orig.Form {
		if k != "request_uri" {
			cp.Form[k] = v
		}
	}
	var sess fosite.Session = emptySession()
	if s := orig.GetSession(); s != nil {
		sess = s.Clone()
	}
	lifespan := max(pushedInteractionLifespan, p.fosite.GetPushedAuthorizeContextLifespan(ctx))
	sess.SetExpiresAt(fosite.PushedAuthorizeRequestContext, p.now().UTC().Add(lifespan))
	cp.Session = sess
	uri := p.parPrefix() + randomToken()
	if err := p.storage.CreatePARSession(ctx, uri, &cp); err != nil {
		return "", err
	}
	return uri, nil
}

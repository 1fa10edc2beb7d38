package provider

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// jarmLifespan is how long a JARM response JWT is valid: it only travels
// through the browser to the client (Authelia's default for
// jwt_secured_authorization).
const jarmLifespan = 5 * time.Minute

// jarmHandler writes JWT Secured Authorization Responses (JARM): every
// parameter of the response (or error), with iss, aud (the client), iat and
// exp, in one JWT signed with the client's authorization_signed_response_alg,
// sent as the single parameter response in the query, the fragment or a
// form post. fosite calls it for the response modes it lists
// (fosite.Config.ResponseModeHandlerExtension).
type jarmHandler struct{ p *Provider }

func (h *jarmHandler) ResponseModes() fosite.ResponseModeTypes { return clients.JARMModes }

func (h *jarmHandler) WriteAuthorizeResponse(ctx context.Context, rw http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) {
	for k := range resp.GetHeader() {
		rw.Header().Set(k, resp.GetHeader().Get(k))
	}
	h.write(ctx, rw, ar, resp.GetParameters())
}

func (h *jarmHandler) WriteAuthorizeError(ctx context.Context, rw http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err).WithExposeDebug(h.p.fosite.GetSendDebugMessagesToClients(ctx))
	params := rfc.ToValues()
	if s := ar.GetState(); s != "" {
		params.Set("state", s)
	}
	h.write(ctx, rw, ar, params)
}

func (h *jarmHandler) write(ctx context.Context, rw http.ResponseWriter, ar fosite.AuthorizeRequester, params url.Values) {
	p := h.p
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Pragma", "no-cache")
	c, ok := ar.GetClient().(*clients.Client)
	if !ok || !ar.IsRedirectURIValid() {
		p.pages.RenderError(rw, nil, http.StatusBadRequest, "error.link_invalid", "error.untrusted", "invalid_request") // no request here: English
		return
	}
	now := p.now()
	claims := map[string]any{
		"iss": p.issuer,
		"aud": c.GetID(),
		"iat": now.Unix(),
		"exp": now.Add(jarmLifespan).Unix(),
	}
	for k := range params {
		if k != "iss" { // ours already, and it must stay a string
			claims[k] = params.Get(k)
		}
	}
	token, err := p.keys.Sign(claims, c.AuthorizationSignedResponseAlg(), nil)
	if e := c.AuthorizationEncryption(); err == nil && e.Alg != "" {
		token, err = p.clientAuth.Encrypt(ctx, c, e, []byte(token), true)
	}
	if err != nil {
		p.log.Error("signing a JARM response", zap.String("client_id", c.GetID()), zap.Error(err))
		p.pages.RenderFailure(rw, nil, err, "failure.answer_app")
		return
	}
	redir := *ar.GetRedirectURI()
	redir.Fragment = ""
	switch jarmMode(ar) {
	case clients.ResponseModeFormPostJWT:
		setFormPostHeaders(rw.Header())
		rw.Header().Set("Content-Type", "text/html;charset=UTF-8")
		fosite.WriteAuthorizeFormPostResponse(redir.String(), url.Values{"response": {token}}, jarmFormPost, rw)
	case clients.ResponseModeFragmentJWT:
		rw.Header().Set("Location", redir.String()+"#"+url.Values{"response": {token}}.Encode())
		rw.WriteHeader(http.StatusSeeOther)
	default:
		q := redir.Query()
		q.Set("response", token)
		redir.RawQuery = q.Encode()
		rw.Header().Set("Location", redir.String())
		rw.WriteHeader(http.StatusSeeOther)
	}
}

// jarmFormPost is the form_post page without the iss the plain form_post
// page adds to errors: in JARM, iss is inside the JWT.
var jarmFormPost = newJARMFormPostTemplate()

// jarmMode resolves the response mode jwt to the response type's default:
// query.jwt for code alone, fragment.jwt when tokens come back.
func jarmMode(ar fosite.AuthorizeRequester) fosite.ResponseModeType {
	mode := ar.GetResponseMode()
	if mode != clients.ResponseModeJWT {
		return mode
	}
	if ar.GetResponseTypes().ExactOne("code") {
		return clients.ResponseModeQueryJWT
	}
	return clients.ResponseModeFragmentJWT
}

// isJARM reports whether the request asked for a JARM response mode.
func isJARM(ar fosite.AuthorizeRequester) bool {
	return ar != nil && slices.Contains(clients.JARMModes, ar.GetResponseMode())
}

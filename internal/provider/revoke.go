package provider

import (
	"net/http"

	"github.com/ory/fosite"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// revocationAuthMethods are the client authentication methods the revocation
// endpoint accepts. Public clients revoke their own tokens by client_id
// (RFC 7009 2.1, 5).
var revocationAuthMethods = []string{clients.AuthMethodBasic, clients.AuthMethodPost, clients.AuthMethodNone}

// serveRevocation is the token revocation endpoint (RFC 7009), through
// fosite's NewRevocationRequest (which authenticates the client with our
// strategy) and its TokenRevocationHandler.
//
// fosite revokes the whole grant behind the token: revoking a refresh token
// deactivates every refresh token of its family and deletes their access
// tokens; revoking an access token revokes its refresh tokens as well
// (RFC 7009 2.1 allows both). A token of another client, an unknown token and
// an already revoked one all get 200 and change nothing, so the answer does
// not tell whether a token exists (RFC 7009 2.2).
//
// We write the response ourselves: fosite's WriteRevocationResponse answers
// 200 to every error it does not know, a storage failure included, which
// would let a client believe a token is revoked when it is not.
func (p *Provider) serveRevocation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.parseEndpointForm(w, r, "revocation") {
		return
	}
	if r.PostForm.Get("token") == "" {
		p.endpointError(w, r, "revocation", fosite.ErrInvalidRequest.WithHint("The 'token' parameter is missing."))
		return
	}
	if err := p.oauth2.NewRevocationRequest(ctx, r); err == nil {
		p.log.Info("token revoked", zap.String("client_id", p.requestClientID(r)))
		p.reportRevocation(r)
	} else if rfc := fosite.ErrorToRFC6749Error(err); rfc.ErrorField == fosite.ErrUnauthorizedClient.ErrorField {
		// The token belongs to another client: nothing happens.
		p.log.Info("revocation of another client's token ignored", zap.String("client_id", p.requestClientID(r)))
	} else { // invalid_client 401, invalid_request 400, a storage failure 503
		p.endpointError(w, r, "revocation", rfc)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// requestClientID names the client of an authenticated back-channel request,
// for logs.
func (p *Provider) requestClientID(r *http.Request) string {
	if id, _, ok, _ := clients.BasicCredentials(r); ok {
		return id
	}
	return r.PostForm.Get("client_id")
}

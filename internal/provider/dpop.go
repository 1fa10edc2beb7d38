package provider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/dpop"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// Sender-constrained tokens (RFC 9449, DPoP).
//
// A token request with a DPoP header binds the access token (and, for a
// public client, the refresh token) to the thumbprint of the proof's key.
// The binding is kept in the grant's stored session, under sessionJKTKey in
// the ID token claims' extra map, so that it needs no table and follows the
// grant through refreshes; it is taken out of every ID token (encrypt.go
// calls hideSessionJKT) and shows only as cnf.jkt in JWT access tokens and
// introspection. A bound access token is accepted at userinfo only with the
// DPoP scheme and a proof of the same key (ath included), never as a bearer
// token. Proof jtis are remembered in the database's JTI table, which every
// instance sharing the database sees: a proof replayed against another
// instance is refused too. Server nonces (dpop_nonce_required) are
// stateless (package dpop).

// sessionJKTKey is where the session keeps the key thumbprint.
const sessionJKTKey = "_dpop_jkt"

// dpopTokenType is the token_type of DPoP-bound access tokens.
const dpopTokenType = "DPoP"

// sessionJKT returns the thumbprint a grant's tokens are bound to, "" for
// bearer tokens.
func sessionJKT(s fosite.Session) string {
	if os, ok := s.(*openid.DefaultSession); ok && os.Claims != nil {
		jkt, _ := os.Claims.Extra[sessionJKTKey].(string)
		return jkt
	}
	return ""
}

// setSessionJKT binds (or with "" unbinds) the session's tokens.
func setSessionJKT(s fosite.Session, jkt string) error {
	os, ok := s.(*openid.DefaultSession)
	if !ok || os.Claims == nil {
		return fosite.ErrServerError.WithDebug("dpop: unexpected session type")
	}
	if jkt == "" {
		delete(os.Claims.Extra, sessionJKTKey)
		return nil
	}
	if os.Claims.Extra == nil {
		os.Claims.Extra = map[string]any{}
	}
	os.Claims.Extra[sessionJKTKey] = jkt
	return nil
}

// hideSessionJKT removes the binding from the requester's session while an
// ID token is generated from it; the returned function puts it back.
func hideSessionJKT(r fosite.Requester) func() {
	jkt := sessionJKT(r.GetSession())
	if jkt == "" {
		return func() {}
	}
	_ = setSessionJKT(r.GetSession(), "")
	return func() { _ = setSessionJKT(r.GetSession(), jkt) }
}

// newDPoPVerifier builds the proof verifier over the shared JTI table.
func newDPoPVerifier(cfg Config, storage FositeStorage) *dpop.Verifier {
	v := &dpop.Verifier{Replay: dpopReplay{storage}, Now: cfg.Now}
	if cfg.DPoPNonceRequired {
		v.Nonces = dpop.NewNonces(cfg.HMACSecret, cfg.DPoPNonceLifespan, cfg.Now)
	}
	return v
}

// dpopReplay is the replay cache on the client assertion JTI table: keys
// are stored hashed, and a second insert of a live key fails atomically.
type dpopReplay struct{ s FositeStorage }

// Remember implements dpop.ReplayCache.
func (d dpopReplay) Remember(ctx context.Context, key string, exp time.Time) error {
	err := d.s.SetClientAssertionJWT(ctx, key, exp)
	if errors.Is(err, fosite.ErrJTIKnown) {
		return dpop.ErrReplay
	}
	return err
}

// setDPoPNonce announces the current server nonce, when nonces are
// required; every token and userinfo response carries it, so clients can
// keep theirs fresh.
func (p *Provider) setDPoPNonce(w http.ResponseWriter) {
	if p.dpop.Nonces != nil {
		w.Header().Set(dpop.NonceHeader, p.dpop.Nonces.Current())
	}
}

// dpopOAuthError turns a proof failure into the token endpoint's error.
func dpopOAuthError(err error) error {
	switch {
	case errors.Is(err, dpop.ErrUseNonce):
		return &fosite.RFC6749Error{ErrorField: "use_dpop_nonce", DescriptionField: "The authorization server requires a nonce in the DPoP proof: use the one in the DPoP-Nonce header.", CodeField: http.StatusBadRequest}
	case errors.Is(err, dpop.ErrInvalidProof):
		return invalidDPoPProof(dpop.Reason(err))
	case errors.Is(err, store.ErrUnavailable):
		return asUnavailable(err) // 503 temporarily_unavailable
	default:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
}

func invalidDPoPProof(desc string) error {
	return &fosite.RFC6749Error{ErrorField: "invalid_dpop_proof", DescriptionField: "The DPoP proof is invalid: " + desc + ".", CodeField: http.StatusBadRequest}
}

// tokenProof verifies the DPoP proof of a token request: nil without one.
// It runs before fosite reads the request, so that a use_dpop_nonce answer
// leaves the authorization code (and its PKCE record) usable for the
// client's retry.
func (p *Provider) tokenProof(ctx context.Context, r *http.Request) (*dpop.Proof, error) {
	h := r.Header.Values(dpop.Header)
	if len(h) == 0 {
		return nil, nil
	}
	proof, err := p.dpop.Verify(ctx, h, dpop.Request{Method: r.Method, URL: p.url(pathToken)})
	if err != nil {
		return nil, dpopOAuthError(err)
	}
	return proof, nil
}

// dpopJKTParam is the authorization request parameter binding the code to
// a DPoP key (RFC 9449 10).
const dpopJKTParam = "dpop_jkt"

// checkDPoPJKT refuses a malformed dpop_jkt, and one with a response type
// that issues tokens from the authorization endpoint (they could not be
// bound: no proof reaches that endpoint).
func checkDPoPJKT(ar fosite.AuthorizeRequester) error {
	jkt := ar.GetRequestForm().Get(dpopJKTParam)
	if jkt == "" {
		return nil
	}
	if b, err := base64.RawURLEncoding.DecodeString(jkt); err != nil || len(b) != sha256.Size {
		return fosite.ErrInvalidRequest.WithHint("The dpop_jkt parameter must be a base64url SHA-256 JWK thumbprint.")
	}
	if !ar.GetResponseTypes().ExactOne("code") {
		return fosite.ErrInvalidRequest.WithHint("The dpop_jkt parameter is only supported with response_type code.")
	}
	return nil
}

// bindCodeToDPoPKey records an authorization request's dpop_jkt in the
// code's session: the code can then only be exchanged with a proof of that
// key (bindDPoP).
func bindCodeToDPoPKey(ar fosite.AuthorizeRequester, sess fosite.Session) {
	if jkt := ar.GetRequestForm().Get(dpopJKTParam); jkt != "" {
		_ = setSessionJKT(sess, jkt)
	}
}

// pushedDPoP checks a pushed authorization request's resources and
// dpop_jkt now rather than when the browser arrives, and binds the code to
// the key of the request's DPoP proof, if any (RFC 9449 10.1): the proof's
// thumbprint becomes the pushed request's dpop_jkt (one already there must
// be the same).
func (p *Provider) pushedDPoP(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, c *clients.Client) error {
	if err := authorizeResources(ar, c); err != nil {
		return err
	}
	h := r.Header.Values(dpop.Header)
	if len(h) > 0 {
		p.setDPoPNonce(w)
		proof, err := p.dpop.Verify(r.Context(), h, dpop.Request{Method: r.Method, URL: p.url(pathPAR)})
		if err != nil {
			return dpopOAuthError(err)
		}
		form := ar.GetRequestForm()
		if jkt := form.Get(dpopJKTParam); jkt != "" && jkt != proof.JKT {
			return invalidDPoPProof("dpop_jkt is not the thumbprint of the proof's key")
		}
		form.Set(dpopJKTParam, proof.JKT)
	}
	return checkDPoPJKT(ar)
}

// bindDPoP applies a token request's proof to its grant: the new tokens are
// bound to the proof's key, or are bearer tokens without a proof. A client
// registered with dpop_bound_access_tokens must send one; a public client's
// refresh token is bound to the key of the proof it was issued with, so a
// refresh must prove that same key (RFC 9449 5).
func (p *Provider) bindDPoP(ar fosite.AccessRequester, proof *dpop.Proof) error {
	c, _ := ar.GetClient().(*clients.Client)
	if proof == nil && c != nil && c.DPoPBoundAccessTokens() {
		return invalidDPoPProof("this client must send a DPoP proof with every token request")
	}
	if ar.GetGrantTypes().ExactOne("authorization_code") {
		// The code's session holds the authorization request's dpop_jkt.
		if bound := sessionJKT(ar.GetSession()); bound != "" && (proof == nil || proof.JKT != bound) {
			return invalidDPoPProof("the authorization code is bound to another key (dpop_jkt), or the request has no proof")
		}
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") && ar.GetClient().IsPublic() {
		if bound := sessionJKT(ar.GetSession()); bound != "" && (proof == nil || proof.JKT != bound) {
			return invalidDPoPProof("the refresh token is bound to another key, or the request has no proof")
		}
	}
	jkt := ""
	if proof != nil {
		jkt = proof.JKT
	}
	return setSessionJKT(ar.GetSession(), jkt)
}

// dpopTokenResponse marks a bound access token's type.
func dpopTokenResponse(ar fosite.AccessRequester, resp fosite.AccessResponder) {
	if sessionJKT(ar.GetSession()) != "" {
		resp.SetTokenType(dpopTokenType)
	}
}

// addConfirmation adds cnf.jkt (RFC 9449 6.1) to a bound JWT access token.
func addConfirmation(claims map[string]any, s fosite.Session) {
	if jkt := sessionJKT(s); jkt != "" {
		claims["cnf"] = map[string]any{"jkt": jkt}
	}
}

// introspectDPoP adds cnf.jkt (RFC 9449 6.2) and the DPoP token type to the
// introspection of a bound access token, or of a public client's bound
// refresh token.
func introspectDPoP(resp map[string]any, tu fosite.TokenUse, ar fosite.Requester) {
	jkt := sessionJKT(ar.GetSession())
	if jkt == "" || (tu != fosite.AccessToken && !ar.GetClient().IsPublic()) {
		return
	}
	resp["cnf"] = map[string]any{"jkt": jkt}
	if tu == fosite.AccessToken {
		resp["token_type"] = dpopTokenType
	}
}

// accessToken reads the access token of a userinfo request: with the DPoP
// scheme from the Authorization header (dpopScheme true), else as a bearer
// token (bearerToken).
func accessToken(r *http.Request) (token string, dpopScheme bool, problem string) {
	if scheme, value, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, dpopTokenType) {
		if token = strings.TrimSpace(value); token == "" {
			return "", true, "The DPoP authorization has no access token."
		}
		return token, true, ""
	}
	token, problem = bearerToken(r)
	return token, false, problem
}

// checkSenderConstraint enforces a token's binding at a protected resource
// (userinfo): a bound token only with the DPoP scheme and a proof of its
// key for this request, an unbound token only as a bearer token. On
// failure it has answered (RFC 9449 7).
func (p *Provider) checkSenderConstraint(w http.ResponseWriter, r *http.Request, token string, dpopScheme bool, ar fosite.Requester) bool {
	jkt := sessionJKT(ar.GetSession())
	switch {
	case !dpopScheme && jkt == "":
		return true
	case !dpopScheme:
		dpopChallenge(w, http.StatusUnauthorized, "invalid_token", "The access token is DPoP-bound: send it with the DPoP scheme and a proof.")
		return false
	case jkt == "":
		dpopChallenge(w, http.StatusUnauthorized, "invalid_token", "The access token is not DPoP-bound: send it as a bearer token.")
		return false
	}
	proof, err := p.dpop.Verify(r.Context(), r.Header.Values(dpop.Header), dpop.Request{Method: r.Method, URL: p.url(pathUserinfo), AccessToken: token})
	switch {
	case errors.Is(err, dpop.ErrUseNonce):
		dpopChallenge(w, http.StatusUnauthorized, "use_dpop_nonce", "The resource server requires a nonce in the DPoP proof.")
		return false
	case errors.Is(err, dpop.ErrInvalidProof):
		dpopChallenge(w, http.StatusUnauthorized, "invalid_dpop_proof", dpop.Reason(err))
		return false
	case err != nil:
		p.log.Error("userinfo: checking a DPoP proof", zap.Error(err))
		if errors.Is(err, store.ErrUnavailable) {
			bearerError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service cannot reach its database right now. Try again later.")
			return false
		}
		bearerError(w, http.StatusInternalServerError, "server_error", "The DPoP proof could not be checked.")
		return false
	case proof.JKT != jkt:
		dpopChallenge(w, http.StatusUnauthorized, "invalid_dpop_proof", "the proof's key is not the key the access token is bound to")
		return false
	}
	return true
}

// dpopChallenge answers a protected resource request with a DPoP challenge
// (RFC 9449 7.1).
func dpopChallenge(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP realm="userinfo", error=%q, error_description=%q, algs=%q`, code, desc, strings.Join(dpop.Algorithms, " ")))
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// dpopDiscovery adds the DPoP metadata (RFC 9449 5.1).
func dpopDiscovery(doc map[string]any) {
	doc["dpop_signing_alg_values_supported"] = dpop.Algorithms
}

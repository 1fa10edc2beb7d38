package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// serveUserinfo is the UserInfo endpoint (OpenID Connect Core 5.3): GET or
// POST with the access token as a bearer token (RFC 6750 2.1, 2.2).
func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	p.setDPoPNonce(w)
	token, dpopScheme, problem := accessToken(r) // Bearer or DPoP (dpop.go)
	if problem != "" {
		bearerError(w, http.StatusBadRequest, "invalid_request", problem)
		return
	}
	if token == "" {
		// RFC 6750 3.1: no error code when the request had no credentials.
		w.Header().Set("WWW-Authenticate", `Bearer realm="userinfo"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The request has no access token."})
		return
	}
	sess := emptySession()
	_, ar, err := p.oauth2.IntrospectToken(r.Context(), token, fosite.AccessToken, sess)
	if err != nil {
		rfc := fosite.ErrorToRFC6749Error(err)
		if rfc.CodeField >= 500 {
			p.log.Error("userinfo: introspecting token", zap.String("debug", rfc.DebugField), zap.Error(rfc.Cause()))
			if errors.Is(err, store.ErrUnavailable) {
				bearerError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service cannot reach its database right now. Try again later.")
				return
			}
			bearerError(w, http.StatusInternalServerError, "server_error", "The token could not be checked.")
			return
		}
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	}
	if !p.checkSenderConstraint(w, r, token, dpopScheme, ar) { // dpop.go
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
		return
	}
	s, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok {
		bearerError(w, http.StatusInternalServerError, "server_error", "The token's session is unreadable.")
		return
	}
	u, err := p.users.Lookup(s.Username)
	if errors.Is(err, users.ErrUnavailable) { // the user directory is down
		bearerError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service cannot reach the user directory right now. Try again later.")
		return
	}
	if err != nil || u.Disabled {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The user behind the access token no longer exists or is disabled.")
		return
	}
	c, _ := ar.GetClient().(*clients.Client)
	claims := p.claims.Released(c.ClaimsPolicy(), u, ar.GetGrantedScopes())
	claims["sub"] = s.Subject
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if c != nil && (c.UserinfoAlg() != "" || c.UserinfoEncryption().Alg != "") {
		p.writeSignedUserinfo(r.Context(), w, c, claims)
		return
	}
	writeJSON(w, http.StatusOK, claims)
}

// bearerToken extracts the access token from the Authorization header or a
// form-encoded POST body. Using both is an error (RFC 6750 2). A malformed
// request yields problem instead: the error_description sent to the client.
func bearerToken(r *http.Request) (token, problem string) {
	var fromHeader, fromBody string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", "The Authorization header must use the Bearer scheme."
		}
		fromHeader = strings.TrimSpace(value)
	}
	if r.Method == http.MethodPost {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				return "", "The request body is not a valid form."
			}
			fromBody = r.PostForm.Get("access_token")
		}
	}
	if fromHeader != "" && fromBody != "" {
		return "", "The access token must be sent in one place only."
	}
	return fromHeader + fromBody, ""
}

// bearerError answers with WWW-Authenticate (RFC 6750 3) and a JSON body.
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="userinfo", error=%q, error_description=%q`, code, desc))
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeSignedUserinfo answers with the claims as a JWT signed with the
// client's userinfo_signed_response_alg (OpenID Connect Core 5.3.2), with
// iss and aud added; with userinfo_encrypted_response_alg, that JWT (or the
// JSON, when unsigned) encrypted to the client's key.
func (p *Provider) writeSignedUserinfo(ctx context.Context, w http.ResponseWriter, c *clients.Client, claims map[string]any) {
	claims["iss"] = p.issuer
	claims["aud"] = c.GetID()
	var token string
	var err error
	if c.UserinfoAlg() != "" {
		token, err = p.keys.Sign(claims, c.UserinfoAlg(), nil)
	}
	if e := c.UserinfoEncryption(); err == nil && e.Alg != "" {
		payload := []byte(token)
		if token == "" {
			payload, err = json.Marshal(claims)
		}
		if err == nil {
			token, err = p.clientAuth.Encrypt(ctx, c, e, payload, c.UserinfoAlg() != "")
		}
	}
	if err != nil {
		p.log.Error("userinfo: signing or encrypting the response", zap.String("client_id", c.GetID()), zap.Error(err))
		bearerError(w, http.StatusInternalServerError, "server_error", "The response could not be signed or encrypted.")
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(token))
}

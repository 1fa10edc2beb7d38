package storetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// TestFositeEndToEnd runs fosite's own handlers (PAR, authorization code with
// PKCE, OpenID Connect, refresh, introspection) against the store, to check
// that the semantics fosite relies on hold, not just the interface shapes.
func testFositeEndToEnd(t *testing.T, db *store.DB) {
	st := store.NewFosite(db, Clients("c"))
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyGetter := func(context.Context) (any, error) { return key, nil }
	config := &fosite.Config{
		GlobalSecret:                   []byte("0123456789abcdef0123456789abcdef"),
		IDTokenIssuer:                  "https://auth.example",
		AccessTokenLifespan:            time.Hour,
		RefreshTokenLifespan:           24 * time.Hour,
		AuthorizeCodeLifespan:          10 * time.Minute,
		PushedAuthorizeContextLifespan: time.Minute,
		EnforcePKCE:                    true,
		SendDebugMessagesToClients:     true,
	}
	provider := compose.Compose(config, st,
		&compose.CommonStrategy{
			CoreStrategy:               compose.NewOAuth2HMACStrategy(config),
			OpenIDConnectTokenStrategy: compose.NewOpenIDConnectStrategy(keyGetter, config),
			Signer:                     &jwt.DefaultSigner{GetPrivateKey: keyGetter},
		},
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
		compose.PushedAuthorizeHandlerFactory,
	)
	ctx := context.Background()

	const (
		redirectURI = "https://app.example/cb"
		verifier    = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
		nonce       = "nonce-0123456789"
	)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	authParams := url.Values{
		"response_type":         {"code"},
		"client_id":             {"c"},
		"redirect_uri":          {redirectURI},
		"scope":                 {"openid offline email"},
		"state":                 {"state-0123456789"},
		"nonce":                 {nonce},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}

	// authorize runs the authorization endpoint for the user alice and
	// returns the code.
	authorize := func(t *testing.T, params url.Values) string {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/authorize?"+params.Encode(), nil)
		ar, err := provider.NewAuthorizeRequest(ctx, r)
		if err != nil {
			t.Fatalf("authorize request: %v", fosite.ErrorToRFC6749Error(err).WithExposeDebug(true).GetDescription())
		}
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		sess := openid.NewDefaultSession()
		sess.Subject, sess.Username = "sub-alice", "alice"
		sess.Claims.Subject = "sub-alice"
		sess.Claims.AuthTime = time.Now().UTC().Truncate(time.Second)
		sess.Claims.Extra = map[string]any{"email": "alice@example.com"}
		resp, err := provider.NewAuthorizeResponse(ctx, ar, sess)
		if err != nil {
			t.Fatalf("authorize response: %v", fosite.ErrorToRFC6749Error(err).WithExposeDebug(true).GetDescription())
		}
		code := resp.GetParameters().Get("code")
		if code == "" {
			t.Fatal("no code")
		}
		return code
	}
	// token calls the token endpoint.
	token := func(form url.Values) (fosite.AccessResponder, error) {
		form.Set("client_id", "c")
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		areq, err := provider.NewAccessRequest(ctx, r, openid.NewDefaultSession())
		if err != nil {
			return nil, err
		}
		return provider.NewAccessResponse(ctx, areq)
	}
	exchange := func(code string) (fosite.AccessResponder, error) {
		return token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}})
	}
	refresh := func(rt string) (fosite.AccessResponder, error) {
		return token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}
	active := func(tok string, use fosite.TokenUse) bool {
		_, _, err := provider.IntrospectToken(ctx, tok, use, openid.NewDefaultSession())
		return err == nil
	}
	mustTokens := func(t *testing.T, resp fosite.AccessResponder, err error) (at, rt, idt string) {
		t.Helper()
		if err != nil {
			t.Fatalf("token: %v", fosite.ErrorToRFC6749Error(err).WithExposeDebug(true).GetDescription())
		}
		at = resp.GetAccessToken()
		rt, _ = resp.GetExtra("refresh_token").(string)
		idt, _ = resp.GetExtra("id_token").(string)
		if at == "" || rt == "" || idt == "" {
			t.Fatalf("missing tokens: at=%t rt=%t id=%t", at != "", rt != "", idt != "")
		}
		return at, rt, idt
	}

	t.Run("par, code, refresh, reuse", func(t *testing.T) {
		// Pushed authorization request.
		r := httptest.NewRequest(http.MethodPost, "/par", strings.NewReader(authParams.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		par, err := provider.NewPushedAuthorizeRequest(ctx, r)
		if err != nil {
			t.Fatalf("par request: %v", err)
		}
		parResp, err := provider.NewPushedAuthorizeResponse(ctx, par, openid.NewDefaultSession())
		if err != nil {
			t.Fatalf("par response: %v", err)
		}
		code := authorize(t, url.Values{"client_id": {"c"}, "request_uri": {parResp.GetRequestURI()}})

		t.Run("request_uri is single use", func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/authorize?"+url.Values{"client_id": {"c"}, "request_uri": {parResp.GetRequestURI()}}.Encode(), nil)
			if _, err := provider.NewAuthorizeRequest(ctx, r); err == nil {
				t.Error("second use of the request_uri succeeded")
			}
		})

		resp, err := exchange(code)
		at1, rt1, idt := mustTokens(t, resp, err)
		claims := decodeJWTClaims(t, idt)
		if claims["sub"] != "sub-alice" || claims["nonce"] != nonce || claims["email"] != "alice@example.com" {
			t.Errorf("id token claims = %v", claims)
		}
		if !active(at1, fosite.AccessToken) {
			t.Fatal("access token not active")
		}

		resp, err = refresh(rt1)
		at2, rt2, _ := mustTokens(t, resp, err)
		if active(at1, fosite.AccessToken) {
			t.Error("old access token still active after refresh")
		}
		if !active(at2, fosite.AccessToken) || !active(rt2, fosite.RefreshToken) {
			t.Fatal("new tokens not active")
		}

		// Reusing the rotated refresh token revokes the whole grant.
		if _, err := refresh(rt1); err == nil {
			t.Fatal("reused refresh token accepted")
		}
		if active(at2, fosite.AccessToken) || active(rt2, fosite.RefreshToken) {
			t.Error("grant not revoked after refresh token reuse")
		}
	})

	t.Run("code reuse revokes tokens", func(t *testing.T) {
		code := authorize(t, authParams)
		resp, err := exchange(code)
		at, rt, _ := mustTokens(t, resp, err)
		if _, err := exchange(code); err == nil {
			t.Fatal("code accepted twice")
		}
		if active(at, fosite.AccessToken) || active(rt, fosite.RefreshToken) {
			t.Error("tokens not revoked after code reuse")
		}
	})

	t.Run("wrong verifier", func(t *testing.T) {
		code := authorize(t, authParams)
		_, err := token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
			"code_verifier": {strings.Repeat("x", 43)}})
		if err == nil {
			t.Fatal("wrong PKCE verifier accepted")
		}
	})
}

func decodeJWTClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

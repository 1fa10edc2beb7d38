package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
)

// jwtRequest is a token request of client for alice's grant, as the token
// endpoint hands it to the strategy.
func jwtRequest(tp *epProvider, clientID string, exp time.Time) *fosite.Request {
	sess := emptySession()
	sess.Subject, sess.Username = "sub-alice", "alice"
	sess.Claims.Subject = sess.Subject
	sess.Claims.AuthTime = time.Now().Add(-time.Hour).Truncate(time.Second)
	sess.Claims.AuthenticationMethodsReferences = []string{"pwd", "otp", "mfa"}
	sess.Claims.AuthenticationContextClassReference = "2"
	sess.SetExpiresAt(fosite.AccessToken, exp)
	req := fosite.NewRequest()
	req.ID = randomToken()
	req.Client = tp.clients.Get(clientID)
	req.Session = sess
	req.GrantedScope = fosite.Arguments{"openid", "profile"}
	req.GrantedAudience = fosite.Arguments{"rs"}
	return req
}

func newJWTProvider(t *testing.T) (*epProvider, *tokenStrategy) {
	tp := newEndpointProvider(t, func(c *Config) {
		c.Clients = append(c.Clients, ClientConfig{
			ID: "jwt", Secret: "s", RedirectURIs: []string{"https://jwt.example/cb"}, Audience: []string{"rs"},
			Scopes: []string{"openid", "profile"}, AccessTokenSignedResponseAlg: "ES256", ClaimsPolicy: "at",
		})
		c.ClaimsPolicies = map[string]ClaimsPolicy{"at": {AccessToken: []string{"name", "email"}}}
	})
	return tp, &tokenStrategy{CoreStrategy: compose.NewOAuth2HMACStrategy(tp.fosite), p: tp.Provider}
}

func TestTokenStrategyGeneratesPerClient(t *testing.T) {
	tp, st := newJWTProvider(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Truncate(time.Second)

	// The default client gets an opaque token.
	opaque, sig, err := st.GenerateAccessToken(ctx, jwtRequest(tp, "app", exp))
	if err != nil || isJWT(opaque) || sig == "" || st.AccessTokenSignature(ctx, opaque) != sig {
		t.Fatalf("opaque token %q sig %q err %v", opaque, sig, err)
	}

	token, sig, err := st.GenerateAccessToken(ctx, jwtRequest(tp, "jwt", exp))
	if err != nil {
		t.Fatal(err)
	}
	if !isJWT(token) || sig != token[strings.LastIndex(token, ".")+1:] || st.AccessTokenSignature(ctx, token) != sig {
		t.Fatalf("JWT access token %q, signature %q", token, sig)
	}
	if h := jwtHeaderValue(token, "typ"); h != "at+jwt" {
		t.Errorf("typ = %v", h)
	}
	if h := jwtHeaderValue(token, "alg"); h != "ES256" {
		t.Errorf("alg = %v", h)
	}
	claims, err := tp.keys.Verify(token)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"iss": epIssuer, "sub": "sub-alice", "aud": "[jwt rs]", "client_id": "jwt", "scope": "openid profile",
		"exp": fmt.Sprint(float64(exp.Unix())), "acr": "2", "amr": "[pwd otp mfa]", "name": "Alice",
	}
	for k, v := range want {
		if got := fmt.Sprint(claims[k]); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	// email is in the policy's access_token list but the profile scope
	// does not release it.
	if claims["email"] != nil || claims["jti"] == nil || claims["iat"] == nil || claims["auth_time"] == nil {
		t.Errorf("claims: %v", claims)
	}
}

func TestTokenStrategyValidates(t *testing.T) {
	tp, st := newJWTProvider(t)
	ctx := context.Background()
	req := jwtRequest(tp, "jwt", time.Now().Add(time.Hour))
	token, _, err := st.GenerateAccessToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ValidateAccessToken(ctx, req, token); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	parts := strings.Split(token, ".")
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(raw, &payload)

	resign := func(mutate func(claims map[string]any), header map[string]any) string {
		c := map[string]any{}
		for k, v := range payload {
			c[k] = v
		}
		mutate(c)
		tok, err := tp.keys.Sign(c, "ES256", header)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	expired := jwtRequest(tp, "jwt", time.Now().Add(-time.Minute))
	cases := []struct {
		name  string
		req   fosite.Requester
		token string
		want  *fosite.RFC6749Error
	}{
		{"tampered payload", req, parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory"}`)) + "." + parts[2], fosite.ErrTokenSignatureMismatch},
		{"an ID token (typ JWT)", req, resign(func(map[string]any) {}, nil), fosite.ErrInvalidTokenFormat},
		{"expired exp claim", req, resign(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, map[string]any{"typ": "at+jwt"}), fosite.ErrTokenExpired},
		{"expired session", expired, token, fosite.ErrTokenExpired},
	}
	for _, tc := range cases {
		err := st.ValidateAccessToken(ctx, tc.req, tc.token)
		if rfc := fosite.ErrorToRFC6749Error(err); err == nil || rfc.ErrorField != tc.want.ErrorField {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.want.ErrorField)
		}
	}
	// Opaque tokens still go to the HMAC strategy.
	opaqueReq := jwtRequest(tp, "app", time.Now().Add(time.Hour))
	opaque, _, _ := st.GenerateAccessToken(ctx, opaqueReq)
	if err := st.ValidateAccessToken(ctx, opaqueReq, opaque); err != nil {
		t.Errorf("opaque token: %v", err)
	}
	if err := st.ValidateAccessToken(ctx, opaqueReq, opaque+"x"); err == nil {
		t.Error("a tampered opaque token validated")
	}
}

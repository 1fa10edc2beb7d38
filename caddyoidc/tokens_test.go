package caddyoidc_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// jwtClients: RFC 9068 access tokens and signed userinfo, per client.
const jwtClients = `
		client jwt-app {
			client_secret "jwt-secret"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			audience https://api.example.com
			access_token_signed_response_alg RS256
			userinfo_signed_response_alg ES256
		}
		client jwt-es {
			client_secret "jwt-es-secret"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			access_token_signed_response_alg ES256
			userinfo_signing_algorithm RS256
		}
		client opaque-app {
			client_secret "opaque-secret"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			access_token_signed_response_alg none
			userinfo_signed_response_alg none
		}`

// verifyAccessJWT checks an access token as a resource server would: the
// typ header says at+jwt (RFC 9068 4), and the signature verifies against
// the provider's JWKS (go-oidc's RemoteKeySet). It returns the claims.
func verifyAccessJWT(t *testing.T, r *rp, jwksURL, token string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("access token is not a compact JWS: %v (%.40q)", err, token)
	}
	h := jws.Signatures[0].Header
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		t.Errorf("typ = %v, want at+jwt", typ)
	}
	if h.KeyID == "" {
		t.Error("access token has no kid")
	}
	payload, err := oidc.NewRemoteKeySet(ctx(t), jwksURL).VerifySignature(ctx(t), token)
	if err != nil {
		t.Fatalf("access token does not verify against the JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// endpointPost posts a form with HTTP Basic client credentials.
func endpointPost(t *testing.T, u string, form url.Values, user, pass string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestJWTAccessTokens(t *testing.T) {
	e := newEnv(t, jwtClients)
	e.start()
	jwksURL := e.issuer + "/jwks.json"

	for _, tc := range []struct{ client, secret, alg string }{
		{"jwt-app", "jwt-secret", "RS256"},
		{"jwt-es", "jwt-es-secret", "ES256"},
	} {
		t.Run(tc.client, func(t *testing.T) {
			r := newRP(t, e.issuer, tc.client, tc.secret, oauth2.AuthStyleInHeader)
			b := newBrowser(t, e.issuer)
			authURL := r.config.AuthCodeURL(randString(t), oidc.Nonce(randString(t)))
			if tc.client == "jwt-app" {
				authURL += "&audience=" + url.QueryEscape("https://api.example.com")
			}
			params := loginFlow(t, b, authURL, "alice")
			before := time.Now().Unix()
			tok, err := r.config.Exchange(ctx(t), params.Get("code"))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if alg := jwtHeader(t, tok.AccessToken)["alg"]; alg != tc.alg {
				t.Errorf("alg = %v, want %s", alg, tc.alg)
			}
			claims := verifyAccessJWT(t, r, jwksURL, tok.AccessToken)
			idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
			if err != nil {
				t.Fatal(err)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash of a JWT access token: %v", err)
			}
			var idc struct {
				AuthTime int64 `json:"auth_time"`
			}
			_ = idt.Claims(&idc)
			wantAud := []any{tc.client}
			if tc.client == "jwt-app" {
				wantAud = append(wantAud, "https://api.example.com")
			}
			if claims["iss"] != e.issuer || claims["sub"] != idt.Subject || claims["client_id"] != tc.client ||
				fmt.Sprint(claims["aud"]) != fmt.Sprint(wantAud) {
				t.Errorf("iss/sub/client_id/aud: %v", claims)
			}
			if claims["scope"] != "openid profile email groups offline_access" {
				t.Errorf("scope = %v", claims["scope"])
			}
			iat, exp := int64(as[float64](t, claims["iat"])), int64(as[float64](t, claims["exp"]))
			if iat < before-1 || iat > time.Now().Unix() || exp-iat < 3590 || exp-iat > 3610 {
				t.Errorf("iat %d exp %d: want now and now+1h", iat, exp)
			}
			if jti, _ := claims["jti"].(string); len(jti) < 16 {
				t.Errorf("jti = %v", claims["jti"])
			}
			if int64(as[float64](t, claims["auth_time"])) != idc.AuthTime || claims["acr"] != "1" || fmt.Sprint(claims["amr"]) != "[pwd]" {
				t.Errorf("auth_time/acr/amr: %v (id token auth_time %d)", claims, idc.AuthTime)
			}
			if claims["email"] != nil || claims["name"] != nil {
				t.Errorf("user claims in the access token without a claims policy: %v", claims)
			}

			// Userinfo and introspection accept it.
			if _, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok)); err != nil {
				t.Fatalf("userinfo with a JWT access token: %v", err)
			}
			status, body := endpointPost(t, e.issuer+"/api/oidc/introspection", url.Values{"token": {tok.AccessToken}}, tc.client, tc.secret)
			if status != 200 || !strings.Contains(body, `"active":true`) || !strings.Contains(body, `"token_use":"access_token"`) {
				t.Errorf("introspection: %d %s", status, body)
			}

			// A tampered payload with the genuine signature is refused.
			parts := strings.Split(tok.AccessToken, ".")
			other := maps.Clone(claims)
			other["sub"] = "someone-else"
			payload, _ := json.Marshal(other)
			forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
			if _, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: forged, TokenType: "Bearer"})); err == nil {
				t.Error("userinfo accepted a tampered JWT access token")
			}

			// Refresh: a new JWT, new iat (a second later on the
			// provider's clock), the original auth_time.
			advanceClock(t, time.Second)
			fresh, err := r.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			fc := verifyAccessJWT(t, r, jwksURL, fresh.AccessToken)
			if fc["auth_time"] != claims["auth_time"] || fc["sub"] != claims["sub"] {
				t.Errorf("refreshed token: auth_time %v sub %v, want %v %v", fc["auth_time"], fc["sub"], claims["auth_time"], claims["sub"])
			}
			if int64(as[float64](t, fc["iat"])) <= iat || fc["jti"] == claims["jti"] {
				t.Errorf("refreshed token keeps iat %v / jti", fc["iat"])
			}

			// Revoked: userinfo and introspection refuse it.
			status, body = endpointPost(t, e.issuer+"/api/oidc/revocation", url.Values{"token": {fresh.AccessToken}, "token_type_hint": {"access_token"}}, tc.client, tc.secret)
			if status != 200 {
				t.Fatalf("revocation: %d %s", status, body)
			}
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/api/oidc/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+fresh.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			closeBody(resp)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("userinfo with a revoked JWT access token: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			_, body = endpointPost(t, e.issuer+"/api/oidc/introspection", url.Values{"token": {fresh.AccessToken}}, tc.client, tc.secret)
			if !strings.Contains(body, `"active":false`) {
				t.Errorf("introspection of a revoked JWT access token: %s", body)
			}
		})
	}

	// A client without the option keeps opaque tokens.
	r := newRP(t, e.issuer, "opaque-app", "opaque-secret", oauth2.AuthStyleInHeader)
	params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "alice")
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok.AccessToken, ".") == 2 || !strings.HasPrefix(tok.AccessToken, "ory_at_") {
		t.Errorf("opaque-app got %.12q..., want an opaque token", tok.AccessToken)
	}
}

func TestSignedUserinfo(t *testing.T) {
	e := newEnv(t, jwtClients)
	e.start()
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if fmt.Sprint(meta["userinfo_signing_alg_values_supported"]) != "[none RS256 ES256]" {
		t.Errorf("userinfo_signing_alg_values_supported = %v", meta["userinfo_signing_alg_values_supported"])
	}

	for _, tc := range []struct{ client, secret, alg string }{
		{"jwt-app", "jwt-secret", "ES256"},
		{"jwt-es", "jwt-es-secret", "RS256"}, // the older option name
		{"opaque-app", "opaque-secret", ""},
	} {
		t.Run(tc.client, func(t *testing.T) {
			r := newRP(t, e.issuer, tc.client, tc.secret, oauth2.AuthStyleInHeader)
			params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "bob")
			tok, err := r.config.Exchange(ctx(t), params.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
			if err != nil {
				t.Fatal(err)
			}

			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/api/oidc/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			closeBody(resp)
			ct := resp.Header.Get("Content-Type")
			if tc.alg == "" {
				if !strings.HasPrefix(ct, "application/json") || !json.Valid(raw) {
					t.Fatalf("unsigned userinfo: %s %.80s", ct, raw)
				}
			} else {
				if ct != "application/jwt" {
					t.Fatalf("Content-Type = %q, want application/jwt", ct)
				}
				if alg := jwtHeader(t, string(raw))["alg"]; alg != tc.alg {
					t.Errorf("alg = %v, want %s", alg, tc.alg)
				}
				if kid := jwtHeader(t, string(raw))["kid"]; kid == nil {
					t.Error("signed userinfo has no kid")
				}
				c := jwtClaims(t, string(raw))
				if c["iss"] != e.issuer || c["aud"] != tc.client || c["sub"] != idt.Subject || c["email"] != "bob@example.com" {
					t.Errorf("signed userinfo claims: %v", c)
				}
			}

			// go-oidc verifies an application/jwt answer against the JWKS.
			ui, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("go-oidc userinfo: %v", err)
			}
			if ui.Subject != idt.Subject || ui.Email != "bob@example.com" {
				t.Errorf("go-oidc userinfo: sub %q email %q", ui.Subject, ui.Email)
			}
		})
	}
}

// sectorServer serves a sector_identifier_uri document.
func sectorServer(t *testing.T, uris ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(uris)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPairwiseSubjects(t *testing.T) {
	srv := sectorServer(t, rpCallback, "https://elsewhere.example/cb")
	sector := strings.TrimPrefix(srv.URL, "http://")
	e := newEnv(t, `
		client sector-uri {
			client_secret "s1"
			redirect_uris `+rpCallback+`
			sector_identifier_uri `+srv.URL+`/sector.json
		}
		client sector-host {
			client_secret "s2"
			redirect_uris `+rpCallback+`
			sector_identifier `+sector+`
		}
		client other-sector {
			client_secret "s3"
			redirect_uris `+rpCallback+`
			sector_identifier apps.example.org
		}
		client public-sub {
			client_secret "s4"
			redirect_uris `+rpCallback+`
		}`)
	e.start()
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if fmt.Sprint(meta["subject_types_supported"]) != "[public pairwise]" {
		t.Errorf("subject_types_supported = %v", meta["subject_types_supported"])
	}

	// subOf signs user in to client and returns the sub of the ID token,
	// after checking that userinfo and introspection say the same.
	subOf := func(user, client, secret string) string {
		t.Helper()
		r := newRP(t, e.issuer, client, secret, oauth2.AuthStyleInHeader)
		r.config.Scopes = []string{oidc.ScopeOpenID, "profile"}
		params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), user)
		tok, err := r.config.Exchange(ctx(t), params.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
		if err != nil {
			t.Fatal(err)
		}
		ui, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		_, body := endpointPost(t, e.issuer+"/api/oidc/introspection", url.Values{"token": {tok.AccessToken}}, client, secret)
		if ui.Subject != idt.Subject || !strings.Contains(body, `"sub":"`+idt.Subject+`"`) {
			t.Errorf("%s: userinfo sub %q, introspection %s, ID token sub %q", client, ui.Subject, body, idt.Subject)
		}
		return idt.Subject
	}
	a1 := subOf("alice", "sector-uri", "s1")
	a2 := subOf("alice", "sector-host", "s2")
	a3 := subOf("alice", "other-sector", "s3")
	a4 := subOf("alice", "public-sub", "s4")
	b1 := subOf("bob", "sector-uri", "s1")
	if a1 != a2 {
		t.Errorf("same sector, different subs: %q %q", a1, a2)
	}
	if a1 == a3 || a1 == a4 || a3 == a4 || a1 == b1 {
		t.Errorf("subs must differ across sectors, from the public sub and between users: %q %q %q %q %q", a1, a3, a4, b1, a2)
	}
	if again := subOf("alice", "sector-uri", "s1"); again != a1 {
		t.Errorf("pairwise sub is not stable: %q then %q", a1, again)
	}
}

func TestClientLifespan(t *testing.T) {
	e := newEnv(t, `
		client short-lived {
			client_secret "short"
			redirect_uris `+rpCallback+`
			scopes openid profile offline_access
			lifespan short
		}
		client quick-code {
			client_secret "quick"
			redirect_uris `+rpCallback+`
			lifespan quick
		}
		client default-lived {
			client_secret "default"
			redirect_uris `+rpCallback+`
			scopes openid profile offline_access
		}`)
	e.extra = `
		lifespan short {
			access_token 5m
			id_token 10m
			refresh_token 20m
		}
		lifespan quick {
			authorize_code 1s
		}`
	e.start()

	check := func(client, secret string, wantAT, wantID, wantRT time.Duration) {
		t.Helper()
		r := newRP(t, e.issuer, client, secret, oauth2.AuthStyleInHeader)
		r.config.Scopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}
		params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "alice")
		status, body := postToken(t, e.issuer, url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")}, "redirect_uri": {rpCallback}}, client, secret)
		if status != 200 {
			t.Fatalf("%s: token: %d %v", client, status, body)
		}
		if in := time.Duration(as[float64](t, body["expires_in"])) * time.Second; in < wantAT-5*time.Second || in > wantAT {
			t.Errorf("%s: expires_in = %v, want %v", client, in, wantAT)
		}
		idc := jwtClaims(t, as[string](t, body["id_token"]))
		if life := time.Duration(as[float64](t, idc["exp"])-as[float64](t, idc["iat"])) * time.Second; life < wantID-2*time.Second || life > wantID+2*time.Second {
			t.Errorf("%s: ID token lives %v, want %v", client, life, wantID)
		}
		_, intro := endpointPost(t, e.issuer+"/api/oidc/introspection", url.Values{"token": {as[string](t, body["refresh_token"])}}, client, secret)
		var ir map[string]any
		_ = json.Unmarshal([]byte(intro), &ir)
		exp, _ := ir["exp"].(float64)
		if left := time.Until(time.Unix(int64(exp), 0)); left < wantRT-10*time.Second || left > wantRT+2*time.Second {
			t.Errorf("%s: refresh token expires in %v, want %v (%s)", client, left, wantRT, intro)
		}
		// The refreshed ID token follows the client's lifespan too.
		status, body = postToken(t, e.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {as[string](t, body["refresh_token"])}}, client, secret)
		if status != 200 {
			t.Fatalf("%s: refresh: %d %v", client, status, body)
		}
		idc = jwtClaims(t, as[string](t, body["id_token"]))
		if life := time.Duration(as[float64](t, idc["exp"])-as[float64](t, idc["iat"])) * time.Second; life < wantID-2*time.Second || life > wantID+2*time.Second {
			t.Errorf("%s: refreshed ID token lives %v, want %v", client, life, wantID)
		}
		if in := time.Duration(as[float64](t, body["expires_in"])) * time.Second; in < wantAT-5*time.Second || in > wantAT {
			t.Errorf("%s: refreshed expires_in = %v, want %v", client, in, wantAT)
		}
	}
	check("short-lived", "short", 5*time.Minute, 10*time.Minute, 20*time.Minute)
	check("default-lived", "default", time.Hour, time.Hour, 90*time.Minute)

	// An authorization code of a client with a 1s code lifespan expires.
	r := newRP(t, e.issuer, "quick-code", "quick", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{oidc.ScopeOpenID}
	params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "alice")
	untilExpired(time.Now().Add(time.Second)) // issued before now, for 1s (lifespan quick)
	status, body := postToken(t, e.issuer, url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")}, "redirect_uri": {rpCallback}}, "quick-code", "quick")
	if status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("expired code: %d %v, want invalid_grant", status, body)
	}
}

package provider

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jarProvider is an endpoint provider with a client whose request objects
// are served by srv, over TLS the provider trusts.
func jarProvider(t *testing.T) (*epProvider, *ecdsa.PrivateKey, *httptest.Server, map[string]string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/req.jwt", http.StatusFound)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("a", requestURIMaxBytes+1)))
		default:
			w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
			_, _ = w.Write([]byte(served[r.URL.Path]))
		}
	}))
	t.Cleanup(srv.Close)
	tp := newEndpointProvider(t, func(cfg *Config) {
		cfg.Clients = append(cfg.Clients, ClientConfig{
			ID: "jar", Secret: "jar-secret", RedirectURIs: []string{"https://jar.example/cb"}, ConsentMode: "implicit",
			RequestURIs: []string{srv.URL + "/req.jwt", srv.URL + "/redirect", srv.URL + "/big"},
			JSONWebKeys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig"}},
		})
	})
	tp.fetchClient.Transport = srv.Client().Transport
	return tp, key, srv, served
}

func jarObject(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

func jarClaims(kv ...any) map[string]any {
	c := map[string]any{"iss": "jar", "aud": epIssuer, "client_id": "jar", "response_type": "code", "redirect_uri": "https://jar.example/cb",
		"scope": "openid", "state": "object-state", "nonce": "object-nonce", "exp": time.Now().Add(time.Minute).Unix()}
	for i := 0; i+1 < len(kv); i += 2 {
		name, _ := kv[i].(string)
		c[name] = kv[i+1]
	}
	return c
}

func redirectParams(t *testing.T, w *httptest.ResponseRecorder, prefix string) url.Values {
	t.Helper()
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("want a redirect to %s, got %d %q %.300s", prefix, w.Code, loc, w.Body)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

func TestRequestObjectByReference(t *testing.T) {
	tp, key, srv, served := jarProvider(t)
	session, _, _ := tp.signIn("alice")
	served["/req.jwt"] = jarObject(t, key, jarClaims())
	cases := []struct {
		name, uri, code string
	}{
		{"fetched and verified", srv.URL + "/req.jwt", ""},
		{"a redirect is not followed", srv.URL + "/redirect", "invalid_request_uri"},
		{"too large", srv.URL + "/big", "invalid_request_uri"},
		{"not registered", srv.URL + "/other.jwt", "invalid_request_uri"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"client_id": {"jar"}, "response_type": {"code"}, "state": {"url-state"}, "request_uri": {tc.uri}}
			params := redirectParams(t, tp.browse(http.MethodGet, epIssuer+pathAuthorize+"?"+q.Encode(), nil, session), "https://jar.example/cb")
			if params.Get("iss") != epIssuer || params.Get("error") != tc.code {
				t.Errorf("%v", params)
			}
			switch {
			case tc.code == "" && (params.Get("code") == "" || params.Get("state") != "object-state"):
				t.Errorf("the object's state should win: %v", params)
			case tc.code != "" && params.Get("state") != "url-state":
				t.Errorf("the URL's state should come back with the error: %v", params)
			}
		})
	}
}

func TestPushedRequestObject(t *testing.T) {
	tp, key, srv, _ := jarProvider(t)
	session, _, _ := tp.signIn("alice")
	w := tp.post(pathPAR, url.Values{"client_id": {"jar"}, "request": {jarObject(t, key, jarClaims())}}, "jar", "jar-secret")
	m := jsonBody(t, w)
	uri, _ := m["request_uri"].(string)
	if w.Code != http.StatusCreated || !tp.isPushedURI(uri) {
		t.Fatalf("push: %d %v", w.Code, m)
	}
	q := url.Values{"client_id": {"jar"}, "request_uri": {uri}}
	params := redirectParams(t, tp.browse(http.MethodGet, epIssuer+pathAuthorize+"?"+q.Encode(), nil, session), "https://jar.example/cb")
	if params.Get("code") == "" || params.Get("state") != "object-state" {
		t.Errorf("%v", params)
	}
	// A bad signature, and request_uri, are refused at the PAR endpoint.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, form := range map[string]url.Values{
		"invalid_request_object": {"client_id": {"jar"}, "request": {jarObject(t, other, jarClaims())}},
		"invalid_request":        {"client_id": {"jar"}, "request_uri": {srv.URL + "/req.jwt"}},
	} {
		w := tp.post(pathPAR, form, "jar", "jar-secret")
		if m := jsonBody(t, w); w.Code != http.StatusBadRequest || m["error"] != name {
			t.Errorf("%s: %d %v", name, w.Code, m)
		}
	}
}

func TestClaimsToParams(t *testing.T) {
	claims, err := decodeClaims([]byte(`{"iss":"c","aud":"x","exp":1,"jti":"j","max_age":3600,"scope":"openid",
		"claims":{"id_token":{"acr":{"essential":true}}},"flag":true,"nothing":null,"big":12345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	got := claimsToParams(claims)
	want := url.Values{"max_age": {"3600"}, "scope": {"openid"}, "claims": {`{"id_token":{"acr":{"essential":true}}}`},
		"flag": {"true"}, "big": {"12345678901234567890"}}
	if got.Encode() != want.Encode() {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

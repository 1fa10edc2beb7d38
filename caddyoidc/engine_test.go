package caddyoidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// TestConfigReachesEngine sets each JSON field of each config struct, one at
// a time, and checks that the engine config built from it (engine.go)
// differs from the one built without it. A field that is used elsewhere
// must be listed, with the reason, in elsewhere; so an option added to a
// struct but not to the conversion fails here, naming the field.
func TestConfigReachesEngine(t *testing.T) {
	repl := caddy.NewReplacer()
	pub, chain := testClientKey(t)
	otherPub, _ := testClientKey(t)
	values := map[string]any{ // fields whose value the conversion checks
		"Handler.clients":                    []Client{{ClientID: "x"}},
		"Handler.authorization_policies":     map[string]AuthorizationPolicy{"p": {DefaultPolicy: "deny"}},
		"AuthorizationPolicy.default_policy": "deny",
		"AuthorizationPolicy.rules":          []PolicyRule{{Policy: "deny"}},
		"PolicyRule.policy":                  "two_factor",
		"PolicyRule.subject":                 Subjects{{"user:x"}},
		"Client.jwks":                        []JWK{{Key: pub}},
		"JWK.key":                            otherPub,
		"JWK.algorithm":                      "ES256",
		"JWK.certificate_chain":              chain,
		// Lifespan.grants holds Lifespans: set by hand, it would recurse.
		"Handler.lifespans":   map[string]Lifespan{"x": {AccessToken: caddy.Duration(7)}},
		"Lifespan.grants":     map[string]Lifespan{"authorize_code": {AccessToken: caddy.Duration(7)}},
		"PolicyRule.networks": []string{"10.0.0.0/8"},
	}
	elsewhere := map[string]string{
		"Handler.users":                "a guest module; Provision loads it into Config.Users",
		"Handler.storage":              "a guest module; Provision loads it into Config.DB",
		"Handler.jwks":                 "signing keys: signingKeys (keys.go) -> keys.Options -> Config.Keys",
		"Handler.issuer_private_key":   "signing keys: signingKeys (keys.go) -> keys.Options -> Config.Keys",
		"JWK.use":                      "checked only: sig, the one value, is also the default",
		"Handler.key_rotation_period":  "signing keys: keyOptions (keys.go) -> keys.Options -> Config.Keys",
		"Handler.key_refresh_interval": "signing keys: keyOptions (keys.go) -> keys.Options -> Config.Keys",
	}

	seen := map[string]bool{}
	check := func(name string, base any, convert func(v any) (any, error)) {
		t.Helper()
		want, err := convert(base)
		if err != nil {
			t.Fatalf("%s: converting the baseline: %v", name, err)
		}
		typ := reflect.TypeOf(base)
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			key := name + "." + tag
			seen[key] = true
			if _, ok := elsewhere[key]; ok {
				continue
			}
			v := reflect.New(typ).Elem()
			v.Set(reflect.ValueOf(base))
			if val, ok := values[key]; ok {
				v.Field(i).Set(reflect.ValueOf(val))
			} else {
				v.Field(i).Set(nonZero(t, key, f.Type))
			}
			got, err := convert(v.Interface())
			if err != nil {
				t.Errorf("JSON field %s: converting: %v", key, err)
				continue
			}
			if reflect.DeepEqual(got, want) {
				t.Errorf("JSON field %s does not reach the engine config: convert it in engine.go, or say where it goes in elsewhere", key)
			}
		}
	}

	check("Handler", Handler{}, converter(func(h Handler) (any, error) { return h.engineConfig(repl) }))
	check("Client", Client{}, converter(func(c Client) (any, error) { return c.engineConfig(repl) }))
	check("JWK", JWK{Key: pub}, converter(func(k JWK) (any, error) {
		return Client{JWKS: []JWK{k}}.engineConfig(repl)
	}))
	check("CORS", CORS{}, converter(func(c CORS) (any, error) { return c.engineConfig(), nil }))
	check("Regulation", Regulation{}, converter(func(r Regulation) (any, error) { return r.engineConfig(), nil }))
	check("WebAuthn", WebAuthn{}, converter(func(w WebAuthn) (any, error) { return w.engineConfig(repl), nil }))
	check("Lifespan", Lifespan{}, converter(func(l Lifespan) (any, error) {
		return engineLifespans(map[string]Lifespan{"l": l}), nil
	}))
	check("ClaimsPolicy", ClaimsPolicy{}, converter(func(p ClaimsPolicy) (any, error) {
		return engineClaimsPolicies(map[string]ClaimsPolicy{"p": p}), nil
	}))
	check("CustomClaim", CustomClaim{}, converter(func(c CustomClaim) (any, error) {
		return engineClaimsPolicies(map[string]ClaimsPolicy{"p": {CustomClaims: map[string]CustomClaim{"c": c}}}), nil
	}))
	check("Scope", Scope{}, converter(func(s Scope) (any, error) { return engineScopes(map[string]Scope{"s": s}), nil }))
	check("AuthorizationPolicy", AuthorizationPolicy{DefaultPolicy: "one_factor"}, converter(func(p AuthorizationPolicy) (any, error) {
		return policies(map[string]AuthorizationPolicy{"p": p})
	}))
	check("PolicyRule", PolicyRule{Policy: "deny", Subject: Subjects{{"group:g"}}}, converter(func(r PolicyRule) (any, error) {
		return policies(map[string]AuthorizationPolicy{"p": {DefaultPolicy: "one_factor", Rules: []PolicyRule{r}}})
	}))

	for key := range elsewhere {
		if !seen[key] {
			t.Errorf("elsewhere lists %s, which is no JSON field", key)
		}
	}
	for key := range values {
		if !seen[key] {
			t.Errorf("values lists %s, which is no JSON field", key)
		}
	}

	// The signing keys reach the key manager.
	for _, h := range []Handler{{JWKS: []JWK{{Key: testSigningKey(t)}}}, {IssuerPrivateKey: testRSAKey(t)}} {
		if k, err := h.signingKeys(repl); err != nil || len(k) != 1 {
			t.Errorf("signing keys of %+v: %d, %v", h, len(k), err)
		}
	}
}

// converter turns a conversion of one config struct into the func(any)
// TestConfigReachesEngine's check takes; given another type, it returns an
// error, which fails the test.
func converter[T any](convert func(T) (any, error)) func(any) (any, error) {
	return func(v any) (any, error) {
		x, ok := v.(T)
		if !ok {
			return nil, fmt.Errorf("converting a %T, want a %T", v, x)
		}
		return convert(x)
	}
}

// nonZero is a non-zero value of type typ for a field the test sets on its
// own; it fails for a type it does not know, naming the field.
func nonZero(t *testing.T, key string, typ reflect.Type) reflect.Value {
	t.Helper()
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64: // caddy.Duration too
		v.SetInt(7)
	case reflect.Slice:
		v = reflect.Append(v, nonZero(t, key, typ.Elem()))
	case reflect.Map:
		v = reflect.MakeMap(typ)
		v.SetMapIndex(reflect.ValueOf("x"), nonZero(t, key, typ.Elem()))
	case reflect.Pointer:
		v = reflect.New(typ.Elem())
		v.Elem().Set(nonZero(t, key, typ.Elem()))
	case reflect.Struct:
		for i := range typ.NumField() {
			if typ.Field(i).IsExported() {
				v.Field(i).Set(nonZero(t, key, typ.Field(i).Type))
			}
		}
	default:
		t.Fatalf("JSON field %s: no test value for %s; add one to values", key, typ)
	}
	return v
}

// testClientKey is a client's public key and a certificate for it, in PEM.
func testClientKey(t *testing.T) (pub, cert string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	c, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c}))
}

// testSigningKey is an ECDSA P-256 private key in PEM (PKCS #8).
func testSigningKey(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pkcs8PEM(t, k)
}

// testRSAKey is an RSA-2048 private key in PEM (PKCS #8).
func testRSAKey(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return pkcs8PEM(t, k)
}

func pkcs8PEM(t *testing.T, k any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

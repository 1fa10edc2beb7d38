package clients

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestJAROptionErrors: the request object, JARM, introspection and
// encryption options are checked when the config loads; errors name the
// option.
func TestJAROptionErrors(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig := jose.JSONWebKey{Key: &k.PublicKey, KeyID: "s", Use: "sig"}
	enc := jose.JSONWebKey{Key: &k.PublicKey, KeyID: "e", Use: "enc"}
	base := func(mod func(*Config)) Config {
		c := Config{ID: "c", Secret: "secret", RedirectURIs: []string{"https://c.example/cb"}}
		mod(&c)
		return c
	}
	env := testEnv()
	env.KeyIDs = map[string]string{"main-es": "ES256"}
	cases := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"request_uris over http", base(func(c *Config) { c.RequestURIs = []string{"http://c.example/r.jwt"} }), "request_uris"},
		{"request_uris https", base(func(c *Config) { c.RequestURIs = []string{"https://c.example/r.jwt"} }), ""},
		{"unknown request object alg", base(func(c *Config) { c.RequestObjectSigningAlg = "HS256" }), "request_object_signing_alg"},
		{"request object alg without a fitting key", base(func(c *Config) {
			c.RequestObjectSigningAlg = "RS256"
			c.JSONWebKeys = []jose.JSONWebKey{sig}
		}), "none of the client's jwks is a RS256 key"},
		{"jwks for a client_secret_basic client", base(func(c *Config) { c.JSONWebKeys = []jose.JSONWebKey{sig} }), ""},
		{"JARM alg without a provider key", base(func(c *Config) { c.AuthorizationSignedResponseAlg = "PS256" }), "authorization_signed_response_alg"},
		{"JARM key_id unknown", base(func(c *Config) { c.AuthorizationSignedResponseKeyID = "nope" }), "authorization_signed_response_key_id"},
		{"JARM key_id and another alg", base(func(c *Config) {
			c.AuthorizationSignedResponseKeyID = "main-es"
			c.AuthorizationSignedResponseAlg = "RS256"
		}), "is a ES256 key"},
		{"JARM key_id", base(func(c *Config) { c.AuthorizationSignedResponseKeyID = "main-es" }), ""},
		{"introspection alg unknown", base(func(c *Config) { c.IntrospectionSignedResponseAlg = "HS256" }), "introspection_signed_response_alg"},
		{"enc without alg", base(func(c *Config) { c.IDTokenEncryptedResponseEnc = "A128GCM" }), "id_token_encrypted_response_enc"},
		{"encryption without keys", base(func(c *Config) { c.UserinfoEncryptedResponseAlg = "ECDH-ES" }), "userinfo_encrypted_response_alg: the client needs"},
		{"encryption with a signing key only", base(func(c *Config) {
			c.IDTokenEncryptedResponseAlg = "ECDH-ES"
			c.JSONWebKeys = []jose.JSONWebKey{sig}
		}), "none of the client's jwks is an encryption key"},
		{"RSA-OAEP to an EC key", base(func(c *Config) {
			c.IDTokenEncryptedResponseAlg = "RSA-OAEP"
			c.JSONWebKeys = []jose.JSONWebKey{enc}
		}), "for RSA-OAEP"},
		{"unknown enc", base(func(c *Config) {
			c.AuthorizationEncryptedResponseAlg = "ECDH-ES"
			c.AuthorizationEncryptedResponseEnc = "A1GCM"
			c.JSONWebKeys = []jose.JSONWebKey{enc}
		}), "authorization_encrypted_response_enc"},
		{"encryption", base(func(c *Config) {
			c.AuthorizationEncryptedResponseAlg = "ECDH-ES+A128KW"
			c.JSONWebKeys = []jose.JSONWebKey{sig, enc}
		}), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(context.Background(), tc.cfg, &env)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if tc.name == "JARM key_id" && c.AuthorizationSignedResponseAlg() != "ES256" {
				t.Errorf("JARM alg %q, want the key's ES256", c.AuthorizationSignedResponseAlg())
			}
			if tc.name == "encryption" && c.AuthorizationEncryption() != (Encryption{Alg: "ECDH-ES+A128KW", Enc: "A128CBC-HS256"}) {
				t.Errorf("encryption %+v", c.AuthorizationEncryption())
			}
		})
	}
}

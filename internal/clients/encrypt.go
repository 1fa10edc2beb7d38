package clients

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Encryption of ID tokens, userinfo and JARM responses to the client's
// public encryption keys (use enc, in jwks or at jwks_uri), as OpenID
// Connect Registration 2 describes: a signed JWT is nested in a JWE (cty
// JWT); an unsigned userinfo response is the JWE of its JSON.

// EncryptionAlgs are the key management algorithms, EncryptionEncs the
// content encryption algorithms, in discovery's order.
var (
	EncryptionAlgs = []string{"RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"}
	EncryptionEncs = []string{"A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM"}
)

// defaultEnc is the content encryption when only the alg is registered
// (OpenID Connect Registration 2).
const defaultEnc = "A128CBC-HS256"

// Encryption is what a client registered for one kind of response: empty
// Alg means no encryption.
type Encryption struct{ Alg, Enc string }

// encryptions are a client's three encryption settings.
type encryptions struct{ idToken, userinfo, authorization Encryption }

// setEncryption validates the *_encrypted_response_alg/enc options.
func (c *Client) setEncryption(cfg Config) error {
	for _, o := range []struct {
		name     string
		alg, enc string
		dst      *Encryption
	}{
		{"id_token", cfg.IDTokenEncryptedResponseAlg, cfg.IDTokenEncryptedResponseEnc, &c.enc.idToken},
		{"userinfo", cfg.UserinfoEncryptedResponseAlg, cfg.UserinfoEncryptedResponseEnc, &c.enc.userinfo},
		{"authorization", cfg.AuthorizationEncryptedResponseAlg, cfg.AuthorizationEncryptedResponseEnc, &c.enc.authorization},
	} {
		switch {
		case o.alg == "" && o.enc != "":
			return fmt.Errorf("%s_encrypted_response_enc: needs %s_encrypted_response_alg", o.name, o.name)
		case o.alg == "":
			continue
		case !slices.Contains(EncryptionAlgs, o.alg):
			return fmt.Errorf("%s_encrypted_response_alg: %q is not one of %s", o.name, o.alg, strings.Join(EncryptionAlgs, ", "))
		case o.enc != "" && !slices.Contains(EncryptionEncs, o.enc):
			return fmt.Errorf("%s_encrypted_response_enc: %q is not one of %s", o.name, o.enc, strings.Join(EncryptionEncs, ", "))
		case !c.jar.hasClientKeys:
			return fmt.Errorf("%s_encrypted_response_alg: the client needs its public encryption key (jwks with use enc, or jwks_uri)", o.name)
		case c.jar.keys != nil && !slices.ContainsFunc(c.jar.keys.Keys, func(k jose.JSONWebKey) bool { return encKeyFits(k, o.alg) }):
			return fmt.Errorf("%s_encrypted_response_alg: none of the client's jwks is an encryption key (use enc) for %s", o.name, o.alg)
		}
		*o.dst = Encryption{Alg: o.alg, Enc: cmpOr(o.enc, defaultEnc)}
	}
	return nil
}

// encKeyFits reports whether a client key may receive a JWE with key
// management algorithm alg.
func encKeyFits(k jose.JSONWebKey, alg string) bool {
	if k.Use != "enc" || (k.Algorithm != "" && k.Algorithm != alg) {
		return false
	}
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RSA-OAEP")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ECDH-ES")
	}
	return false
}

// IDTokenEncryption, UserinfoEncryption and AuthorizationEncryption are
// the client's encryption settings; a zero Alg means none.
func (c *Client) IDTokenEncryption() Encryption       { return c.enc.idToken }
func (c *Client) UserinfoEncryption() Encryption      { return c.enc.userinfo }
func (c *Client) AuthorizationEncryption() Encryption { return c.enc.authorization }

// Encrypt returns the compact JWE of payload for client c with e, to the
// first of its encryption keys that fits (from jwks, or fetched from
// jwks_uri). nested marks payload as a signed JWT (cty JWT).
func (a *Authenticator) Encrypt(ctx context.Context, c *Client, e Encryption, payload []byte, nested bool) (string, error) {
	set := c.jar.keys
	if set == nil && c.jar.keysURI != "" {
		var err error
		if set, err = a.jwks.get(ctx, c.jar.keysURI, false); err != nil {
			return "", fmt.Errorf("client %q: jwks_uri: %w", c.id, err)
		}
	}
	if set == nil {
		return "", fmt.Errorf("client %q: no keys to encrypt to", c.id)
	}
	i := slices.IndexFunc(set.Keys, func(k jose.JSONWebKey) bool { return encKeyFits(k, e.Alg) })
	if i < 0 {
		return "", errors.New("no encryption key of the client fits " + e.Alg)
	}
	k := set.Keys[i]
	opts := &jose.EncrypterOptions{}
	if nested {
		opts = opts.WithContentType("JWT")
	}
	enc, err := jose.NewEncrypter(jose.ContentEncryption(e.Enc), jose.Recipient{Algorithm: jose.KeyAlgorithm(e.Alg), Key: k.Key, KeyID: k.KeyID}, opts)
	if err != nil {
		return "", fmt.Errorf("client %q: %s/%s encrypter: %w", c.id, e.Alg, e.Enc, err)
	}
	obj, err := enc.Encrypt(payload)
	if err != nil {
		return "", fmt.Errorf("client %q: encrypt: %w", c.id, err)
	}
	return obj.CompactSerialize()
}

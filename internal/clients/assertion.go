package clients

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
)

// Client authentication with a signed JWT (RFC 7523 2.2, OpenID Connect
// Core 9): client_secret_jwt (HMAC with the client secret) and
// private_key_jwt (the client's own keys, given inline as jwks or fetched
// from its jwks_uri). They work wherever clients authenticate: the token,
// introspection, revocation and PAR endpoints.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

var (
	// secretJWTAlgs and privateKeyJWTAlgs are the algorithms accepted for
	// client assertions, in the order discovery lists them.
	secretJWTAlgs     = []string{"HS256", "HS384", "HS512"}
	privateKeyJWTAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
	assertionAlgs     = func() []jose.SignatureAlgorithm {
		var out []jose.SignatureAlgorithm
		for _, a := range slices.Concat(secretJWTAlgs, privateKeyJWTAlgs) {
			out = append(out, jose.SignatureAlgorithm(a))
		}
		return out
	}()
)

const (
	// assertionLeeway is the clock skew allowed on exp, nbf and iat.
	assertionLeeway = time.Minute
	// assertionMaxLifetime bounds how far in the future an assertion may
	// expire: its jti is remembered until then.
	assertionMaxLifetime = time.Hour
)

// assertionAuth is what a client authenticating with a JWT registered.
type assertionAuth struct {
	alg     string              // token_endpoint_auth_signing_alg; "" = any of the method's
	hmacKey []byte              // client_secret_jwt: the plain secret
	jwks    *jose.JSONWebKeySet // private_key_jwt: inline keys
	jwksURI string              // private_key_jwt: or the keys' URL
}

// newAssertionAuth checks the JWT authentication options of a client
// (token_endpoint_auth_signing_alg, jwks, jwks_uri and, for
// client_secret_jwt, a secret usable as an HMAC key); nil for the other
// methods.
func newAssertionAuth(method string, cc Config) (*assertionAuth, error) {
	alg := cc.TokenEndpointAuthSigningAlg
	switch method {
	case AuthMethodSecretJWT:
		if alg != "" && !slices.Contains(secretJWTAlgs, alg) {
			return nil, fmt.Errorf("token_endpoint_auth_signing_alg: %q is not one of %s (client_secret_jwt)", alg, strings.Join(secretJWTAlgs, ", "))
		}
		secret := cc.Secret
		if strings.HasPrefix(secret, "$plaintext$") {
			secret = strings.TrimPrefix(secret, "$plaintext$")
		} else if strings.HasPrefix(secret, "$") {
			return nil, errors.New("client_secret: client_secret_jwt uses the secret itself as the HMAC key, so it cannot be a digest; give the plain secret (as a {env.*} or {file.*} placeholder)")
		}
		need := 32 // HS256; RFC 7518 3.2: a key at least as long as the hash
		switch alg {
		case "HS384":
			need = 48
		case "HS512":
			need = 64
		}
		if len(secret) < need {
			return nil, fmt.Errorf("client_secret: client_secret_jwt with %s needs a secret of at least %d bytes (RFC 7518 3.2), this one has %d", cmpOr(alg, "HS256"), need, len(secret))
		}
		return &assertionAuth{alg: alg, hmacKey: []byte(secret)}, nil
	case AuthMethodPrivateKeyJWT:
		if len(cc.JSONWebKeys) == 0 && cc.JSONWebKeysURI == "" {
			return nil, errors.New("token_endpoint_auth_method: private_key_jwt needs the client's public keys: jwks or jwks_uri")
		}
		if cc.Secret != "" {
			return nil, errors.New("client_secret: must be empty with token_endpoint_auth_method private_key_jwt (the client authenticates with its keys)")
		}
		if len(cc.JSONWebKeys) > 0 && cc.JSONWebKeysURI != "" {
			return nil, errors.New("jwks_uri: set either jwks or jwks_uri, not both")
		}
		if alg != "" && !slices.Contains(privateKeyJWTAlgs, alg) {
			return nil, fmt.Errorf("token_endpoint_auth_signing_alg: %q is not one of %s (private_key_jwt)", alg, strings.Join(privateKeyJWTAlgs, ", "))
		}
		a := &assertionAuth{alg: alg}
		if cc.JSONWebKeysURI != "" {
			if err := checkJWKSURI(cc.JSONWebKeysURI); err != nil {
				return nil, fmt.Errorf("jwks_uri: %w", err)
			}
			a.jwksURI = cc.JSONWebKeysURI
		} else {
			set := &jose.JSONWebKeySet{}
			usable := false
			for i, k := range cc.JSONWebKeys {
				if !k.IsPublic() || !k.Valid() {
					return nil, fmt.Errorf("jwks[%d]: not a valid public key", i)
				}
				if k.KeyID != "" && len(set.Key(k.KeyID)) > 0 {
					return nil, fmt.Errorf("jwks: key_id %q: used twice", k.KeyID)
				}
				set.Keys = append(set.Keys, k)
				usable = usable || alg == "" || keyFits(k, alg)
			}
			if !usable {
				return nil, fmt.Errorf("token_endpoint_auth_signing_alg: none of the client's jwks is a %s key", alg)
			}
			a.jwks = set
		}
		return a, nil
	default:
		// jwks and jwks_uri may still verify request objects (jar.go).
		if alg != "" {
			return nil, errors.New("token_endpoint_auth_signing_alg: only used with token_endpoint_auth_method client_secret_jwt or private_key_jwt")
		}
	}
	return nil, nil
}

// keyFits reports whether a client key may verify an assertion signed with alg.
func keyFits(k jose.JSONWebKey, alg string) bool {
	return (k.Use == "" || k.Use == "sig") && (k.Algorithm == "" || k.Algorithm == alg) &&
		slices.Contains(keys.AlgorithmsFor(k.Key), alg)
}

// AddAssertionMetadata adds the JWT client authentication methods and their
// algorithms to the metadata of every endpoint that authenticates clients.
func AddAssertionMetadata(doc map[string]any) {
	algs := slices.Concat(secretJWTAlgs, privateKeyJWTAlgs)
	for _, ep := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint"} {
		methods, _ := doc[ep+"_auth_methods_supported"].([]string)
		doc[ep+"_auth_methods_supported"] = slices.Concat(methods, []string{AuthMethodSecretJWT, AuthMethodPrivateKeyJWT})
		doc[ep+"_auth_signing_alg_values_supported"] = algs
	}
}

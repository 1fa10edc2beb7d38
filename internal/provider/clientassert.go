package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
)

// Client authentication with a signed JWT (RFC 7523 2.2, OpenID Connect
// Core 9): client_secret_jwt (HMAC with the client secret) and
// private_key_jwt (the client's own keys, given inline as jwks or fetched
// from its jwks_uri). They work wherever clients authenticate: the token,
// introspection, revocation and PAR endpoints.
const (
	AuthMethodSecretJWT     = "client_secret_jwt"
	AuthMethodPrivateKeyJWT = "private_key_jwt"

	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

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

// setupClientAssertions checks the JWT authentication options of every
// client (token_endpoint_auth_signing_alg, jwks, jwks_uri and, for
// client_secret_jwt, a secret usable as an HMAC key) and keeps them on the
// clients.
func (p *Provider) setupClientAssertions(cfg Config) error {
	p.clientJWKS = newJWKSFetcher()
	for _, cc := range cfg.Clients {
		c := p.clients[cc.ID]
		if err := c.setAssertionAuth(cc); err != nil {
			return fmt.Errorf("client %q: %w", cc.ID, err)
		}
	}
	return nil
}

func (c *Client) setAssertionAuth(cc ClientConfig) error {
	alg := cc.TokenEndpointAuthSigningAlg
	switch c.TokenEndpointAuthMethod {
	case AuthMethodSecretJWT:
		if len(cc.JSONWebKeys) > 0 || cc.JSONWebKeysURI != "" {
			return errors.New("jwks: only used with token_endpoint_auth_method private_key_jwt, not client_secret_jwt")
		}
		if alg != "" && !slices.Contains(secretJWTAlgs, alg) {
			return fmt.Errorf("token_endpoint_auth_signing_alg: %q is not one of %s (client_secret_jwt)", alg, strings.Join(secretJWTAlgs, ", "))
		}
		secret := cc.Secret
		if strings.HasPrefix(secret, "$plaintext$") {
			secret = strings.TrimPrefix(secret, "$plaintext$")
		} else if strings.HasPrefix(secret, "$") {
			return errors.New("client_secret: client_secret_jwt uses the secret itself as the HMAC key, so it cannot be a digest; give the plain secret (as a {env.*} or {file.*} placeholder)")
		}
		need := 32 // HS256; RFC 7518 3.2: a key at least as long as the hash
		switch alg {
		case "HS384":
			need = 48
		case "HS512":
			need = 64
		}
		if len(secret) < need {
			return fmt.Errorf("client_secret: client_secret_jwt with %s needs a secret of at least %d bytes (RFC 7518 3.2), this one has %d", cmpOr(alg, "HS256"), need, len(secret))
		}
		c.assertion = &assertionAuth{alg: alg, hmacKey: []byte(secret)}
	case AuthMethodPrivateKeyJWT:
		if len(cc.JSONWebKeys) == 0 && cc.JSONWebKeysURI == "" {
			return errors.New("token_endpoint_auth_method: private_key_jwt needs the client's public keys: jwks or jwks_uri")
		}
		if cc.Secret != "" {
			return errors.New("client_secret: must be empty with token_endpoint_auth_method private_key_jwt (the client authenticates with its keys)")
		}
		if len(cc.JSONWebKeys) > 0 && cc.JSONWebKeysURI != "" {
			return errors.New("jwks_uri: set either jwks or jwks_uri, not both")
		}
		if alg != "" && !slices.Contains(privateKeyJWTAlgs, alg) {
			return fmt.Errorf("token_endpoint_auth_signing_alg: %q is not one of %s (private_key_jwt)", alg, strings.Join(privateKeyJWTAlgs, ", "))
		}
		a := &assertionAuth{alg: alg}
		if cc.JSONWebKeysURI != "" {
			if err := checkJWKSURI(cc.JSONWebKeysURI); err != nil {
				return fmt.Errorf("jwks_uri: %w", err)
			}
			a.jwksURI = cc.JSONWebKeysURI
		} else {
			set := &jose.JSONWebKeySet{}
			usable := false
			for i, k := range cc.JSONWebKeys {
				if !k.IsPublic() || !k.Valid() {
					return fmt.Errorf("jwks[%d]: not a valid public key", i)
				}
				if k.KeyID != "" && len(set.Key(k.KeyID)) > 0 {
					return fmt.Errorf("jwks: key_id %q: used twice", k.KeyID)
				}
				set.Keys = append(set.Keys, k)
				usable = usable || alg == "" || keyFits(k, alg)
			}
			if !usable {
				return fmt.Errorf("token_endpoint_auth_signing_alg: none of the client's jwks is a %s key", alg)
			}
			a.jwks = set
		}
		c.assertion = a
	default:
		switch {
		case alg != "":
			return errors.New("token_endpoint_auth_signing_alg: only used with token_endpoint_auth_method client_secret_jwt or private_key_jwt")
		case len(cc.JSONWebKeys) > 0 || cc.JSONWebKeysURI != "":
			return errors.New("jwks: only used with token_endpoint_auth_method private_key_jwt")
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// keyFits reports whether a client key may verify an assertion signed with alg.
func keyFits(k jose.JSONWebKey, alg string) bool {
	return (k.Use == "" || k.Use == "sig") && (k.Algorithm == "" || k.Algorithm == alg) &&
		slices.Contains(keys.AlgorithmsFor(k.Key), alg)
}

// authenticateAssertion authenticates a client by its client_assertion.
func (p *Provider) authenticateAssertion(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if t := form.Get("client_assertion_type"); t != clientAssertionType {
		return nil, fosite.ErrInvalidRequest.WithHintf("The client_assertion_type must be '%s'.", clientAssertionType)
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("The client_assertion parameter is missing.")
	}
	if _, hasSecret := form["client_secret"]; hasSecret || hasBasicAuth(r) {
		return nil, fosite.ErrInvalidRequest.WithHint("The client used more than one authentication method (a client assertion and a client secret).")
	}
	tok, err := jwt.ParseSigned(assertion, assertionAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion is not a signed JWT (JWS compact serialization) with a supported algorithm.")
	}
	header := tok.Headers[0]
	alg := header.Algorithm
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The claims of the client_assertion are not a JSON object.")
	}
	id := form.Get("client_id")
	switch {
	case id == "":
		id = unverified.Subject
	case unverified.Subject != id:
		return nil, fosite.ErrInvalidClient.WithHint("The 'sub' claim of the client_assertion must be the client_id.")
	}
	if id == "" {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion has no 'sub' claim naming the client.")
	}
	fc, err := p.GetClient(ctx, id)
	if err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("Client authentication failed (unknown client).")
	}
	c := fc.(*Client)
	used := AuthMethodPrivateKeyJWT
	if strings.HasPrefix(alg, "HS") {
		used = AuthMethodSecretJWT
	}
	if c.TokenEndpointAuthMethod != used || c.assertion == nil {
		return nil, fosite.ErrInvalidClient.WithHintf("The client is registered for authentication method '%s', but method '%s' was used.", registeredMethod(c), used)
	}
	if c.assertion.alg != "" && alg != c.assertion.alg {
		return nil, fosite.ErrInvalidClient.WithHintf("The client_assertion is signed with '%s', but the client is registered for '%s' (token_endpoint_auth_signing_alg).", alg, c.assertion.alg)
	}

	var claims jwt.Claims
	if used == AuthMethodSecretJWT {
		if err := tok.Claims(c.assertion.hmacKey, &claims); err != nil {
			return nil, fosite.ErrInvalidClient.WithHint("The signature of the client_assertion is invalid.")
		}
	} else if err := p.verifyWithClientKeys(ctx, c, tok, &claims); err != nil {
		return nil, err
	}
	if err := p.checkAssertionClaims(r, id, &claims); err != nil {
		return nil, err
	}
	// Each assertion works once (RFC 7523 3 item 7): its jti is kept until
	// it expires. The insert is atomic, so concurrent replays fail too.
	if err := p.storage.SetClientAssertionJWT(ctx, id+" "+claims.ID, claims.Expiry.Time()); err != nil {
		if errors.Is(err, fosite.ErrJTIKnown) {
			return nil, fosite.ErrInvalidClient.WithHint("The client_assertion was already used (its 'jti' was seen before); sign a new one for every request.")
		}
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return c, nil
}

// registeredMethod names the method a client must use, for hints.
func registeredMethod(c *Client) string {
	if c.Public {
		return AuthMethodNone
	}
	if c.TokenEndpointAuthMethod == "" {
		return "client_secret_basic' or 'client_secret_post"
	}
	return c.TokenEndpointAuthMethod
}

// verifyWithClientKeys checks a private_key_jwt assertion against the
// client's keys: those with the header's kid (all, without one) that fit
// the algorithm. Keys from a jwks_uri are fetched again, at most every
// jwksMinRefresh, when none verifies (the client rotated its keys).
func (p *Provider) verifyWithClientKeys(ctx context.Context, c *Client, tok *jwt.JSONWebToken, claims *jwt.Claims) error {
	h := tok.Headers[0]
	try := func(set *jose.JSONWebKeySet) bool {
		candidates := set.Keys
		if h.KeyID != "" {
			candidates = set.Key(h.KeyID)
		}
		for _, k := range candidates {
			if keyFits(k, h.Algorithm) && tok.Claims(k.Key, claims) == nil {
				return true
			}
		}
		return false
	}
	if c.assertion.jwks != nil {
		if try(c.assertion.jwks) {
			return nil
		}
		return fosite.ErrInvalidClient.WithHint("The client_assertion is not signed by any of the client's registered keys (jwks).")
	}
	for _, refresh := range []bool{false, true} {
		set, err := p.clientJWKS.get(ctx, c.assertion.jwksURI, refresh)
		if err != nil {
			p.log.Warn("fetching a client's jwks_uri", zap.String("client_id", c.ID), zap.String("jwks_uri", c.assertion.jwksURI), zap.Error(err))
			return fosite.ErrInvalidClient.WithHint("The client's keys could not be fetched from its jwks_uri.")
		}
		if try(set) {
			return nil
		}
	}
	return fosite.ErrInvalidClient.WithHint("The client_assertion is not signed by any of the client's keys (jwks_uri).")
}

// checkAssertionClaims checks iss, sub, aud, exp, nbf, iat and jti.
func (p *Provider) checkAssertionClaims(r *http.Request, id string, claims *jwt.Claims) error {
	now := time.Now()
	switch {
	case claims.Issuer != id || claims.Subject != id:
		return fosite.ErrInvalidClient.WithHint("The 'iss' and 'sub' claims of the client_assertion must both be the client_id.")
	case !slices.ContainsFunc(p.assertionAudiences(r), func(a string) bool { return claims.Audience.Contains(a) }):
		return fosite.ErrInvalidClient.WithHintf("The 'aud' claim of the client_assertion must name the token endpoint '%s' (or the issuer).", p.url(pathToken))
	case claims.Expiry == nil:
		return fosite.ErrInvalidClient.WithHint("The client_assertion has no 'exp' claim.")
	case now.After(claims.Expiry.Time().Add(assertionLeeway)):
		return fosite.ErrInvalidClient.WithHint("The client_assertion has expired.")
	case claims.Expiry.Time().After(now.Add(assertionMaxLifetime + assertionLeeway)):
		return fosite.ErrInvalidClient.WithHintf("The client_assertion expires more than %v from now; use short-lived assertions.", assertionMaxLifetime)
	case claims.NotBefore != nil && now.Add(assertionLeeway).Before(claims.NotBefore.Time()):
		return fosite.ErrInvalidClient.WithHint("The client_assertion is not valid yet ('nbf').")
	case claims.IssuedAt != nil && now.Add(assertionLeeway).Before(claims.IssuedAt.Time()):
		return fosite.ErrInvalidClient.WithHint("The client_assertion was issued in the future ('iat').")
	case claims.ID == "":
		return fosite.ErrInvalidClient.WithHint("The client_assertion has no 'jti' claim.")
	}
	return nil
}

// assertionAudiences are the values a client assertion's aud may name: the
// token endpoint (RFC 7523 3), the issuer (RFC 9126 2, and commonly used),
// and the endpoint the assertion was sent to.
func (p *Provider) assertionAudiences(r *http.Request) []string {
	return []string{p.url(pathToken), p.issuer, p.issuer + strings.TrimPrefix(r.URL.Path, p.base)}
}

// assertionDiscovery adds the JWT client authentication methods and their
// algorithms to the metadata of every endpoint that authenticates clients.
func assertionDiscovery(doc map[string]any) {
	algs := slices.Concat(secretJWTAlgs, privateKeyJWTAlgs)
	for _, ep := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint"} {
		methods, _ := doc[ep+"_auth_methods_supported"].([]string)
		doc[ep+"_auth_methods_supported"] = slices.Concat(methods, []string{AuthMethodSecretJWT, AuthMethodPrivateKeyJWT})
		doc[ep+"_auth_signing_alg_values_supported"] = algs
	}
}

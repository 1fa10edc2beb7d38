package clients

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
)

// Request objects (RFC 9101, OpenID Connect Core 6), JARM and signed
// introspection: the client options, and the verification of what a client
// signs with its own keys (jwks or jwks_uri).

// RequestObjectAlgs are the algorithms a request object may be signed
// with, in discovery's order; "none" only for a client that registered it.
var RequestObjectAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// jarOptions are a client's request object, JARM and introspection options.
type jarOptions struct {
	requestURIs   []string // registered request_uri values, https
	requestObjAlg string   // "" = any of RequestObjectAlgs; "none" = unsigned allowed (and only that)
	keys          *jose.JSONWebKeySet
	keysURI       string
	jarmAlg       string // JARM signing algorithm (default RS256)
	introspectAlg string // "" = JSON unless the request asks for a JWT (then RS256)
	hasClientKeys bool
}

// setJAR validates the options (algs are the provider's signing algorithms,
// keyIDs the kids of its active keys by algorithm).
func (c *Client) setJAR(cfg Config, algs []string, keyIDs map[string]string) error {
	o := &c.jar
	for _, raw := range cfg.RequestURIs {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return fmt.Errorf("request_uris: %q must be an absolute https URL", raw)
		}
	}
	o.requestURIs = slices.Clone(cfg.RequestURIs)
	switch alg := cfg.RequestObjectSigningAlg; {
	case alg == "" || alg == "none" || slices.Contains(RequestObjectAlgs, alg):
		o.requestObjAlg = alg
	default:
		return fmt.Errorf("request_object_signing_alg: %q is not one of none, %s", alg, strings.Join(RequestObjectAlgs, ", "))
	}
	if c.assertion == nil || c.assertion.hmacKey != nil { // private_key_jwt has checked its own
		set, err := publicKeySet(cfg.JSONWebKeys)
		if err != nil {
			return err
		}
		if set != nil && cfg.JSONWebKeysURI != "" {
			return errors.New("jwks_uri: set either jwks or jwks_uri, not both")
		}
		if cfg.JSONWebKeysURI != "" {
			if err := checkJWKSURI(cfg.JSONWebKeysURI); err != nil {
				return fmt.Errorf("jwks_uri: %w", err)
			}
		}
		o.keys, o.keysURI = set, cfg.JSONWebKeysURI
	} else {
		o.keys, o.keysURI = c.assertion.jwks, c.assertion.jwksURI
	}
	o.hasClientKeys = o.keys != nil || o.keysURI != ""
	if a := o.requestObjAlg; a != "" && a != "none" && o.keys != nil &&
		!slices.ContainsFunc(o.keys.Keys, func(k jose.JSONWebKey) bool { return keyFits(k, a) }) {
		return fmt.Errorf("request_object_signing_alg: none of the client's jwks is a %s key", a)
	}

	jarm := cfg.AuthorizationSignedResponseAlg
	if kid := cfg.AuthorizationSignedResponseKeyID; kid != "" {
		alg, ok := keyIDs[kid]
		switch {
		case !ok:
			return fmt.Errorf("authorization_signed_response_key_id: %q is not the key_id of one of the provider's active signing keys", kid)
		case jarm != "" && jarm != alg:
			return fmt.Errorf("authorization_signed_response_key_id: %q is a %s key, but authorization_signed_response_alg is %s", kid, alg, jarm)
		}
		jarm = alg
	}
	if jarm == "" {
		jarm = keys.RS256
	}
	if !slices.Contains(algs, jarm) {
		return fmt.Errorf("authorization_signed_response_alg: %q is not one of %s", jarm, strings.Join(algs, ", "))
	}
	o.jarmAlg = jarm
	var err error
	if o.introspectAlg, err = signingAlg(cfg.IntrospectionSignedResponseAlg, algs); err != nil {
		return fmt.Errorf("introspection_signed_response_alg: %w", err)
	}
	return nil
}

// publicKeySet checks a client's inline public keys; nil when there are none.
func publicKeySet(in []jose.JSONWebKey) (*jose.JSONWebKeySet, error) {
	if len(in) == 0 {
		return nil, nil
	}
	set := &jose.JSONWebKeySet{}
	for i, k := range in {
		if !k.IsPublic() || !k.Valid() {
			return nil, fmt.Errorf("jwks[%d]: not a valid public key", i)
		}
		if k.KeyID != "" && len(set.Key(k.KeyID)) > 0 {
			return nil, fmt.Errorf("jwks: key_id %q: used twice", k.KeyID)
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// RequestURIs returns the registered request_uri values.
func (c *Client) RequestURIs() []string { return slices.Clone(c.jar.requestURIs) }

// RequestObjectSigningAlg is the algorithm the client's request objects
// must use: "" for any of RequestObjectAlgs, "none" for unsigned ones.
func (c *Client) RequestObjectSigningAlg() string { return c.jar.requestObjAlg }

// HasKeys reports whether the client registered public keys (jwks or
// jwks_uri) to verify what it signs.
func (c *Client) HasKeys() bool { return c.jar.hasClientKeys }

// AuthorizationSignedResponseAlg is the algorithm of the client's JARM
// responses.
func (c *Client) AuthorizationSignedResponseAlg() string { return c.jar.jarmAlg }

// IntrospectionSignedResponseAlg is "" (introspection answers JSON unless
// asked for a JWT) or the algorithm of signed introspection responses.
func (c *Client) IntrospectionSignedResponseAlg() string { return c.jar.introspectAlg }

// ErrNoClientKey means no key of the client verifies a JWS.
var ErrNoClientKey = errors.New("not signed by any of the client's keys")

// VerifyClientJWS checks a compact JWS signed by the client with one of
// its keys (jwks, or jwks_uri, fetched again at most every jwksMinRefresh
// when no key verifies) and one of algs, and returns its payload.
func (a *Authenticator) VerifyClientJWS(ctx context.Context, c *Client, token string, algs []string) ([]byte, error) {
	ja := make([]jose.SignatureAlgorithm, len(algs))
	for i, alg := range algs {
		ja[i] = jose.SignatureAlgorithm(alg)
	}
	jws, err := jose.ParseSignedCompact(token, ja)
	if err != nil {
		return nil, fmt.Errorf("not a compact JWS of %s: %w", strings.Join(algs, ", "), err)
	}
	h := jws.Signatures[0].Header
	try := func(set *jose.JSONWebKeySet) []byte {
		candidates := set.Keys
		if h.KeyID != "" {
			candidates = set.Key(h.KeyID)
		}
		for _, k := range candidates {
			if !keyFits(k, h.Algorithm) {
				continue
			}
			if payload, err := jws.Verify(k.Key); err == nil {
				return payload
			}
		}
		return nil
	}
	switch {
	case c.jar.keys != nil:
		if p := try(c.jar.keys); p != nil {
			return p, nil
		}
		return nil, ErrNoClientKey
	case c.jar.keysURI != "":
		for _, refresh := range []bool{false, true} {
			set, err := a.jwks.get(ctx, c.jar.keysURI, refresh)
			if err != nil {
				a.log.Warn("fetching a client's jwks_uri", zap.String("client_id", c.id), zap.String("jwks_uri", c.jar.keysURI), zap.Error(err))
				return nil, fmt.Errorf("the client's jwks_uri could not be fetched")
			}
			if p := try(set); p != nil {
				return p, nil
			}
		}
		return nil, ErrNoClientKey
	}
	return nil, errors.New("the client has registered no keys (jwks or jwks_uri)")
}

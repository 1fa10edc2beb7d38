package clients

import (
	"context"
	"encoding/base64"
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
)

// JTIStore remembers the jti of every client assertion until it expires, so
// that each works once; fosite's storage has it.
type JTIStore interface {
	// SetClientAssertionJWT records jti, failing with fosite.ErrJTIKnown
	// when it was seen before (atomically).
	SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error
}

// Authenticator authenticates clients at the back-channel endpoints.
type Authenticator struct {
	reg      *Registry
	jtis     JTIStore
	issuer   string
	base     string // the issuer's path, to name the endpoint a request reached
	tokenURL string
	log      *zap.Logger
	now      func() time.Time
	jwks     *jwksFetcher // clients' jwks_uri documents
}

// NewAuthenticator returns the authenticator of the clients in reg. An
// assertion's aud may name tokenURL, issuer, or the endpoint it was sent to
// (issuer + the request path below base). now is the clock (nil:
// time.Now).
func NewAuthenticator(reg *Registry, jtis JTIStore, issuer, base, tokenURL string, log *zap.Logger, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	a := &Authenticator{reg: reg, jtis: jtis, issuer: issuer, base: base, tokenURL: tokenURL, log: log, now: now, jwks: newJWKSFetcher()}
	a.jwks.now = now
	return a
}

// Authenticate is fosite's ClientAuthenticationStrategy for the token,
// revocation and PAR endpoints, and authenticates clients at introspection.
// Client assertions (client_secret_jwt, private_key_jwt) are checked by
// authenticateAssertion.
//
// A client that registers no token_endpoint_auth_method may use either
// client_secret_basic or client_secret_post; one that registers a method must
// use it, and a mismatch gets invalid_client with a hint naming both methods.
// Basic credentials are form-urlencoded before base64 (RFC 6749 2.3.1); a
// client that does not encode them is accepted too when the raw value matches.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if form.Get("client_assertion_type") != "" || form.Get("client_assertion") != "" {
		return a.authenticateAssertion(ctx, r, form)
	}

	basicID, basicSecrets, hasBasic, err := BasicCredentials(r)
	if err != nil {
		return nil, err
	}
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	_, hasFormSecret := form["client_secret"]

	var id, used string
	var secrets []string
	switch {
	case hasBasic && hasFormSecret:
		return nil, fosite.ErrInvalidRequest.WithHint("The client used more than one authentication method (client_secret_basic and client_secret_post).")
	case hasBasic:
		if formID != "" && formID != basicID {
			return nil, fosite.ErrInvalidRequest.WithHint("The client_id in the request body does not match the client authenticated with HTTP Basic.")
		}
		id, secrets, used = basicID, basicSecrets, AuthMethodBasic
	case hasFormSecret:
		id, secrets, used = formID, []string{formSecret}, AuthMethodPost
	default:
		id, used = formID, AuthMethodNone
	}
	if id == "" {
		return nil, fosite.ErrInvalidClient.WithHint("The request did not identify a client (client_id is missing and there is no HTTP Basic authorization).")
	}

	c := a.reg.Get(id)
	if c == nil {
		return nil, fosite.ErrInvalidClient.WithHint("Client authentication failed (unknown client).")
	}

	registered := c.authMethod
	switch {
	case c.public && used != AuthMethodNone:
		return nil, fosite.ErrInvalidClient.WithHintf("The client is registered for authentication method 'none' (public client), but method '%s' was used.", used)
	case c.public:
		return c, nil
	case used == AuthMethodNone:
		return nil, fosite.ErrInvalidClient.WithHintf("The client must authenticate with %s.", methodsHint(c))
	case c.authMethodExplicit && registered != used:
		return nil, fosite.ErrInvalidClient.WithHintf("The client is registered for authentication method '%s', but method '%s' was used.", registered, used)
	}

	var last error
	for _, s := range secrets {
		if last = c.secret.compare(ctx, s); last == nil {
			return c, nil
		}
	}
	return nil, fosite.ErrInvalidClient.WithHint("Client authentication failed (wrong client secret).").WithWrap(last)
}

// methodsHint names the methods a confidential client may use.
func methodsHint(c *Client) string {
	if c.authMethodExplicit {
		return fmt.Sprintf("'%s'", c.authMethod)
	}
	return "'client_secret_basic' or 'client_secret_post'"
}

// BasicCredentials parses HTTP Basic authorization. It returns the client ID
// and the candidate secrets: the form-urldecoded value first, then the raw
// value when it differs (clients that do not encode).
func BasicCredentials(r *http.Request) (id string, secrets []string, ok bool, err error) {
	h := r.Header.Get("Authorization")
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", nil, false, nil
	}
	raw, decErr := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if decErr != nil {
		return "", nil, false, fosite.ErrInvalidRequest.WithHint("The HTTP Basic authorization header is not valid base64.")
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", nil, false, fosite.ErrInvalidRequest.WithHint("The HTTP Basic authorization header has no ':' between client ID and secret.")
	}
	id = rawID
	if dec, e := url.QueryUnescape(rawID); e == nil {
		id = dec
	}
	if dec, e := url.QueryUnescape(rawSecret); e == nil {
		secrets = append(secrets, dec)
		if dec != rawSecret {
			secrets = append(secrets, rawSecret)
		}
	} else {
		secrets = append(secrets, rawSecret)
	}
	return id, secrets, true, nil
}

// authenticateAssertion authenticates a client by its client_assertion.
func (a *Authenticator) authenticateAssertion(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if t := form.Get("client_assertion_type"); t != clientAssertionType {
		return nil, fosite.ErrInvalidRequest.WithHintf("The client_assertion_type must be '%s'.", clientAssertionType)
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("The client_assertion parameter is missing.")
	}
	if _, hasSecret := form["client_secret"]; hasSecret || HasBasicAuth(r) {
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
	c := a.reg.Get(id)
	if c == nil {
		return nil, fosite.ErrInvalidClient.WithHint("Client authentication failed (unknown client).")
	}
	used := AuthMethodPrivateKeyJWT
	if strings.HasPrefix(alg, "HS") {
		used = AuthMethodSecretJWT
	}
	if c.authMethod != used || c.assertion == nil {
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
	} else if err := a.verifyWithClientKeys(ctx, c, tok, &claims); err != nil {
		return nil, err
	}
	if err := a.checkAssertionClaims(r, id, &claims); err != nil {
		return nil, err
	}
	// Each assertion works once (RFC 7523 3 item 7): its jti is kept until
	// it expires. The insert is atomic, so concurrent replays fail too.
	if err := a.jtis.SetClientAssertionJWT(ctx, id+" "+claims.ID, claims.Expiry.Time()); err != nil {
		if errors.Is(err, fosite.ErrJTIKnown) {
			return nil, fosite.ErrInvalidClient.WithHint("The client_assertion was already used (its 'jti' was seen before); sign a new one for every request.")
		}
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return c, nil
}

// registeredMethod names the method a client must use, for hints.
func registeredMethod(c *Client) string {
	if c.public {
		return AuthMethodNone
	}
	if c.authMethod == "" {
		return "client_secret_basic' or 'client_secret_post"
	}
	return c.authMethod
}

// verifyWithClientKeys checks a private_key_jwt assertion against the
// client's keys: those with the header's kid (all, without one) that fit
// the algorithm. Keys from a jwks_uri are fetched again, at most every
// jwksMinRefresh, when none verifies (the client rotated its keys).
func (a *Authenticator) verifyWithClientKeys(ctx context.Context, c *Client, tok *jwt.JSONWebToken, claims *jwt.Claims) error {
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
		set, err := a.jwks.get(ctx, c.assertion.jwksURI, refresh)
		if err != nil {
			a.log.Warn("fetching a client's jwks_uri", zap.String("client_id", c.id), zap.String("jwks_uri", c.assertion.jwksURI), zap.Error(err))
			return fosite.ErrInvalidClient.WithHint("The client's keys could not be fetched from its jwks_uri.")
		}
		if try(set) {
			return nil
		}
	}
	return fosite.ErrInvalidClient.WithHint("The client_assertion is not signed by any of the client's keys (jwks_uri).")
}

// checkAssertionClaims checks iss, sub, aud, exp, nbf, iat and jti.
func (a *Authenticator) checkAssertionClaims(r *http.Request, id string, claims *jwt.Claims) error {
	now := a.now()
	switch {
	case claims.Issuer != id || claims.Subject != id:
		return fosite.ErrInvalidClient.WithHint("The 'iss' and 'sub' claims of the client_assertion must both be the client_id.")
	case !slices.ContainsFunc(a.assertionAudiences(r), func(a string) bool { return claims.Audience.Contains(a) }):
		return fosite.ErrInvalidClient.WithHintf("The 'aud' claim of the client_assertion must name the token endpoint '%s' (or the issuer).", a.tokenURL)
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
func (a *Authenticator) assertionAudiences(r *http.Request) []string {
	return []string{a.tokenURL, a.issuer, a.issuer + strings.TrimPrefix(r.URL.Path, a.base)}
}

// HasBasicAuth reports whether the request carries HTTP Basic authorization.
func HasBasicAuth(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	return len(h) >= len("Basic ") && strings.EqualFold(h[:len("Basic ")], "Basic ")
}

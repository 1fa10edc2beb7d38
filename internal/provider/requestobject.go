package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// Request objects (RFC 9101, OpenID Connect Core 6): the authorization
// request as a JWT the client signed with its own keys, passed by value
// (request) or by reference (request_uri, one of the client's registered
// request_uris). We resolve it before fosite parses the request: fosite's
// own handling (v0.49) runs before the redirect URI is validated, so every
// error it raises is a dead-end page; it ignores the object without the
// openid scope in the URL, accepts alg none from any client that did not
// register an algorithm, checks neither iss, aud nor client_id, turns
// numbers and objects (max_age, claims) into Go's %s formatting, fetches
// request_uri without size bound, and knows no EdDSA.
const (
	requestURITimeout  = 5 * time.Second
	requestURIMaxBytes = 64 << 10
	// requestObjectLeeway is the clock skew allowed on exp and nbf.
	requestObjectLeeway = time.Minute
)

// requestObjectClaims are the JWT claims of a request object that are not
// authorization request parameters.
var requestObjectClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti", "sub"}

// requestObjectError is an error resolving a request object, with the
// parameters read from the object without verifying it: they may help
// return the error to the client (redirect_uri, state, response_mode), and
// are trusted no further than the request's URL would be.
type requestObjectError struct {
	err        error
	unverified url.Values
}

func (e *requestObjectError) Error() string { return e.err.Error() }
func (e *requestObjectError) Unwrap() error { return e.err }

// resolveRequestObject replaces, in r.Form, the request or request_uri
// parameter by the parameters of the request object: those of the object
// win over those of the URL (RFC 9101 5, as Authelia and fosite merge
// them). A request without one, or with a pushed request_uri (RFC 9126),
// is left alone. Errors are *requestObjectError.
func (p *Provider) resolveRequestObject(ctx context.Context, r *http.Request, pushed bool) error {
	form := r.Form
	obj, uri := form.Get("request"), form.Get("request_uri")
	if obj == "" && (uri == "" || p.isPushedURI(uri)) {
		return nil
	}
	fail := func(err error, unverified url.Values) error {
		return &requestObjectError{err: err, unverified: unverified}
	}
	switch {
	case obj != "" && uri != "":
		return fail(fosite.ErrInvalidRequest.WithHint("The parameters 'request' and 'request_uri' must not both be used."), nil)
	case pushed && uri != "":
		return fail(fosite.ErrInvalidRequest.WithHint("A pushed authorization request must not use 'request_uri'."), nil)
	}
	c := p.clients.Get(form.Get("client_id"))
	if c == nil {
		return fail(fosite.ErrInvalidClient.WithHint("The requested OAuth 2.0 Client does not exist."), nil)
	}
	if uri != "" {
		if !slices.Contains(c.RequestURIs(), uri) {
			return fail(fosite.ErrInvalidRequestURI.WithHint("The request_uri is not one of the client's registered request_uris."), nil)
		}
		body, err := clients.GetBounded(ctx, p.fetchClient, uri, "application/oauth-authz-req+jwt, application/jwt", requestURITimeout, requestURIMaxBytes)
		if err != nil {
			return fail(fosite.ErrInvalidRequestURI.WithHint("The request object could not be fetched from the request_uri.").WithWrap(err).WithDebug(err.Error()), nil)
		}
		obj = string(bytes.TrimSpace(body))
	}
	params, unverified, err := p.verifyRequestObject(ctx, c, obj, form)
	if err != nil {
		return fail(err, unverified)
	}
	form.Del("request")
	form.Del("request_uri")
	for k, v := range params {
		form[k] = v
	}
	return nil
}

// verifyRequestObject checks a request object of client c and returns its
// authorization parameters; on failure, the parameters read without
// verification, when the object could be decoded at all.
func (p *Provider) verifyRequestObject(ctx context.Context, c *clients.Client, obj string, outer url.Values) (params, unverified url.Values, err error) {
	invalid := func(hint string) error { return fosite.ErrInvalidRequestObject.WithHint(hint) }
	parts := strings.Split(obj, ".")
	switch {
	case len(parts) == 5:
		return nil, nil, invalid("Encrypted request objects are not supported.")
	case len(parts) != 3:
		return nil, nil, invalid("The request object is not a JWT.")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	hb, herr := base64.RawURLEncoding.DecodeString(parts[0])
	payload, perr := base64.RawURLEncoding.DecodeString(parts[1])
	if herr != nil || perr != nil || json.Unmarshal(hb, &header) != nil {
		return nil, nil, invalid("The request object is not a JWT.")
	}
	claims, derr := decodeClaims(payload)
	if derr == nil {
		unverified = claimsToParams(claims)
	}

	want := c.RequestObjectSigningAlg()
	switch {
	case header.Alg == "none" && want != "none":
		return nil, unverified, invalid("The client must sign its request objects: unsigned ones (alg none) are not allowed for it.")
	case header.Alg == "none" && parts[2] != "":
		return nil, unverified, invalid("An unsigned request object (alg none) must have an empty signature.")
	case header.Alg != "none" && want != "" && header.Alg != want:
		return nil, unverified, fosite.ErrInvalidRequestObject.WithHintf("The client's request objects must be signed with %s, not %s.", want, header.Alg)
	case header.Alg != "none":
		algs := clients.RequestObjectAlgs
		if want != "" {
			algs = []string{want}
		}
		if !c.HasKeys() {
			return nil, unverified, invalid("The client has registered no keys (jwks or jwks_uri) to verify its request objects.")
		}
		if _, err := p.clientAuth.VerifyClientJWS(ctx, c, obj, algs); err != nil {
			return nil, unverified, fosite.ErrInvalidRequestObject.WithHint("The request object's signature could not be verified with the client's keys.").WithWrap(err).WithDebug(err.Error())
		}
	}
	if derr != nil {
		return nil, unverified, invalid("The request object's claims are not a JSON object.")
	}
	if err := p.checkRequestObjectClaims(c, claims, outer); err != nil {
		return nil, unverified, err
	}
	return unverified, unverified, nil
}

// checkRequestObjectClaims checks the claims that bind a request object to
// its client, to us and to a time (RFC 9101 4, 6.3; OpenID Connect Core
// 6.1), when the object has them: client_id and iss are the client, aud
// names our issuer, exp and nbf hold; response_type and client_id agree
// with the URL's; the object names no other request object.
func (p *Provider) checkRequestObjectClaims(c *clients.Client, claims map[string]any, outer url.Values) error {
	invalid := func(format string, args ...any) error {
		return fosite.ErrInvalidRequestObject.WithHintf(format, args...)
	}
	str := func(name string) (string, bool) { v, ok := claims[name].(string); return v, ok }
	if _, ok := claims["request"]; ok {
		return invalid("A request object must not contain 'request'.")
	}
	if _, ok := claims["request_uri"]; ok {
		return invalid("A request object must not contain 'request_uri'.")
	}
	for _, name := range []string{"client_id", "iss"} {
		if v, present := claims[name]; present {
			if s, _ := v.(string); s != c.GetID() {
				return invalid("The request object's '%s' is not the client_id.", name)
			}
		}
	}
	if rt, ok := str("response_type"); ok && outer.Get("response_type") != "" && rt != outer.Get("response_type") {
		return invalid("The request object's response_type differs from the request's.")
	}
	if aud, present := claims["aud"]; present {
		var auds []string
		switch a := aud.(type) {
		case string:
			auds = []string{a}
		case []any:
			for _, v := range a {
				if s, ok := v.(string); ok {
					auds = append(auds, s)
				}
			}
		}
		if !slices.Contains(auds, p.issuer) {
			return invalid("The request object's audience (aud) is not this issuer, %s.", p.issuer)
		}
	}
	now := p.now()
	if t, ok := numericDate(claims["exp"]); ok && !now.Before(t.Add(requestObjectLeeway)) {
		return invalid("The request object has expired.")
	}
	if t, ok := numericDate(claims["nbf"]); ok && now.Add(requestObjectLeeway).Before(t) {
		return invalid("The request object is not valid yet (nbf).")
	}
	if _, present := claims["exp"]; present {
		if _, ok := numericDate(claims["exp"]); !ok {
			return invalid("The request object's exp is not a number.")
		}
	}
	return nil
}

// decodeClaims decodes a JWT payload, keeping numbers as written.
func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, errors.New("null")
	}
	return claims, nil
}

// claimsToParams turns a request object's claims into authorization
// request parameters: strings as they are, numbers as written, booleans,
// and objects or arrays (claims, authorization_details) as JSON. The JWT's
// own claims (iss, aud, exp...) are not parameters.
func claimsToParams(claims map[string]any) url.Values {
	out := url.Values{}
	for k, v := range claims {
		if slices.Contains(requestObjectClaims, k) || v == nil {
			continue
		}
		switch v := v.(type) {
		case string:
			out.Set(k, v)
		case json.Number:
			out.Set(k, v.String())
		case bool:
			out.Set(k, fmt.Sprint(v))
		default:
			b, err := json.Marshal(v)
			if err != nil {
				continue
			}
			out.Set(k, string(b))
		}
	}
	return out
}

// numericDate reads a JWT NumericDate.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// requestObjectFailed answers an authorization request whose request
// object failed: at the client's redirect URI whenever the client and the
// redirect URI (from the URL, or else from the object, as registered) can be
// trusted, with state and iss; else with the error page.
func (p *Provider) requestObjectFailed(w http.ResponseWriter, r *http.Request, err error) {
	form := url.Values{}
	for k, v := range r.Form {
		if k != "request" && k != "request_uri" {
			form[k] = v
		}
	}
	var roe *requestObjectError
	if errors.As(err, &roe) {
		err = roe.err
		for _, k := range []string{"redirect_uri", "state", "response_type", "response_mode", "scope", "nonce"} {
			if form.Get(k) == "" && roe.unverified.Get(k) != "" {
				form.Set(k, roe.unverified.Get(k))
			}
		}
	}
	r2 := r.Clone(r.Context())
	r2.Form, r2.PostForm, r2.Body = form, url.Values{}, http.NoBody
	ar, ferr := p.oauth2.NewAuthorizeRequest(r.Context(), r2)
	if ferr != nil && (ar == nil || !ar.IsRedirectURIValid()) {
		if fosite.ErrorToRFC6749Error(err).ErrorField != fosite.ErrInvalidClient.ErrorField {
			err = ferr // the client or redirect URI is the problem: say so
		}
	}
	p.authorizeError(w, r, ar, err)
}

package provider

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"
)

// authenticateClient is fosite's ClientAuthenticationStrategy for the token,
// revocation and PAR endpoints, and authenticates clients at introspection.
// Client assertions (client_secret_jwt, private_key_jwt) are checked by
// authenticateAssertion.
//
// A client that registers no token_endpoint_auth_method may use either
// client_secret_basic or client_secret_post; one that registers a method must
// use it, and a mismatch gets invalid_client with a hint naming both methods.
// Basic credentials are form-urlencoded before base64 (RFC 6749 2.3.1); a
// client that does not encode them is accepted too when the raw value matches.
func (p *Provider) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if form.Get("client_assertion_type") != "" || form.Get("client_assertion") != "" {
		return p.authenticateAssertion(ctx, r, form) // clientassert.go
	}

	basicID, basicSecrets, hasBasic, err := basicCredentials(r)
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

	fc, err := p.GetClient(ctx, id)
	if err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("Client authentication failed (unknown client).")
	}
	c := fc.(*Client)

	registered := c.TokenEndpointAuthMethod
	switch {
	case c.Public && used != AuthMethodNone:
		return nil, fosite.ErrInvalidClient.WithHintf("The client is registered for authentication method 'none' (public client), but method '%s' was used.", used)
	case c.Public:
		return c, nil
	case used == AuthMethodNone:
		return nil, fosite.ErrInvalidClient.WithHintf("The client must authenticate with %s.", methodsHint(c))
	case c.AuthMethodExplicit && registered != used:
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
	if c.AuthMethodExplicit {
		return fmt.Sprintf("'%s'", c.TokenEndpointAuthMethod)
	}
	return "'client_secret_basic' or 'client_secret_post'"
}

// basicCredentials parses HTTP Basic authorization. It returns the client ID
// and the candidate secrets: the form-urldecoded value first, then the raw
// value when it differs (clients that do not encode).
func basicCredentials(r *http.Request) (id string, secrets []string, ok bool, err error) {
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

package provider

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
)

// Grant types, in the order discovery lists them.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantImplicit          = "implicit"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password" // resource owner password credentials, discouraged
)

var grantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantImplicit, GrantClientCredentials, GrantPassword}

// responseTypes are the response types we implement, each spelled as
// discovery lists it (OpenID Connect Core 3 and OAuth 2.0 Multiple Response
// Type Encoding Practices). The order of the words in a request or in the
// configuration does not matter.
var responseTypes = []string{
	"code",
	"code id_token",
	"code token",
	"code id_token token",
	"id_token",
	"id_token token",
	"token",
}

// responseModes are the response modes we implement, in discovery's order.
var responseModes = []fosite.ResponseModeType{fosite.ResponseModeQuery, fosite.ResponseModeFragment, fosite.ResponseModeFormPost}

// normalizeResponseType returns the canonical spelling of a response type
// ("token id_token code" → "code id_token token"), or false when it is not
// one we implement.
func normalizeResponseType(raw string) (string, bool) {
	words := strings.Fields(raw)
	for _, rt := range responseTypes {
		want := strings.Fields(rt)
		if len(words) != len(want) {
			continue
		}
		ok := true
		for _, w := range want {
			if !slices.Contains(words, w) {
				ok = false
				break
			}
		}
		if ok {
			return rt, true
		}
	}
	return "", false
}

// defaultResponseMode is the response mode a response type uses when the
// request names none: query for code alone, fragment for every response
// type that returns a token (OAuth 2.0 Multiple Response Type Encoding
// Practices 2.1, 5; OpenID Connect Core 3.2.2.5, 3.3.2.5).
func defaultResponseMode(responseType string) fosite.ResponseModeType {
	if responseType == "code" {
		return fosite.ResponseModeQuery
	}
	return fosite.ResponseModeFragment
}

// usesAuthorizationEndpoint reports whether a client sends users to the
// authorization endpoint, and so needs redirect URIs: it has response types,
// or grant types that are obtained there.
func usesAuthorizationEndpoint(cfg ClientConfig) bool {
	if len(cfg.ResponseTypes) > 0 || len(cfg.GrantTypes) == 0 {
		return true
	}
	return slices.Contains(cfg.GrantTypes, GrantAuthorizationCode) || slices.Contains(cfg.GrantTypes, GrantImplicit)
}

// setFlows validates and sets the client's grant types, response types and
// response modes. Errors name the field.
//
//   - grant_types: authorization_code and refresh_token by default;
//     client_credentials only for confidential clients. password is checked
//     against the authorization policy by the provider (checkPasswordGrants).
//   - response_types: code by default when authorization_code is granted;
//     every response type needs its grant type: code needs
//     authorization_code, token and id_token need implicit.
//   - response_modes: by default form_post, query when code is a response
//     type, fragment when any other is. query never carries tokens, so it
//     needs the code response type.
func (c *Client) setFlows(cfg ClientConfig) error {
	c.GrantTypes = nil
	grants := cfg.GrantTypes
	if len(grants) == 0 {
		grants = DefaultGrantTypes
	}
	for _, g := range grants {
		if !slices.Contains(grantTypes, g) {
			return fmt.Errorf("grant_types: %q is not one of %s", g, strings.Join(grantTypes, ", "))
		}
		if !slices.Contains(c.GrantTypes, g) {
			c.GrantTypes = append(c.GrantTypes, g)
		}
	}
	has := func(g string) bool { return slices.Contains(c.GrantTypes, g) }
	if has(GrantClientCredentials) && cfg.Public {
		return fmt.Errorf("grant_types: client_credentials is only for confidential clients, not public ones")
	}

	c.ResponseTypes = nil
	types := cfg.ResponseTypes
	switch {
	case len(types) > 0:
	case has(GrantAuthorizationCode):
		types = []string{"code"}
	case has(GrantImplicit):
		return fmt.Errorf("response_types: required with the implicit grant type and no authorization_code (e.g. id_token, id_token token)")
	}
	for _, raw := range types {
		rt, ok := normalizeResponseType(raw)
		if !ok {
			return fmt.Errorf("response_types: %q is not one of %s", raw, strings.Join(responseTypes, ", "))
		}
		words := strings.Fields(rt)
		if slices.Contains(words, "code") && !has(GrantAuthorizationCode) {
			return fmt.Errorf("response_types: %q needs the authorization_code grant type in grant_types", raw)
		}
		if (slices.Contains(words, "token") || slices.Contains(words, "id_token")) && !has(GrantImplicit) {
			return fmt.Errorf("response_types: %q needs the implicit grant type in grant_types", raw)
		}
		if !slices.Contains(c.ResponseTypes, rt) {
			c.ResponseTypes = append(c.ResponseTypes, rt)
		}
	}

	c.ResponseModes = nil
	modes := cfg.ResponseModes
	if len(modes) == 0 && len(c.ResponseTypes) > 0 {
		modes = []string{string(fosite.ResponseModeFormPost)}
		for _, rt := range c.ResponseTypes {
			if m := string(defaultResponseMode(rt)); !slices.Contains(modes, m) {
				modes = append(modes, m)
			}
		}
	}
	for _, m := range modes {
		mode := fosite.ResponseModeType(m)
		switch mode {
		case fosite.ResponseModeQuery:
			if !slices.Contains(c.ResponseTypes, "code") {
				return fmt.Errorf("response_modes: query cannot carry the tokens of response types %s; use fragment or form_post", strings.Join(c.ResponseTypes, ", "))
			}
		case fosite.ResponseModeFragment, fosite.ResponseModeFormPost:
		default:
			return fmt.Errorf("response_modes: %q is not one of query, fragment, form_post", m)
		}
		if !slices.Contains(c.ResponseModes, mode) {
			c.ResponseModes = append(c.ResponseModes, mode)
		}
	}
	// A request without response_mode gets its response type's default
	// (fosite allows it whatever the client lists).
	c.ResponseModes = append(c.ResponseModes, fosite.ResponseModeDefault)
	return nil
}

// GetResponseTypes implements fosite.Client: exactly the configured response
// types. fosite's default client answers code when there are none, which
// would open the authorization endpoint to a client_credentials-only client.
func (c *Client) GetResponseTypes() fosite.Arguments { return fosite.Arguments(c.ResponseTypes) }

// checkPasswordGrants refuses the password grant to clients whose
// authorization policy could ask for more than a password: the token
// endpoint has no way to ask for a second factor. Run after the policies are
// resolved.
func (p *Provider) checkPasswordGrants() error {
	for _, id := range p.clientIDs() {
		c := p.clients[id]
		if !slices.Contains(c.GrantTypes, GrantPassword) {
			continue
		}
		if c.policy.Default != authn.OneFactor || len(c.policy.Rules) > 0 {
			name := c.PolicyName
			if name == "" {
				name = "the default authorization policy"
			}
			return fmt.Errorf("client %q: grant_types: password is only allowed with authorization_policy one_factor (and no rules), not %s", c.ID, name)
		}
	}
	return nil
}

// supportedFlows are the grant types, response types and response modes of
// the registered clients, for discovery, each in a fixed order. With no
// client registered they are what a default client gets.
func (p *Provider) supportedFlows() (grants, types []string, modes []string) {
	for _, g := range grantTypes {
		for _, c := range p.clients {
			if slices.Contains(c.GrantTypes, g) {
				grants = append(grants, g)
				break
			}
		}
	}
	for _, rt := range responseTypes {
		for _, c := range p.clients {
			if slices.Contains(c.ResponseTypes, rt) {
				types = append(types, rt)
				break
			}
		}
	}
	for _, m := range responseModes {
		for _, c := range p.clients {
			used := slices.Contains(c.ResponseModes, m)
			for _, rt := range c.ResponseTypes {
				used = used || defaultResponseMode(rt) == m
			}
			if used {
				modes = append(modes, string(m))
				break
			}
		}
	}
	if len(grants) == 0 {
		grants = slices.Clone(DefaultGrantTypes)
	}
	if len(types) == 0 {
		types = []string{"code"}
	}
	if len(modes) == 0 {
		modes = []string{string(fosite.ResponseModeQuery), string(fosite.ResponseModeFormPost)}
	}
	return grants, types, modes
}

// checkResponseTypeAndMode refuses, before any page is shown, what fosite
// would refuse only after the user signed in and consented: tokens in the
// query, a form_post to a redirect URI a form cannot post to, and an ID
// token from the authorization endpoint without the openid scope, a nonce
// (OpenID Connect Core 3.2.2.1, 3.3.2.11) or the redirect_uri parameter.
func checkResponseTypeAndMode(ar fosite.AuthorizeRequester) error {
	types, form := ar.GetResponseTypes(), ar.GetRequestForm()
	codeOnly := types.ExactOne("code")
	switch mode := ar.GetResponseMode(); {
	case !codeOnly && mode == fosite.ResponseModeQuery:
		return fosite.ErrUnsupportedResponseMode.WithHintf("The response_mode 'query' cannot carry the tokens of response_type '%s'; use fragment or form_post.", form.Get("response_type"))
	case mode == fosite.ResponseModeFormPost && !canFormPost(ar.GetRedirectURI()):
		return fosite.ErrUnsupportedResponseMode.WithHint("The response_mode 'form_post' needs an http or https redirect_uri.")
	}
	if types.Has("id_token") {
		switch {
		case !ar.GetRequestedScopes().Has("openid"):
			return fosite.ErrInvalidScope.WithHint("The response_type 'id_token' needs the 'openid' scope.")
		case form.Get("nonce") == "":
			return fosite.ErrInvalidRequest.WithHint("Parameter 'nonce' must be set when requesting an ID Token from the authorization endpoint (implicit and hybrid flows).")
		}
	}
	if !codeOnly && ar.GetRequestedScopes().Has("openid") && form.Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter is required when using OpenID Connect 1.0.")
	}
	return nil
}

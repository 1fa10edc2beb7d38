package clients

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ory/fosite"
)

var grantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantImplicit, GrantClientCredentials, GrantPassword, GrantDeviceCode}

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

// JWT Secured Authorization Response Modes (JARM): the response is one
// signed JWT, in the query, the fragment, a form post, or (jwt) the
// response type's default of these.
const (
	ResponseModeQueryJWT    fosite.ResponseModeType = "query.jwt"
	ResponseModeFragmentJWT fosite.ResponseModeType = "fragment.jwt"
	ResponseModeFormPostJWT fosite.ResponseModeType = "form_post.jwt"
	ResponseModeJWT         fosite.ResponseModeType = "jwt"
)

// JARMModes are the JARM response modes.
var JARMModes = fosite.ResponseModeTypes{ResponseModeQueryJWT, ResponseModeFragmentJWT, ResponseModeFormPostJWT, ResponseModeJWT}

// responseModes are the response modes we implement, in discovery's order.
var responseModes = []fosite.ResponseModeType{fosite.ResponseModeQuery, fosite.ResponseModeFragment, fosite.ResponseModeFormPost,
	ResponseModeQueryJWT, ResponseModeFragmentJWT, ResponseModeFormPostJWT, ResponseModeJWT}

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

// DefaultResponseMode is the response mode a response type uses when the
// request names none: query for code alone, fragment for every response
// type that returns a token (OAuth 2.0 Multiple Response Type Encoding
// Practices 2.1, 5; OpenID Connect Core 3.2.2.5, 3.3.2.5).
func DefaultResponseMode(responseType string) fosite.ResponseModeType {
	if responseType == "code" {
		return fosite.ResponseModeQuery
	}
	return fosite.ResponseModeFragment
}

// usesAuthorizationEndpoint reports whether a client sends users to the
// authorization endpoint, and so needs redirect URIs: it has response types,
// or grant types that are obtained there.
func usesAuthorizationEndpoint(cfg Config) bool {
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
//     against the authorization policy by New.
//   - response_types: code by default when authorization_code is granted;
//     every response type needs its grant type: code needs
//     authorization_code, token and id_token need implicit.
//   - response_modes: by default form_post, query when code is a response
//     type, fragment when any other is, each also as JARM (query.jwt...),
//     and jwt. query never carries tokens, so it needs the code response
//     type.
func (c *Client) setFlows(cfg Config) error {
	c.grantTypes = nil
	grants := cfg.GrantTypes
	if len(grants) == 0 {
		grants = defaultGrantTypes
	}
	for _, g := range grants {
		if !slices.Contains(grantTypes, g) {
			return fmt.Errorf("grant_types: %q is not one of %s", g, strings.Join(grantTypes, ", "))
		}
		if !slices.Contains(c.grantTypes, g) {
			c.grantTypes = append(c.grantTypes, g)
		}
	}
	has := func(g string) bool { return slices.Contains(c.grantTypes, g) }
	if has(GrantClientCredentials) && cfg.Public {
		return fmt.Errorf("grant_types: client_credentials is only for confidential clients, not public ones")
	}

	c.responseTypes = nil
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
		if !slices.Contains(c.responseTypes, rt) {
			c.responseTypes = append(c.responseTypes, rt)
		}
	}

	c.responseModes = nil
	modes := cfg.ResponseModes
	if len(modes) == 0 && len(c.responseTypes) > 0 {
		modes = []string{string(fosite.ResponseModeFormPost)}
		for _, rt := range c.responseTypes {
			if m := string(DefaultResponseMode(rt)); !slices.Contains(modes, m) {
				modes = append(modes, m)
			}
		}
		for _, m := range slices.Clone(modes) { // and each as JARM
			modes = append(modes, m+".jwt")
		}
		modes = append(modes, string(ResponseModeJWT))
	}
	for _, m := range modes {
		mode := fosite.ResponseModeType(m)
		switch mode {
		case fosite.ResponseModeQuery, ResponseModeQueryJWT:
			if !slices.Contains(c.responseTypes, "code") {
				return fmt.Errorf("response_modes: %s cannot carry the tokens of response types %s; use fragment or form_post", m, strings.Join(c.responseTypes, ", "))
			}
		case fosite.ResponseModeFragment, fosite.ResponseModeFormPost, ResponseModeFragmentJWT, ResponseModeFormPostJWT, ResponseModeJWT:
		default:
			return fmt.Errorf("response_modes: %q is not one of query, fragment, form_post, query.jwt, fragment.jwt, form_post.jwt, jwt", m)
		}
		if !slices.Contains(c.responseModes, mode) {
			c.responseModes = append(c.responseModes, mode)
		}
	}
	// A request without response_mode gets its response type's default
	// (fosite allows it whatever the client lists).
	c.responseModes = append(c.responseModes, fosite.ResponseModeDefault)
	return nil
}

// SupportedFlows are the grant types, response types and response modes of
// the registered clients, for discovery, each in a fixed order. With no
// client registered they are what a default client gets.
func (r *Registry) SupportedFlows() (grants, types []string, modes []string) {
	for _, g := range grantTypes {
		for _, c := range r.byID {
			if slices.Contains(c.grantTypes, g) {
				grants = append(grants, g)
				break
			}
		}
	}
	for _, rt := range responseTypes {
		for _, c := range r.byID {
			if slices.Contains(c.responseTypes, rt) {
				types = append(types, rt)
				break
			}
		}
	}
	for _, m := range responseModes {
		for _, c := range r.byID {
			used := slices.Contains(c.responseModes, m)
			for _, rt := range c.responseTypes {
				used = used || DefaultResponseMode(rt) == m
			}
			if used {
				modes = append(modes, string(m))
				break
			}
		}
	}
	if len(grants) == 0 {
		grants = slices.Clone(defaultGrantTypes)
	}
	if len(types) == 0 {
		types = []string{"code"}
	}
	if len(modes) == 0 {
		modes = []string{string(fosite.ResponseModeQuery), string(fosite.ResponseModeFormPost)}
	}
	return grants, types, modes
}

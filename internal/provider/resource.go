package provider

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// Resource indicators (RFC 8707): a client names the protected resources
// it wants a token for with one or more resource parameters, absolute URIs
// without a fragment, at the authorization endpoint, the token endpoint,
// or both. The resources a client may name are its audience list (the
// audience option, as Authelia's): a resource is an audience, and a granted
// resource becomes the access token's aud (JWT access tokens) and the aud
// of its introspection.
//
// At the token endpoint, a code or refresh token exchange may only narrow
// the grant to some of the resources granted at authorization; the narrowed
// audience applies to the grant from then on, the refresh token returned
// with it included. A client_credentials (or password) request adds the
// resources it names to what it gets.

// resourceParam is the request parameter.
const resourceParam = "resource"

// invalidTarget is RFC 8707's error for a resource that is malformed or
// not allowed.
func invalidTarget(desc string) error {
	return &fosite.RFC6749Error{ErrorField: "invalid_target", DescriptionField: desc, CodeField: http.StatusBadRequest}
}

// checkResources validates the resource parameters of a request of client
// c: each an absolute URI without a fragment that c may request.
func checkResources(resources []string, c fosite.Client) error {
	for _, r := range resources {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || strings.ContainsRune(r, '#') {
			return invalidTarget("The resource " + r + " is not an absolute URI without a fragment.")
		}
		if !slices.Contains(c.GetAudience(), r) {
			return invalidTarget("The client may not request the resource " + r + ".")
		}
	}
	return nil
}

// authorizeResources adds an authorization request's resources to its
// requested audience (which consent shows and the code's grant receives).
func authorizeResources(ar fosite.AuthorizeRequester, c *clients.Client) error {
	resources := ar.GetRequestForm()[resourceParam]
	if len(resources) == 0 {
		return nil
	}
	if err := checkResources(resources, c); err != nil {
		return err
	}
	aud := ar.GetRequestedAudience()
	for _, r := range resources {
		if !slices.Contains(aud, r) {
			aud = append(aud, r)
		}
	}
	ar.SetRequestedAudience(aud)
	return nil
}

// tokenResources applies a token request's resources: a code or refresh
// token exchange narrows the granted audience to them (each must have been
// granted); other grants receive them.
func tokenResources(ar fosite.AccessRequester) error {
	resources := slices.Compact(slices.Sorted(slices.Values(ar.GetRequestForm()[resourceParam])))
	if len(resources) == 0 {
		return nil
	}
	if err := checkResources(resources, ar.GetClient()); err != nil {
		return err
	}
	gt := ar.GetGrantTypes()
	if !gt.ExactOne(clients.GrantAuthorizationCode) && !gt.ExactOne(clients.GrantRefreshToken) {
		for _, r := range resources {
			ar.GrantAudience(r)
		}
		return nil
	}
	granted := ar.GetGrantedAudience()
	for _, r := range resources {
		if !slices.Contains(granted, r) {
			return invalidTarget("The resource " + r + " was not granted to this authorization.")
		}
	}
	req, ok := ar.(*fosite.AccessRequest)
	if !ok {
		return fosite.ErrServerError.WithDebug("resource: unexpected access request type")
	}
	req.GrantedAudience = fosite.Arguments(resources)
	return nil
}

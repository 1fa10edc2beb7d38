package provider

import (
	"encoding/json"
	"slices"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// claimsSupported lists every claim the provider can put in an ID token or
// userinfo response.
var claimsSupported = []string{
	"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "amr",
	"name", "preferred_username", "email", "email_verified", "groups",
	"acr", "given_name", "family_name", "middle_name", "nickname", "profile", "picture", "website",
	"gender", "birthdate", "zoneinfo", "locale", "updated_at", "phone_number", "phone_number_verified", "address",
}

// buildDiscovery renders the OpenID Provider Metadata once. It lists exactly
// what is implemented and configured.
func (p *Provider) buildDiscovery(cfg Config) ([]byte, error) {
	scopes := []string{"openid", "offline_access", "profile", "email", "groups", "phone", "address"}
	for _, c := range p.clients.All() {
		for _, s := range c.GetScopes() {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	pkce := []string{"S256"}
	if cfg.EnablePKCEPlainChallenge {
		pkce = append(pkce, "plain")
	}
	authMethods := []string{clients.AuthMethodBasic, clients.AuthMethodPost, clients.AuthMethodNone}
	grants, types, modes := p.clients.SupportedFlows()
	doc := map[string]any{
		"issuer":                                         p.issuer,
		"authorization_endpoint":                         p.url(pathAuthorize),
		"token_endpoint":                                 p.url(pathToken),
		"userinfo_endpoint":                              p.url(pathUserinfo),
		"jwks_uri":                                       p.url(pathJWKS),
		"scopes_supported":                               scopes,
		"response_types_supported":                       types,
		"response_modes_supported":                       modes,
		"grant_types_supported":                          grants,
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          p.keys.Algorithms(),
		"token_endpoint_auth_methods_supported":          authMethods,
		"code_challenge_methods_supported":               pkce,
		"claims_supported":                               claimsSupported,
		"prompt_values_supported":                        []string{"none", "login", "consent"},
		"claims_parameter_supported":                     true, // claimsrequest.go
		"authorization_response_iss_parameter_supported": true,

		"introspection_endpoint":                        p.url(pathIntrospection),
		"introspection_endpoint_auth_methods_supported": introspectionAuthMethods,
		"revocation_endpoint":                           p.url(pathRevocation),
		"revocation_endpoint_auth_methods_supported":    revocationAuthMethods,
		"end_session_endpoint":                          p.url(pathEndSession),
		"pushed_authorization_request_endpoint":         p.url(pathPAR),
		"device_authorization_endpoint":                 p.url(pathDeviceAuthorization),
		"require_pushed_authorization_requests":         cfg.RequirePushedAuthorizationRequests,
	}
	p.tokenDiscovery(doc)
	p.jarDiscovery(doc)
	logoutDiscovery(doc)                              // logout.go
	doc["ui_locales_supported"] = p.pages.Languages() // the pages' languages (package i18n)
	clients.AddAssertionMetadata(doc)
	dpopDiscovery(doc) // dpop.go
	return json.Marshal(doc)
}

// tokenDiscovery adds the metadata of the per-client token options:
// userinfo signing, pairwise subjects, custom scopes and their claims.
func (p *Provider) tokenDiscovery(doc map[string]any) {
	doc["userinfo_signing_alg_values_supported"] = append([]string{"none"}, p.keys.Algorithms()...)
	for _, c := range p.clients.All() {
		if c.Sector() != "" {
			doc["subject_types_supported"] = []string{"public", "pairwise"}
			break
		}
	}
	if scopes, ok := doc["scopes_supported"].([]string); ok {
		for _, name := range p.claims.ScopeNames() {
			if !slices.Contains(scopes, name) {
				scopes = append(scopes, name)
			}
		}
		doc["scopes_supported"] = scopes
	}
	if claims, ok := doc["claims_supported"].([]string); ok {
		claims = slices.Clone(claims)
		for _, c := range p.claims.ClaimsSupported() {
			if !slices.Contains(claims, c) {
				claims = append(claims, c)
			}
		}
		doc["claims_supported"] = claims
	}
}

// jarDiscovery adds the metadata of request objects (RFC 9101: request
// and registered request_uri, none only when a client allows it), JARM and
// signed introspection (RFC 9701).
func (p *Provider) jarDiscovery(doc map[string]any) {
	reqAlgs := slices.Clone(clients.RequestObjectAlgs)
	for _, c := range p.clients.All() {
		if c.RequestObjectSigningAlg() == "none" {
			reqAlgs = append([]string{"none"}, reqAlgs...)
			break
		}
	}
	doc["request_parameter_supported"] = true
	doc["request_uri_parameter_supported"] = true
	doc["require_request_uri_registration"] = true
	doc["request_object_signing_alg_values_supported"] = reqAlgs
	doc["authorization_signing_alg_values_supported"] = p.keys.Algorithms()
	doc["introspection_signing_alg_values_supported"] = p.keys.Algorithms()
	encryptionDiscovery(doc) // encrypt.go
}

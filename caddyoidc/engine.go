package caddyoidc

// The one place where the Caddy config (the JSON structs of this package)
// becomes the engine's config (internal/provider). TestConfigReachesEngine
// fails when a JSON field is neither converted here nor listed as handled
// elsewhere, so a new option cannot be silently dropped.

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oidc/caddy-oidc/internal/provider"
)

// engineConfig converts the handler's options, with placeholders resolved.
// It does no I/O: Provision adds what comes from the guest modules and the
// issuer's pooled state (users, database, keys, secrets, logger).
func (h *Handler) engineConfig(repl *caddy.Replacer) (provider.Config, error) {
	cfg := provider.Config{
		Issuer:                    repl.ReplaceKnown(h.Issuer, ""),
		AccessTokenLifespan:       time.Duration(h.AccessTokenLifespan),
		AuthorizeCodeLifespan:     time.Duration(h.AuthorizeCodeLifespan),
		IDTokenLifespan:           time.Duration(h.IDTokenLifespan),
		RefreshTokenLifespan:      time.Duration(h.RefreshTokenLifespan),
		SessionLifespan:           time.Duration(h.SessionLifespan),
		EnforcePKCE:               h.EnforcePKCE,
		EnablePKCEPlainChallenge:  h.EnablePKCEPlainChallenge,
		MinimumParameterEntropy:   h.MinimumParameterEntropy,
		EnableClientDebugMessages: h.EnableClientDebugMessages,

		RequirePushedAuthorizationRequests: h.RequirePushedAuthorizationRequests,
		PARContextLifespan:                 time.Duration(h.PARContextLifespan),
		DeviceCodeLifespan:                 time.Duration(h.DeviceCodeLifespan),
		DPoPNonceRequired:                  h.DPoPNonceRequired,
		DPoPNonceLifespan:                  time.Duration(h.DPoPNonceLifespan),

		Lifespans:      engineLifespans(h.Lifespans),
		ClaimsPolicies: engineClaimsPolicies(h.ClaimsPolicies),
		Scopes:         engineScopes(h.Scopes),
		CORS:           h.CORS.engineConfig(),
	}
	if s := repl.ReplaceKnown(h.HMACSecret, ""); s != "" {
		sum := sha256.Sum256([]byte(strings.TrimRight(s, "\r\n")))
		cfg.HMACSecret = sum[:]
	}
	pols, err := policies(h.AuthorizationPolicies) // authn.go
	if err != nil {
		return cfg, err
	}
	cfg.Authn = provider.AuthnConfig{
		DefaultPolicy:      h.DefaultAuthorizationPolicy,
		Policies:           pols,
		Regulation:         h.Regulation.engineConfig(), // authn.go
		SessionInactivity:  time.Duration(h.SessionInactivity),
		RememberMeLifespan: time.Duration(h.RememberMeLifespan),
		TemplatesDir:       repl.ReplaceKnown(h.TemplatesDir, ""),
		Passkeys:           h.WebAuthn.engineConfig(repl), // authn.go
	}
	for i, c := range h.Clients {
		cc, err := c.engineConfig(repl)
		if err != nil {
			if id := c.id(); id != "" {
				return cfg, fmt.Errorf("client %q: %w", id, err)
			}
			return cfg, fmt.Errorf("clients[%d]: %w", i, err)
		}
		cfg.Clients = append(cfg.Clients, cc)
	}
	return cfg, nil
}

// engineConfig resolves aliases and placeholders.
func (c Client) engineConfig(repl *caddy.Replacer) (provider.ClientConfig, error) {
	id, err := alias("client_id", c.ClientID, "id", c.ID)
	if err != nil {
		return provider.ClientConfig{}, err
	}
	name, err := alias("client_name", c.ClientName, "description", c.Description)
	if err != nil {
		return provider.ClientConfig{}, err
	}
	secret, err := alias("client_secret", c.ClientSecret, "secret", c.Secret)
	if err != nil {
		return provider.ClientConfig{}, err
	}
	userinfoAlg, err := alias("userinfo_signed_response_alg", c.UserinfoSignedResponseAlg, "userinfo_signing_algorithm", c.UserinfoSigningAlgorithm)
	if err != nil {
		return provider.ClientConfig{}, err
	}
	if secret != "" {
		resolved := repl.ReplaceKnown(secret, "")
		if resolved == "" {
			return provider.ClientConfig{}, fmt.Errorf("client_secret: the placeholder resolved to an empty value")
		}
		secret = strings.TrimRight(resolved, "\r\n")
	}
	jwks, err := c.publicKeys(repl) // keys.go
	if err != nil {
		return provider.ClientConfig{}, err
	}
	return provider.ClientConfig{
		ID:                           id,
		Name:                         name,
		Secret:                       secret,
		Public:                       c.Public,
		RedirectURIs:                 c.RedirectURIs,
		Scopes:                       c.Scopes,
		Audience:                     c.Audience,
		GrantTypes:                   c.GrantTypes,
		ResponseTypes:                c.ResponseTypes,
		ResponseModes:                c.ResponseModes,
		TokenEndpointAuthMethod:      c.TokenEndpointAuthMethod,
		RequirePKCE:                  c.RequirePKCE,
		PKCEChallengeMethod:          c.PKCEChallengeMethod,
		IDTokenSignedResponseAlg:     c.IDTokenSignedResponseAlg,
		AuthorizationPolicy:          c.AuthorizationPolicy,
		ConsentMode:                  c.ConsentMode,
		PreConfiguredConsentDuration: time.Duration(c.PreConfiguredConsentDuration),

		PostLogoutRedirectURIs:             c.PostLogoutRedirectURIs,
		RequirePushedAuthorizationRequests: c.RequirePushedAuthorizationRequests,
		DPoPBoundAccessTokens:              c.DPoPBoundAccessTokens,

		BackchannelLogoutURI:              c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:  c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI:             c.FrontchannelLogoutURI,
		FrontchannelLogoutSessionRequired: c.FrontchannelLogoutSessionRequired,

		TokenEndpointAuthSigningAlg: c.TokenEndpointAuthSigningAlg,
		JSONWebKeys:                 jwks,
		JSONWebKeysURI:              c.JWKSURI,

		AccessTokenSignedResponseAlg: c.AccessTokenSignedResponseAlg,
		UserinfoSignedResponseAlg:    userinfoAlg,
		SectorIdentifier:             c.SectorIdentifier,
		SectorIdentifierURI:          c.SectorIdentifierURI,
		Lifespan:                     c.Lifespan,
		ClaimsPolicy:                 c.ClaimsPolicy,
		RequestedAudienceMode:        c.RequestedAudienceMode,

		RequestURIs:                      c.RequestURIs,
		RequestObjectSigningAlg:          c.RequestObjectSigningAlg,
		AuthorizationSignedResponseAlg:   c.AuthorizationSignedResponseAlg,
		AuthorizationSignedResponseKeyID: c.AuthorizationSignedResponseKeyID,
		IntrospectionSignedResponseAlg:   c.IntrospectionSignedResponseAlg,

		IDTokenEncryptedResponseAlg:       c.IDTokenEncryptedResponseAlg,
		IDTokenEncryptedResponseEnc:       c.IDTokenEncryptedResponseEnc,
		UserinfoEncryptedResponseAlg:      c.UserinfoEncryptedResponseAlg,
		UserinfoEncryptedResponseEnc:      c.UserinfoEncryptedResponseEnc,
		AuthorizationEncryptedResponseAlg: c.AuthorizationEncryptedResponseAlg,
		AuthorizationEncryptedResponseEnc: c.AuthorizationEncryptedResponseEnc,
	}, nil
}

// engineLifespans converts the named lifespans for the engine.
func engineLifespans(in map[string]Lifespan) map[string]provider.Lifespans {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]provider.Lifespans, len(in))
	for name, l := range in {
		out[name] = provider.Lifespans{
			AccessToken:   time.Duration(l.AccessToken),
			AuthorizeCode: time.Duration(l.AuthorizeCode),
			IDToken:       time.Duration(l.IDToken),
			RefreshToken:  time.Duration(l.RefreshToken),
			Grants:        engineLifespans(l.Grants),
		}
	}
	return out
}

// engineClaimsPolicies converts the named claims policies for the engine.
func engineClaimsPolicies(in map[string]ClaimsPolicy) map[string]provider.ClaimsPolicy {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]provider.ClaimsPolicy, len(in))
	for name, p := range in {
		pol := provider.ClaimsPolicy{IDToken: p.IDToken, AccessToken: p.AccessToken, IDTokenAudienceMode: p.IDTokenAudienceMode}
		if len(p.CustomClaims) > 0 {
			pol.CustomClaims = make(map[string]string, len(p.CustomClaims))
			for claim, c := range p.CustomClaims {
				pol.CustomClaims[claim] = c.Attribute
			}
		}
		out[name] = pol
	}
	return out
}

// engineScopes converts the custom scopes for the engine.
func engineScopes(in map[string]Scope) map[string]provider.Scope {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]provider.Scope, len(in))
	for name, s := range in {
		out[name] = provider.Scope{Claims: s.Claims}
	}
	return out
}

// engineConfig converts the cors section for the engine; nil means none.
func (c *CORS) engineConfig() provider.CORSConfig {
	if c == nil {
		return provider.CORSConfig{}
	}
	return provider.CORSConfig{
		Endpoints:                            c.Endpoints,
		AllowedOrigins:                       c.AllowedOrigins,
		AllowedOriginsFromClientRedirectURIs: c.AllowedOriginsFromClientRedirectURIs,
	}
}

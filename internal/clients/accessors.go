package clients

import (
	"slices"
	"time"

	fositejose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/claims"
)

// fosite.Client, fosite.OpenIDConnectClient, fosite.ResponseModeClient.

// GetID returns the client_id.
func (c *Client) GetID() string { return c.id }

// GetHashedSecret returns a placeholder for confidential clients: fosite
// insists on a non-empty hashed secret for them, but never compares it
// (the Authenticator does).
func (c *Client) GetHashedSecret() []byte {
	if c.public {
		return nil
	}
	return []byte("-")
}

// GetRedirectURIs returns the registered redirect URIs.
func (c *Client) GetRedirectURIs() []string { return slices.Clone(c.redirectURIs) }

// GetGrantTypes returns the allowed grant types.
func (c *Client) GetGrantTypes() fosite.Arguments { return slices.Clone(c.grantTypes) }

// GetResponseTypes returns exactly the configured response types. fosite's
// default client answers code when there are none, which would open the
// authorization endpoint to a client_credentials-only client.
func (c *Client) GetResponseTypes() fosite.Arguments { return slices.Clone(c.responseTypes) }

// GetScopes returns the scopes the client may request.
func (c *Client) GetScopes() fosite.Arguments { return slices.Clone(c.scopes) }

// IsPublic reports whether the client has no secret.
func (c *Client) IsPublic() bool { return c.public }

// GetAudience returns the audiences the client may request.
func (c *Client) GetAudience() fosite.Arguments { return slices.Clone(c.audience) }

// GetRequestURIs returns nil: request objects by reference are not supported.
func (c *Client) GetRequestURIs() []string { return nil }

// GetJSONWebKeys returns nil: fosite never sees the client's keys (they
// are go-jose v4 keys, and the Authenticator verifies assertions itself).
func (c *Client) GetJSONWebKeys() *fositejose.JSONWebKeySet { return nil }

// GetJSONWebKeysURI returns the client's jwks_uri (private_key_jwt).
func (c *Client) GetJSONWebKeysURI() string {
	if c.assertion == nil {
		return ""
	}
	return c.assertion.jwksURI
}

// GetRequestObjectSigningAlgorithm returns "": no request objects.
func (c *Client) GetRequestObjectSigningAlgorithm() string { return "" }

// GetTokenEndpointAuthMethod returns the registered method, "" when the
// client may use client_secret_basic or client_secret_post.
func (c *Client) GetTokenEndpointAuthMethod() string { return c.authMethod }

// GetTokenEndpointAuthSigningAlgorithm returns the registered assertion
// algorithm, RS256 (fosite's default) when none is.
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.assertion != nil && c.assertion.alg != "" {
		return c.assertion.alg
	}
	return "RS256"
}

// GetResponseModes returns the allowed response modes, the default one
// included.
func (c *Client) GetResponseModes() []fosite.ResponseModeType { return slices.Clone(c.responseModes) }

// GetEffectiveLifespan implements fosite.ClientWithCustomTokenLifespans:
// with Authelia's precedence, the lifespan of the token for the grant
// (grants.<grant>), else the client's named lifespan for the token, else
// the provider-wide fallback.
func (c *Client) GetEffectiveLifespan(gt fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	if c.lifespans == nil {
		return fallback
	}
	if g, ok := c.lifespans.Grants[grantLifespanName(gt)]; ok {
		if d := g.of(tt); d > 0 {
			return d
		}
	}
	var d time.Duration
	switch tt {
	case fosite.AccessToken:
		d = c.lifespans.AccessToken
	case fosite.RefreshToken:
		d = c.lifespans.RefreshToken
	case fosite.IDToken:
		d = c.lifespans.IDToken
	case fosite.AuthorizeCode:
		d = c.lifespans.AuthorizeCode
	}
	if d <= 0 {
		return fallback
	}
	return d
}

// Our options.

// DisplayName is the name shown to users: the name, else the client_id.
func (c *Client) DisplayName() string { return cmpOr(c.name, c.id) }

// ConsentMode is explicit, implicit or pre-configured.
func (c *Client) ConsentMode() string { return c.consentMode }

// ConsentDuration is how long a remembered consent lasts (pre-configured).
func (c *Client) ConsentDuration() time.Duration { return c.consentDuration }

// Policy is the client's resolved authorization policy.
func (c *Client) Policy() authn.Policy { return c.policy }

// RequirePKCE reports whether the client must send a code_challenge.
func (c *Client) RequirePKCE() bool { return c.requirePKCE }

// PKCEChallengeMethod is the method the client must use, "" for any.
func (c *Client) PKCEChallengeMethod() string { return c.pkceMethod }

// IDTokenAlg is the signing algorithm of the client's ID tokens.
func (c *Client) IDTokenAlg() string { return c.idTokenAlg }

// IsPostLogoutRedirectURI reports whether uri is registered, exactly, for
// RP-initiated logout.
func (c *Client) IsPostLogoutRedirectURI(uri string) bool {
	return slices.Contains(c.postLogoutRedirectURIs, uri)
}

// RequirePAR reports whether the client must push its authorization requests.
func (c *Client) RequirePAR() bool { return c.requirePAR }

// DPoPBoundAccessTokens reports whether the client's token requests must
// carry a DPoP proof (RFC 9449 5.2).
func (c *Client) DPoPBoundAccessTokens() bool { return c.dpopBound }

// AccessTokenAlg is "" for opaque access tokens, else the JWT algorithm.
func (c *Client) AccessTokenAlg() string { return c.accessTokenAlg }

// UserinfoAlg is "" for JSON userinfo, else the JWT algorithm.
func (c *Client) UserinfoAlg() string { return c.userinfoAlg }

// Sector is the pairwise subject sector, "" for public subjects.
func (c *Client) Sector() string { return c.sector }

// ClaimsPolicy is the client's claims policy, nil for the default.
func (c *Client) ClaimsPolicy() *claims.Policy { return c.claimsPolicy }

// Interface guards.
var (
	_ fosite.OpenIDConnectClient            = (*Client)(nil)
	_ fosite.ResponseModeClient             = (*Client)(nil)
	_ fosite.ClientWithCustomTokenLifespans = (*Client)(nil)
)

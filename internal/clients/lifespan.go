package clients

import (
	"fmt"
	"slices"
	"time"

	"github.com/ory/fosite"
)

// GrantLifespanNames are the grants a named lifespan may tune
// (lifespans.custom.<name>.grants.<grant> in Authelia).
var GrantLifespanNames = []string{"authorize_code", "device_code", "implicit", "client_credentials", "refresh_token", "jwt_bearer"}

// grantLifespanName maps fosite's grant type to Authelia's name for it in
// grants; "" for grants without one (password).
func grantLifespanName(gt fosite.GrantType) string {
	switch gt {
	case fosite.GrantTypeAuthorizationCode:
		return "authorize_code"
	case GrantDeviceCode:
		return "device_code"
	case fosite.GrantTypeImplicit:
		return "implicit"
	case fosite.GrantTypeClientCredentials:
		return "client_credentials"
	case fosite.GrantTypeRefreshToken:
		return "refresh_token"
	case fosite.GrantTypeJWTBearer:
		return "jwt_bearer"
	}
	return ""
}

// of returns the lifespan of token type tt, zero when unset.
func (l Lifespans) of(tt fosite.TokenType) time.Duration {
	switch tt {
	case fosite.AccessToken:
		return l.AccessToken
	case fosite.RefreshToken:
		return l.RefreshToken
	case fosite.IDToken:
		return l.IDToken
	case fosite.AuthorizeCode:
		return l.AuthorizeCode
	}
	return 0
}

// validateGrants checks the grant names and their lifespans.
func (l Lifespans) validateGrants() error {
	for _, name := range sortedKeys(l.Grants) {
		g := l.Grants[name]
		if !slices.Contains(GrantLifespanNames, name) {
			return fmt.Errorf("grants: %q is not one of %v", name, GrantLifespanNames)
		}
		if len(g.Grants) > 0 {
			return fmt.Errorf("grants %q: grants cannot be nested", name)
		}
		if err := g.validate(); err != nil {
			return fmt.Errorf("grants %q: %w", name, err)
		}
	}
	return nil
}

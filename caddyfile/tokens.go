package caddyfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

// unmarshalLifespan reads
//
//	lifespan <name> {
//		access_token <duration>
//		authorize_code <duration>
//		id_token <duration>
//		refresh_token <duration>
//	}
func unmarshalLifespan(d *caddyfile.Dispenser, handler *caddyoidc.Handler) error {
	name, err := blockName(d, "lifespan")
	if err != nil {
		return err
	}
	var l caddyoidc.Lifespan
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "access_token":
			err = durationArg(d, &l.AccessToken)
		case "authorize_code":
			err = durationArg(d, &l.AuthorizeCode)
		case "id_token":
			err = durationArg(d, &l.IDToken)
		case "refresh_token":
			err = durationArg(d, &l.RefreshToken)
		default:
			return d.Errf("lifespan %q: unrecognized option %q", name, opt)
		}
		if err != nil {
			return err
		}
	}
	if handler.Lifespans == nil {
		handler.Lifespans = map[string]caddyoidc.Lifespan{}
	}
	if _, dup := handler.Lifespans[name]; dup {
		return d.Errf("lifespan %q: defined twice", name)
	}
	handler.Lifespans[name] = l
	return nil
}

// unmarshalClaimsPolicy reads
//
//	claims_policy <name> {
//		id_token [<claim>...]        # no claims: an ID token without user claims
//		access_token <claim>...
//		custom_claim <claim> [<attribute>]
//	}
func unmarshalClaimsPolicy(d *caddyfile.Dispenser, handler *caddyoidc.Handler) error {
	name, err := blockName(d, "claims_policy")
	if err != nil {
		return err
	}
	var pol caddyoidc.ClaimsPolicy
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "id_token":
			pol.IDToken = append(pol.IDToken, d.RemainingArgs()...)
			if pol.IDToken == nil {
				pol.IDToken = []string{}
			}
		case "access_token":
			err = appendArgs(d, &pol.AccessToken)
		case "custom_claim", "custom_claims":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.ArgErr()
			}
			c := caddyoidc.CustomClaim{}
			if len(args) == 2 {
				c.Attribute = args[1]
			}
			if pol.CustomClaims == nil {
				pol.CustomClaims = map[string]caddyoidc.CustomClaim{}
			}
			if _, dup := pol.CustomClaims[args[0]]; dup {
				return d.Errf("claims_policy %q: custom_claim %q defined twice", name, args[0])
			}
			pol.CustomClaims[args[0]] = c
		default:
			return d.Errf("claims_policy %q: unrecognized option %q", name, opt)
		}
		if err != nil {
			return err
		}
	}
	if handler.ClaimsPolicies == nil {
		handler.ClaimsPolicies = map[string]caddyoidc.ClaimsPolicy{}
	}
	if _, dup := handler.ClaimsPolicies[name]; dup {
		return d.Errf("claims_policy %q: defined twice", name)
	}
	handler.ClaimsPolicies[name] = pol
	return nil
}

// unmarshalScope reads
//
//	scope <name> {
//		claims <claim>...
//	}
func unmarshalScope(d *caddyfile.Dispenser, handler *caddyoidc.Handler) error {
	name, err := blockName(d, "scope")
	if err != nil {
		return err
	}
	var s caddyoidc.Scope
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "claims":
			if err := appendArgs(d, &s.Claims); err != nil {
				return err
			}
		default:
			return d.Errf("scope %q: unrecognized option %q", name, opt)
		}
	}
	if handler.Scopes == nil {
		handler.Scopes = map[string]caddyoidc.Scope{}
	}
	if _, dup := handler.Scopes[name]; dup {
		return d.Errf("scope %q: defined twice", name)
	}
	handler.Scopes[name] = s
	return nil
}

// blockName reads the single name argument of a named block.
func blockName(d *caddyfile.Dispenser, what string) (string, error) {
	if !d.NextArg() {
		return "", d.Errf("%s: the name is required (%s <name> { ... })", what, what)
	}
	name := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return name, nil
}

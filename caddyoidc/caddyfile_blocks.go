package caddyoidc

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// unmarshalLifespan reads
//
//	lifespan <name> {
//		access_token <duration>
//		authorize_code <duration>
//		id_token <duration>
//		refresh_token <duration>
//		grant <grant> {                  # authorize_code, device_code, implicit,
//			access_token <duration>      # client_credentials, refresh_token, jwt_bearer
//			id_token <duration>
//			refresh_token <duration>
//			authorize_code <duration>
//		}
//	}
func unmarshalLifespan(d *caddyfile.Dispenser, handler *Handler) error {
	name, err := blockName(d, "lifespan")
	if err != nil {
		return err
	}
	var l Lifespan
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
		case "grant", "grants":
			err = unmarshalGrantLifespan(d, name, &l)
		default:
			return d.Errf("lifespan %q: unrecognized option %q", name, opt)
		}
		if err != nil {
			return err
		}
	}
	if handler.Lifespans == nil {
		handler.Lifespans = map[string]Lifespan{}
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
//		id_token_audience_mode specification|experimental-merged
//	}
func unmarshalClaimsPolicy(d *caddyfile.Dispenser, handler *Handler) error {
	name, err := blockName(d, "claims_policy")
	if err != nil {
		return err
	}
	var pol ClaimsPolicy
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "id_token":
			pol.IDToken = append(pol.IDToken, d.RemainingArgs()...)
			if pol.IDToken == nil {
				pol.IDToken = []string{}
			}
		case "access_token":
			err = appendArgs(d, &pol.AccessToken)
		case "id_token_audience_mode":
			err = oneArg(d, &pol.IDTokenAudienceMode)
		case "custom_claim", "custom_claims":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.ArgErr()
			}
			c := CustomClaim{}
			if len(args) == 2 {
				c.Attribute = args[1]
			}
			if pol.CustomClaims == nil {
				pol.CustomClaims = map[string]CustomClaim{}
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
		handler.ClaimsPolicies = map[string]ClaimsPolicy{}
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
func unmarshalScope(d *caddyfile.Dispenser, handler *Handler) error {
	name, err := blockName(d, "scope")
	if err != nil {
		return err
	}
	var s Scope
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
		handler.Scopes = map[string]Scope{}
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

// unmarshalPolicy reads
//
//	authorization_policy <name> {
//		default_policy one_factor|two_factor|deny
//		rule one_factor|two_factor|deny [<subject>...] [networks <cidr>...]
//	}
//
// Each subject argument is an alternative; conditions joined with & must
// all hold: "rule two_factor group:photos group:admins&group:family".
// "networks <cidr>..." at the end restricts the rule to client addresses:
// "rule one_factor group:family networks 192.168.0.0/16".
func unmarshalPolicy(d *caddyfile.Dispenser, h *Handler) error {
	if !d.NextArg() {
		return d.Errf("authorization_policy: the policy name is required")
	}
	name := d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	var pol AuthorizationPolicy
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "default_policy":
			if err := oneArg(d, &pol.DefaultPolicy); err != nil {
				return err
			}
		case "rule":
			args := d.RemainingArgs()
			if len(args) < 1 {
				return d.ArgErr()
			}
			rule := PolicyRule{Policy: args[0]}
			args, rule.Networks = splitNetworks(args)
			for _, alt := range args[1:] {
				rule.Subject = append(rule.Subject, strings.Split(alt, "&"))
			}
			pol.Rules = append(pol.Rules, rule)
		default:
			return d.Errf("authorization_policy %q: unrecognized option %q", name, opt)
		}
	}
	if h.AuthorizationPolicies == nil {
		h.AuthorizationPolicies = map[string]AuthorizationPolicy{}
	}
	if _, dup := h.AuthorizationPolicies[name]; dup {
		return d.Errf("authorization_policy %q: defined twice", name)
	}
	h.AuthorizationPolicies[name] = pol
	return nil
}

// unmarshalRegulation reads
//
//	regulation {
//		max_retries <n>
//		find_time <duration>
//		ban_time <duration>
//	}
func unmarshalRegulation(d *caddyfile.Dispenser) (*Regulation, error) {
	reg := &Regulation{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "max_retries":
			var s string
			if err = oneArg(d, &s); err != nil {
				return nil, err
			}
			n, convErr := strconv.Atoi(s)
			if convErr != nil || n < 0 {
				return nil, d.Errf("max_retries: %q is not a number of at least 0", s)
			}
			reg.MaxRetries = &n
		case "find_time":
			err = durationArg(d, &reg.FindTime)
		case "ban_time":
			err = durationArg(d, &reg.BanTime)
		default:
			return nil, d.Errf("regulation: unrecognized option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// unmarshalCORS reads
//
//	cors {
//		endpoints authorization token revocation introspection userinfo
//		allowed_origins <origin>...|*
//		allowed_origins_from_client_redirect_uris [true|false]
//	}
func unmarshalCORS(d *caddyfile.Dispenser) (*CORS, error) {
	c := &CORS{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "endpoints":
			err = appendArgs(d, &c.Endpoints)
		case "allowed_origins":
			err = appendArgs(d, &c.AllowedOrigins)
		case "allowed_origins_from_client_redirect_uris":
			err = boolArg(d, &c.AllowedOriginsFromClientRedirectURIs)
		default:
			return nil, d.Errf("cors: unrecognized option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// splitNetworks splits a rule's arguments at the "networks" keyword: the
// arguments before it, and the CIDRs after it.
func splitNetworks(args []string) (rest, networks []string) {
	for i, a := range args {
		if a == "networks" {
			return args[:i], args[i+1:]
		}
	}
	return args, nil
}

// unmarshalGrantLifespan reads a lifespan's "grant <grant> { ... }" block.
func unmarshalGrantLifespan(d *caddyfile.Dispenser, lifespan string, l *Lifespan) error {
	if !d.NextArg() {
		return d.Errf("lifespan %q: grant: the grant name is required (grant <grant> { ... })", lifespan)
	}
	grant := d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	var g Lifespan
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "access_token":
			err = durationArg(d, &g.AccessToken)
		case "authorize_code":
			err = durationArg(d, &g.AuthorizeCode)
		case "id_token":
			err = durationArg(d, &g.IDToken)
		case "refresh_token":
			err = durationArg(d, &g.RefreshToken)
		default:
			return d.Errf("lifespan %q: grant %q: unrecognized option %q", lifespan, grant, opt)
		}
		if err != nil {
			return err
		}
	}
	if l.Grants == nil {
		l.Grants = map[string]Lifespan{}
	}
	if _, dup := l.Grants[grant]; dup {
		return d.Errf("lifespan %q: grant %q defined twice", lifespan, grant)
	}
	l.Grants[grant] = g
	return nil
}

// unmarshalWebAuthn reads
//
//	webauthn {
//		disable [true|false]
//		display_name <name>
//	}
func unmarshalWebAuthn(d *caddyfile.Dispenser) (*WebAuthn, error) {
	w := &WebAuthn{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "disable":
			err = boolArg(d, &w.Disable)
		case "display_name":
			err = oneArg(d, &w.DisplayName)
		default:
			return nil, d.Errf("webauthn: unrecognized option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

package caddyoidc

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the handler from the oidc_provider directive:
//
//	oidc_provider [<issuer>] {
//		users_file <path>             # or: users <backend> ...
//		storage <backend> ...         # e.g. storage sqlite [<path>]
//		client <client_id> {
//			...
//		}
//		...
//	}
//
// Every option, with its JSON name, default and meaning, is in the
// configuration reference of README.md (TestREADMEOptions keeps the two in
// step). The users and storage subdirectives hand their tokens to the guest
// module they name (oidc.users.<backend>, oidc.storage.<backend>), so a new
// backend brings its own Caddyfile syntax.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		h.Issuer = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		var err error
		switch opt := d.Val(); opt {
		case "issuer":
			err = oneArg(d, &h.Issuer)
		case "users_file":
			var path string
			if err = oneArg(d, &path); err == nil {
				h.UsersRaw = caddyconfig.JSONModuleObject(FileUsers{Path: path}, "backend", "file", nil)
			}
		case "users":
			h.UsersRaw, err = unmarshalGuest(d, "oidc.users")
		case "storage":
			h.StorageRaw, err = unmarshalGuest(d, "oidc.storage")
		case "hmac_secret":
			err = oneArg(d, &h.HMACSecret)
		case "jwk":
			var k JWK
			if k, err = unmarshalJWK(d); err == nil {
				h.JWKS = append(h.JWKS, k)
			}
		case "issuer_private_key":
			err = oneArg(d, &h.IssuerPrivateKey)
		case "key_rotation_period":
			err = durationArg(d, &h.KeyRotationPeriod)
		case "key_refresh_interval":
			err = durationArg(d, &h.KeyRefreshInterval)
		case "cors":
			h.CORS, err = unmarshalCORS(d)
		case "access_token_lifespan":
			err = durationArg(d, &h.AccessTokenLifespan)
		case "authorize_code_lifespan":
			err = durationArg(d, &h.AuthorizeCodeLifespan)
		case "id_token_lifespan":
			err = durationArg(d, &h.IDTokenLifespan)
		case "refresh_token_lifespan":
			err = durationArg(d, &h.RefreshTokenLifespan)
		case "device_code_lifespan":
			err = durationArg(d, &h.DeviceCodeLifespan)
		case "session_lifespan":
			err = durationArg(d, &h.SessionLifespan)
		case "enforce_pkce":
			err = oneArg(d, &h.EnforcePKCE)
		case "enable_pkce_plain_challenge":
			err = boolArg(d, &h.EnablePKCEPlainChallenge)
		case "minimum_parameter_entropy":
			err = intArg(d, &h.MinimumParameterEntropy)
		case "enable_client_debug_messages":
			err = boolArg(d, &h.EnableClientDebugMessages)
		case "require_pushed_authorization_requests":
			err = boolArg(d, &h.RequirePushedAuthorizationRequests)
		case "par_context_lifespan":
			err = durationArg(d, &h.PARContextLifespan)
		case "dpop_nonce_required":
			err = boolArg(d, &h.DPoPNonceRequired)
		case "dpop_nonce_lifespan":
			err = durationArg(d, &h.DPoPNonceLifespan)
		case "default_authorization_policy":
			err = oneArg(d, &h.DefaultAuthorizationPolicy)
		case "authorization_policy":
			err = unmarshalPolicy(d, h)
		case "regulation":
			h.Regulation, err = unmarshalRegulation(d)
		case "session_inactivity":
			err = durationArg(d, &h.SessionInactivity)
		case "remember_me_lifespan":
			err = durationArg(d, &h.RememberMeLifespan)
		case "templates_dir":
			err = oneArg(d, &h.TemplatesDir)
		case "webauthn":
			h.WebAuthn, err = unmarshalWebAuthn(d) // caddyfile_blocks.go
		case "lifespan":
			err = unmarshalLifespan(d, h)
		case "claims_policy", "claims_policies":
			err = unmarshalClaimsPolicy(d, h)
		case "scope", "scopes":
			err = unmarshalScope(d, h)
		case "client":
			var c Client
			if c, err = unmarshalClient(d); err == nil {
				h.Clients = append(h.Clients, c)
			}
		default:
			return d.Errf("unrecognized oidc_provider option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unmarshalGuest reads `<subdirective> <backend> ...` into the JSON of the
// guest module <namespace>.<backend>, which parses the rest of the segment
// with its own UnmarshalCaddyfile. The backend name goes under the inline
// key "backend".
func unmarshalGuest(d *caddyfile.Dispenser, namespace string) (json.RawMessage, error) {
	opt := d.Val()
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	name := d.Val()
	id := namespace + "." + name
	if _, err := caddy.GetModule(id); err != nil {
		var known []string
		for _, m := range caddy.GetModules(namespace) {
			known = append(known, m.ID.Name())
		}
		return nil, d.Errf("%s: unknown backend %q (%s)", opt, name, strings.Join(known, ", "))
	}
	unm, err := caddyfile.UnmarshalModule(d, id)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(unm, "backend", name, nil), nil
}

// oneArg reads exactly one argument. An empty string (“”) is allowed, as in
// Authelia's `pkce_challenge_method: ”`.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// appendArgs reads one or more arguments; the option may repeat.
func appendArgs(d *caddyfile.Dispenser, dst *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	*dst = append(*dst, args...)
	return nil
}

// boolArg reads an optional true/false; the bare option means true.
func boolArg(d *caddyfile.Dispenser, dst *bool) error {
	if !d.NextArg() {
		*dst = true
		return nil
	}
	v, err := strconv.ParseBool(d.Val())
	if err != nil {
		return d.Errf("%q is not true or false", d.Val())
	}
	*dst = v
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// intArg reads one integer argument.
func intArg(d *caddyfile.Dispenser, dst *int) error {
	opt := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return d.Errf("%s: %v", opt, err)
	}
	*dst = n
	return nil
}

// durationArg reads one duration in Caddy's syntax (1h30m, 1d).
func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%v", err)
	}
	*dst = caddy.Duration(v)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)

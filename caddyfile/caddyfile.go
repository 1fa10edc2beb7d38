// Package caddyfile registers the oidc_provider Caddyfile directive and turns
// it into the JSON of the http.handlers.oidc_provider module.
//
//	oidc_provider <issuer> {
//		users_file <path>
//		storage sqlite [<path>]
//		hmac_secret <secret>
//		jwk <key_id> {                # repeatable; JSON jwks
//			algorithm RS256|ES256
//			use sig
//			key <pem>                 # {file./etc/caddy/oidc.pem}
//			certificate_chain <pem>
//		}
//		issuer_private_key <pem>      # Authelia's older single RS256 key
//		key_rotation_period <duration>  # rotate generated keys; default off
//		key_refresh_interval <duration> # re-read shared keys; default 1m
//		cors {
//			endpoints authorization token revocation introspection userinfo
//			allowed_origins <origin>...|*
//			allowed_origins_from_client_redirect_uris [true|false]
//		}
//		access_token_lifespan <duration>
//		authorize_code_lifespan <duration>
//		id_token_lifespan <duration>
//		refresh_token_lifespan <duration>
//		session_lifespan <duration>
//		enforce_pkce never|public_clients_only|always
//		enable_pkce_plain_challenge [true|false]
//		minimum_parameter_entropy <n>
//		enable_client_debug_messages [true|false]
//		require_pushed_authorization_requests [true|false]
//		par_context_lifespan <duration>
//		lifespan <name> {
//			access_token <duration>
//			authorize_code <duration>
//			id_token <duration>
//			refresh_token <duration>
//		}
//		claims_policy <name> {        # alias: claims_policies
//			id_token [<claim>...]
//			access_token <claim>...
//			custom_claim <claim> [<attribute>]
//		}
//		scope <name> {                # alias: scopes
//			claims <claim>...
//		}
//		client <client_id> {
//			client_name <name>            # alias: description
//			client_secret <secret>        # alias: secret
//			public [true|false]
//			redirect_uris <uri...>        # alias: redirect_uri; repeatable
//			scopes <scope...>
//			audience <aud...>
//			grant_types <type...>
//			response_types <type...>
//			response_modes <mode...>
//			token_endpoint_auth_method <method>
//			token_endpoint_auth_signing_alg <alg>
//			jwks_uri <url>
//			jwk [<key_id>] { algorithm <alg>; key <pem> }  # repeatable; JSON jwks
//			require_pkce [true|false]
//			pkce_challenge_method S256|plain
//			id_token_signed_response_alg RS256|ES256
//			authorization_policy one_factor
//			consent_mode auto|explicit|implicit
//			post_logout_redirect_uris <uri...>  # alias: post_logout_redirect_uri; repeatable
//			require_pushed_authorization_requests [true|false]
//			access_token_signed_response_alg none|RS256|ES256
//			userinfo_signed_response_alg none|RS256|ES256  # alias: userinfo_signing_algorithm
//			sector_identifier <host>
//			sector_identifier_uri <https url>
//			lifespan <name>
//			claims_policy <name>
//		}
//	}
package caddyfile

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("oidc_provider", parseHandler)
	// Before handle/reverse_proxy, so the provider's paths are answered
	// first and everything else passes through.
	httpcaddyfile.RegisterDirectiveOrder("oidc_provider", httpcaddyfile.Before, "handle")
}

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(caddyoidc.Handler)
	err := UnmarshalHandler(h.Dispenser, handler)
	return handler, err
}

// UnmarshalHandler fills handler from the oidc_provider directive.
func UnmarshalHandler(d *caddyfile.Dispenser, handler *caddyoidc.Handler) error {
	d.Next() // the directive name
	if d.NextArg() {
		handler.Issuer = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch opt := d.Val(); opt {
		case "issuer":
			if err := oneArg(d, &handler.Issuer); err != nil {
				return err
			}
		case "users_file":
			var path string
			if err := oneArg(d, &path); err != nil {
				return err
			}
			handler.UsersRaw = caddyconfig.JSONModuleObject(caddyoidc.FileUsers{Path: path}, "backend", "file", nil)
		case "storage":
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch backend := d.Val(); backend {
			case "sqlite":
				s := caddyoidc.SQLiteStorage{}
				if d.NextArg() {
					s.Path = d.Val()
				}
				if d.NextArg() {
					return d.ArgErr()
				}
				handler.StorageRaw = caddyconfig.JSONModuleObject(s, "backend", "sqlite", nil)
			default:
				return d.Errf("storage: unknown backend %q (sqlite)", backend)
			}
		case "hmac_secret":
			if err := oneArg(d, &handler.HMACSecret); err != nil {
				return err
			}
		case "jwk":
			k, err := unmarshalJWK(d)
			if err != nil {
				return err
			}
			handler.JWKS = append(handler.JWKS, k)
		case "issuer_private_key":
			if err := oneArg(d, &handler.IssuerPrivateKey); err != nil {
				return err
			}
		case "key_rotation_period":
			if err := durationArg(d, &handler.KeyRotationPeriod); err != nil {
				return err
			}
		case "key_refresh_interval":
			if err := durationArg(d, &handler.KeyRefreshInterval); err != nil {
				return err
			}
		case "cors":
			c, err := unmarshalCORS(d)
			if err != nil {
				return err
			}
			handler.CORS = c
		case "access_token_lifespan":
			if err := durationArg(d, &handler.AccessTokenLifespan); err != nil {
				return err
			}
		case "authorize_code_lifespan":
			if err := durationArg(d, &handler.AuthorizeCodeLifespan); err != nil {
				return err
			}
		case "id_token_lifespan":
			if err := durationArg(d, &handler.IDTokenLifespan); err != nil {
				return err
			}
		case "refresh_token_lifespan":
			if err := durationArg(d, &handler.RefreshTokenLifespan); err != nil {
				return err
			}
		case "session_lifespan":
			if err := durationArg(d, &handler.SessionLifespan); err != nil {
				return err
			}
		case "enforce_pkce":
			if err := oneArg(d, &handler.EnforcePKCE); err != nil {
				return err
			}
		case "enable_pkce_plain_challenge":
			if err := boolArg(d, &handler.EnablePKCEPlainChallenge); err != nil {
				return err
			}
		case "minimum_parameter_entropy":
			var s string
			if err := oneArg(d, &s); err != nil {
				return err
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return d.Errf("minimum_parameter_entropy: %v", err)
			}
			handler.MinimumParameterEntropy = n
		case "enable_client_debug_messages":
			if err := boolArg(d, &handler.EnableClientDebugMessages); err != nil {
				return err
			}
		case "require_pushed_authorization_requests":
			if err := boolArg(d, &handler.RequirePushedAuthorizationRequests); err != nil {
				return err
			}
		case "par_context_lifespan":
			if err := durationArg(d, &handler.PARContextLifespan); err != nil {
				return err
			}
		case "default_authorization_policy":
			if err := oneArg(d, &handler.DefaultAuthorizationPolicy); err != nil {
				return err
			}
		case "authorization_policy":
			name, pol, err := unmarshalPolicy(d)
			if err != nil {
				return err
			}
			if handler.AuthorizationPolicies == nil {
				handler.AuthorizationPolicies = map[string]caddyoidc.AuthorizationPolicy{}
			}
			if _, dup := handler.AuthorizationPolicies[name]; dup {
				return d.Errf("authorization_policy %q: defined twice", name)
			}
			handler.AuthorizationPolicies[name] = pol
		case "regulation":
			reg, err := unmarshalRegulation(d)
			if err != nil {
				return err
			}
			handler.Regulation = reg
		case "session_inactivity":
			if err := durationArg(d, &handler.SessionInactivity); err != nil {
				return err
			}
		case "remember_me_lifespan":
			if err := durationArg(d, &handler.RememberMeLifespan); err != nil {
				return err
			}
		case "templates_dir":
			if err := oneArg(d, &handler.TemplatesDir); err != nil {
				return err
			}
		case "lifespan":
			if err := unmarshalLifespan(d, handler); err != nil {
				return err
			}
		case "claims_policy", "claims_policies":
			if err := unmarshalClaimsPolicy(d, handler); err != nil {
				return err
			}
		case "scope", "scopes":
			if err := unmarshalScope(d, handler); err != nil {
				return err
			}
		case "client":
			c, err := unmarshalClient(d)
			if err != nil {
				return err
			}
			handler.Clients = append(handler.Clients, c)
		default:
			return d.Errf("unrecognized oidc_provider option %q", opt)
		}
	}
	return nil
}

func unmarshalClient(d *caddyfile.Dispenser) (caddyoidc.Client, error) {
	var c caddyoidc.Client
	if !d.NextArg() {
		return c, d.Errf("client: the client ID is required (client <client_id> { ... })")
	}
	c.ClientID = d.Val()
	if d.NextArg() {
		return c, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "client_name", "description":
			err = oneArg(d, &c.ClientName)
		case "client_secret", "secret":
			err = oneArg(d, &c.ClientSecret)
		case "public":
			err = boolArg(d, &c.Public)
		case "redirect_uris", "redirect_uri":
			err = appendArgs(d, &c.RedirectURIs)
		case "scopes":
			err = appendArgs(d, &c.Scopes)
		case "audience":
			err = appendArgs(d, &c.Audience)
		case "grant_types":
			err = appendArgs(d, &c.GrantTypes)
		case "response_types":
			err = appendArgs(d, &c.ResponseTypes)
		case "response_modes":
			err = appendArgs(d, &c.ResponseModes)
		case "token_endpoint_auth_method":
			err = oneArg(d, &c.TokenEndpointAuthMethod)
		case "token_endpoint_auth_signing_alg":
			err = oneArg(d, &c.TokenEndpointAuthSigningAlg)
		case "jwks_uri":
			err = oneArg(d, &c.JWKSURI)
		case "jwk":
			var k caddyoidc.JWK
			if k, err = unmarshalJWK(d); err == nil {
				c.JWKS = append(c.JWKS, k)
			}
		case "require_pkce":
			err = boolArg(d, &c.RequirePKCE)
		case "pkce_challenge_method":
			err = oneArg(d, &c.PKCEChallengeMethod)
		case "id_token_signed_response_alg":
			err = oneArg(d, &c.IDTokenSignedResponseAlg)
		case "authorization_policy":
			err = oneArg(d, &c.AuthorizationPolicy)
		case "consent_mode":
			err = oneArg(d, &c.ConsentMode)
		case "pre_configured_consent_duration":
			err = durationArg(d, &c.PreConfiguredConsentDuration)
		case "post_logout_redirect_uris", "post_logout_redirect_uri":
			err = appendArgs(d, &c.PostLogoutRedirectURIs)
		case "require_pushed_authorization_requests":
			err = boolArg(d, &c.RequirePushedAuthorizationRequests)
		case "access_token_signed_response_alg":
			err = oneArg(d, &c.AccessTokenSignedResponseAlg)
		case "userinfo_signed_response_alg", "userinfo_signing_algorithm":
			err = oneArg(d, &c.UserinfoSignedResponseAlg)
		case "sector_identifier":
			err = oneArg(d, &c.SectorIdentifier)
		case "sector_identifier_uri":
			err = oneArg(d, &c.SectorIdentifierURI)
		case "lifespan":
			err = oneArg(d, &c.Lifespan)
		case "claims_policy":
			err = oneArg(d, &c.ClaimsPolicy)
		default:
			return c, d.Errf("client %q: unrecognized option %q", c.ClientID, opt)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// unmarshalPolicy reads
//
//	authorization_policy <name> {
//		default_policy one_factor|two_factor|deny
//		rule one_factor|two_factor|deny <subject>...
//	}
//
// Each subject argument is an alternative; conditions joined with & must
// all hold: "rule two_factor group:photos group:admins&group:family".
func unmarshalPolicy(d *caddyfile.Dispenser) (string, caddyoidc.AuthorizationPolicy, error) {
	var pol caddyoidc.AuthorizationPolicy
	if !d.NextArg() {
		return "", pol, d.Errf("authorization_policy: the policy name is required")
	}
	name := d.Val()
	if d.NextArg() {
		return "", pol, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "default_policy":
			if err := oneArg(d, &pol.DefaultPolicy); err != nil {
				return "", pol, err
			}
		case "rule":
			args := d.RemainingArgs()
			if len(args) < 1 {
				return "", pol, d.ArgErr()
			}
			rule := caddyoidc.PolicyRule{Policy: args[0]}
			for _, alt := range args[1:] {
				rule.Subject = append(rule.Subject, strings.Split(alt, "&"))
			}
			pol.Rules = append(pol.Rules, rule)
		default:
			return "", pol, d.Errf("authorization_policy %q: unrecognized option %q", name, opt)
		}
	}
	return name, pol, nil
}

// unmarshalRegulation reads regulation { max_retries, find_time, ban_time }.
func unmarshalRegulation(d *caddyfile.Dispenser) (*caddyoidc.Regulation, error) {
	reg := &caddyoidc.Regulation{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "max_retries":
			var s string
			if err := oneArg(d, &s); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, d.Errf("max_retries: %q is not a number of at least 0", s)
			}
			reg.MaxRetries = &n
		case "find_time":
			if err := durationArg(d, &reg.FindTime); err != nil {
				return nil, err
			}
		case "ban_time":
			if err := durationArg(d, &reg.BanTime); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("regulation: unrecognized option %q", opt)
		}
	}
	return reg, nil
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

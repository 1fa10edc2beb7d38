package caddyoidc

import (
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// unmarshalClient reads
//
//	client <client_id> {
//		client_secret <secret>
//		redirect_uris <uri>...
//		...
//	}
//
// with every option of Client under its Authelia name (README.md, "client").
func unmarshalClient(d *caddyfile.Dispenser) (Client, error) {
	var c Client
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
			warnSplitResponseTypes(d, c.ClientID, c.ResponseTypes)
		case "response_modes":
			err = appendArgs(d, &c.ResponseModes)
		case "token_endpoint_auth_method":
			err = oneArg(d, &c.TokenEndpointAuthMethod)
		case "token_endpoint_auth_signing_alg":
			err = oneArg(d, &c.TokenEndpointAuthSigningAlg)
		case "jwks_uri":
			err = oneArg(d, &c.JWKSURI)
		case "jwk":
			var k JWK
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
		case "backchannel_logout_uri":
			err = oneArg(d, &c.BackchannelLogoutURI)
		case "backchannel_logout_session_required":
			err = boolArg(d, &c.BackchannelLogoutSessionRequired)
		case "frontchannel_logout_uri":
			err = oneArg(d, &c.FrontchannelLogoutURI)
		case "frontchannel_logout_session_required":
			err = boolArg(d, &c.FrontchannelLogoutSessionRequired)
		case "require_pushed_authorization_requests":
			err = boolArg(d, &c.RequirePushedAuthorizationRequests)
		case "dpop_bound_access_tokens":
			err = boolArg(d, &c.DPoPBoundAccessTokens)
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
		case "requested_audience_mode":
			err = oneArg(d, &c.RequestedAudienceMode)
		// Request objects, JARM, signed introspection.
		case "request_uris", "request_uri":
			err = appendArgs(d, &c.RequestURIs)
		case "request_object_signing_alg":
			err = oneArg(d, &c.RequestObjectSigningAlg)
		case "authorization_signed_response_alg":
			err = oneArg(d, &c.AuthorizationSignedResponseAlg)
		case "authorization_signed_response_key_id":
			err = oneArg(d, &c.AuthorizationSignedResponseKeyID)
		case "introspection_signed_response_alg":
			err = oneArg(d, &c.IntrospectionSignedResponseAlg)
		case "id_token_encrypted_response_alg":
			err = oneArg(d, &c.IDTokenEncryptedResponseAlg)
		case "id_token_encrypted_response_enc":
			err = oneArg(d, &c.IDTokenEncryptedResponseEnc)
		case "userinfo_encrypted_response_alg":
			err = oneArg(d, &c.UserinfoEncryptedResponseAlg)
		case "userinfo_encrypted_response_enc":
			err = oneArg(d, &c.UserinfoEncryptedResponseEnc)
		case "authorization_encrypted_response_alg":
			err = oneArg(d, &c.AuthorizationEncryptedResponseAlg)
		case "authorization_encrypted_response_enc":
			err = oneArg(d, &c.AuthorizationEncryptedResponseEnc)
		default:
			return c, d.Errf("client %q: unrecognized option %q", c.ClientID, opt)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// unmarshalJWK reads a key, for the provider's signing keys and a client's
// public keys alike:
//
//	jwk [<key_id>] {
//		algorithm <alg>
//		use sig
//		key <pem>                  # {file./etc/caddy/oidc.pem}
//		certificate_chain <pem>
//	}
func unmarshalJWK(d *caddyfile.Dispenser) (JWK, error) {
	var k JWK
	if d.NextArg() {
		k.KeyID = d.Val()
	}
	if d.NextArg() {
		return k, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "key_id":
			err = oneArg(d, &k.KeyID)
		case "algorithm":
			err = oneArg(d, &k.Algorithm)
		case "use":
			err = oneArg(d, &k.Use)
		case "key":
			err = oneArg(d, &k.Key)
		case "certificate_chain":
			err = oneArg(d, &k.CertificateChain)
		default:
			return k, d.Errf("jwk %q: unrecognized option %q", k.KeyID, opt)
		}
		if err != nil {
			return k, err
		}
	}
	if k.Key == "" {
		return k, d.Errf("jwk %q: key is required", k.KeyID)
	}
	return k, nil
}

// warnSplitResponseTypes warns, when the Caddyfile is adapted, about
// `response_types code id_token token` without quotes: three separate
// response types, not the hybrid one. It stays valid (a client may allow
// several), so it is a warning naming the quoted form.
func warnSplitResponseTypes(d *caddyfile.Dispenser, clientID string, types []string) {
	single := clients.SplitResponseTypes(types)
	if single == nil {
		return
	}
	caddy.Log().Named("caddyfile").Warn(
		"response_types: "+strings.Join(single, ", ")+" are separate response types; for the combined one write it quoted: response_types \""+strings.Join(single, " ")+"\"",
		zap.String("client_id", clientID),
		zap.String("file", d.File()),
		zap.Int("line", d.Line()))
}

package caddyfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

// unmarshalJWK reads a key, for the provider's signing keys and a client's
// public keys alike:
//
//	jwk [<key_id>] {
//		algorithm <alg>
//		use sig
//		key <pem>                  # {file./etc/caddy/oidc.pem}
//		certificate_chain <pem>
//	}
func unmarshalJWK(d *caddyfile.Dispenser) (caddyoidc.JWK, error) {
	var k caddyoidc.JWK
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

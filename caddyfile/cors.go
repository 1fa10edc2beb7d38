package caddyfile

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

// unmarshalCORS reads
//
//	cors {
//		endpoints authorization token revocation introspection userinfo
//		allowed_origins <origin>...|*
//		allowed_origins_from_client_redirect_uris [true|false]
//	}
func unmarshalCORS(d *caddyfile.Dispenser) (*caddyoidc.CORS, error) {
	c := &caddyoidc.CORS{}
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

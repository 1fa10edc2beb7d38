// Package caddyfile registers the oidc_provider Caddyfile directive, which
// sets up the http.handlers.oidc_provider module of package caddyoidc.
//
// The directive's syntax is parsed by caddyoidc.Handler.UnmarshalCaddyfile
// (and by the UnmarshalCaddyfile of the users and storage guest modules it
// names). Every option, with its JSON name, default and meaning, is listed
// in the configuration reference of README.md and in the doc comments of
// the caddyoidc config structs.
package caddyfile

import (
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

// parseHandler sets up the handler from the oidc_provider directive.
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(caddyoidc.Handler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return handler, nil
}

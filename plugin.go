// Package caddyoidcplugin registers every caddy-oidc module with Caddy, so
// that `xcaddy build --with github.com/caddy-oidc/caddy-oidc` (which needs a
// Go package at the module root) brings in the handler, its guest modules and
// the oidc_provider Caddyfile directive.
package caddyoidcplugin

import (
	_ "github.com/caddy-oidc/caddy-oidc/caddyfile"
	_ "github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

// Command caddy is Caddy with the standard modules and caddy-oidc, for
// running the examples without xcaddy:
//
//	GOFLAGS=-tags=nobadger go run ./examples/caddy run --config examples/quickstart/Caddyfile
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-oidc/caddy-oidc"
)

func main() {
	caddycmd.Main()
}

package caddyoidc

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/caddy-oidc/caddy-oidc/internal/autheliaimport"
)

func init() {
	subcommands = append(subcommands, importAutheliaCommand)
}

// importAutheliaCommand is `caddy oidc import-authelia`.
func importAutheliaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import-authelia --config <configuration.yml> [--users <users_database.yml>] [--issuer <url>]",
		Short: "Translates Authelia's OpenID Connect config into an oidc_provider block",
		Long: `
Reads Authelia's configuration.yml and prints a Caddyfile site block with
an oidc_provider that does the same: every client with its options, the
authorization policies, lifespans, claims policies, scopes, CORS, PKCE and
PAR settings, keys, session lifetimes and regulation.

Secrets stay out of the output. Client secret digests ($pbkdf2-sha512$...,
$argon2id$...) are kept as they are; a plain-text secret becomes an
{env.OIDC_CLIENT_<ID>_SECRET} placeholder. Authelia's {{ secret "/path" }}
templates become {file./path} placeholders, and an inline private key
becomes a {file./etc/caddy/oidc/<key id>.pem} placeholder: save the key
there. Clients without authorization_policy get two_factor, Authelia's
default.

The comments at the top of the output list what to do (environment
variables to set, keys to save) and every setting that could not be
translated, with the reason. The users file (--users, else
authentication_backend.file.path) is used as it is: its format is the same.
Move TOTP secrets with 'caddy oidc totp add --secret'.`,
		Example: `  caddy oidc import-authelia --config /etc/authelia/configuration.yml --users /etc/authelia/users_database.yml > oidc.caddy
  caddy adapt --config oidc.caddy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := stringFlag(cmd, "config")
			if path == "" {
				return fmt.Errorf("--config is required: the path of Authelia's configuration.yml")
			}
			cmd.SilenceUsage = true
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			res, err := autheliaimport.Translate(data, autheliaimport.Options{
				Issuer:    stringFlag(cmd, "issuer"),
				UsersFile: stringFlag(cmd, "users"),
				Source:    path,
			})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := printOut(cmd, "%s", res.Caddyfile); err != nil {
				return err
			}
			if len(res.Notes) > 0 {
				return warnInfo(cmd, "%d note(s) on what to do and what was not translated: see the comments at the top of the output.", len(res.Notes))
			}
			return nil
		},
	}
	cmd.Flags().StringP("config", "c", "", "Authelia's configuration.yml (required)")
	cmd.Flags().String("users", "", "Authelia's users_database.yml (default: authentication_backend.file.path)")
	cmd.Flags().String("issuer", "", "The provider's URL (default: the first session cookie's authelia_url)")
	return cmd
}

package caddyoidc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

func init() {
	subcommands = append(subcommands, hashPasswordCommand, secretCommand)
}

// hashPasswordCommand is `caddy oidc hash-password`.
func hashPasswordCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hash-password [--algorithm <name>] [--stdin]",
		Short: "Prints a password digest for the users file",
		Long: `
Prints a digest of a password for the password field of the users file
(Authelia's users_database.yml format), and nothing else.

The password is typed twice without echo, or read from the first line of
standard input with --stdin. The digest uses argon2id with Authelia's
default parameters (64 MiB, 3 passes, parallelism 4) unless --algorithm
names another: ` + strings.Join(users.Algorithms(), ", ") + `, each with
Authelia's defaults.`,
		Example: `  caddy oidc hash-password
  echo -n 'correct horse' | caddy oidc hash-password --stdin --algorithm pbkdf2-sha512`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alg := stringFlag(cmd, "algorithm")
			if !slices.Contains(users.Algorithms(), alg) {
				return fmt.Errorf("--algorithm: %q is not one of %s", alg, strings.Join(users.Algorithms(), ", "))
			}
			cmd.SilenceUsage = true
			pw, err := readPassword(cmd, boolFlag(cmd, "stdin"))
			if err != nil {
				return err
			}
			d, err := users.HashWith(alg, pw)
			if err != nil {
				return err
			}
			return printOut(cmd, "%s\n", d)
		},
	}
	cmd.Flags().String("algorithm", users.DefaultAlgorithm, "Digest algorithm: "+strings.Join(users.Algorithms(), ", "))
	cmd.Flags().Bool("stdin", false, "Read the password from the first line of standard input")
	return cmd
}

// secretCommand is `caddy oidc secret`.
func secretCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret [--length <n>]",
		Short: "Prints a random client secret and its digest",
		Long: `
Prints a new random client secret (characters of RFC 3986's unreserved set:
letters, digits, - . _ ~) and its pbkdf2-sha512 digest (310000 iterations,
Authelia's default).

Give the secret to the app (its client secret setting) and put the digest
in the Caddyfile (client_secret); the provider never needs the secret
itself.`,
		Example: `  caddy oidc secret
  caddy oidc secret --length 96`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, _ := cmd.Flags().GetInt("length")
			cmd.SilenceUsage = true
			secret, digest, err := clients.GenerateSecret(n)
			if err != nil {
				return err
			}
			return printOut(cmd, "Secret (for the app):                   %s\nDigest (client_secret in the Caddyfile): %s\n", secret, digest)
		},
	}
	cmd.Flags().Int("length", clients.DefaultSecretLength, fmt.Sprintf("Length of the secret in characters (at least %d)", clients.MinSecretLength))
	return cmd
}

package caddyoidc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func init() {
	subcommands = append(subcommands, passkeysCommand)
}

// passkeysCommand is `caddy oidc passkeys list|remove`: like `caddy oidc
// sessions`, through the admin API when Caddy runs, on the database
// otherwise (command_sessions.go).
func passkeysCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "passkeys",
		Short: "Lists or removes users' passkeys",
		Long: `
Lists or removes the passkeys (WebAuthn credentials: platform passkeys and
security keys) a user registered. Remove the passkey of a lost or stolen
device: it cannot sign in from then on, neither without a password nor as
a second factor. Sessions it already signed in stay until they end; end
them with 'caddy oidc sessions revoke'.

When Caddy is running (its admin endpoint, from --address or the config,
answers) the command asks it through the admin API; otherwise it works on
the database of the config directly.`,
	}
	list := &cobra.Command{
		Use:   "list --user <name> [--config <path>] [--issuer <url>] [--json]",
		Short: "Lists a user's passkeys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAdmin(cmd, adminCall{
				method: http.MethodGet, path: "passkeys",
				direct: func(ctx context.Context, db *store.DB, issuer string, p url.Values) (any, error) {
					return listPasskeys(ctx, db, issuer, p.Get("user"))
				},
				result: func() any { return new(PasskeysJSON) },
				print:  printPasskeys,
			})
		},
	}
	remove := &cobra.Command{
		Use:   "remove --user <name> (--id <id> | --all) [--config <path>] [--issuer <url>] [--json]",
		Short: "Removes a user's passkey (the one with --id, or all with --all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, _ := cmd.Flags().GetString("id")
			all, _ := cmd.Flags().GetBool("all")
			if (id == "") == !all {
				return fmt.Errorf("give either --id <id> (from 'caddy oidc passkeys list') or --all")
			}
			return runAdmin(cmd, adminCall{
				method: http.MethodDelete, path: "passkeys",
				direct: func(ctx context.Context, db *store.DB, issuer string, p url.Values) (any, error) {
					return removePasskeys(ctx, db, issuer, p.Get("user"), p.Get("id"))
				},
				result: func() any { return new(RevokedJSON) },
				print:  printRemovedPasskeys,
			})
		},
	}
	remove.Flags().String("id", "", "Remove only the passkey with this ID (from `passkeys list`)")
	remove.Flags().Bool("all", false, "Remove every passkey of the user")
	for _, sub := range []*cobra.Command{list, remove} {
		adminFlags(sub)
	}
	c.AddCommand(list, remove)
	return c
}

func printPasskeys(w io.Writer, v any) error {
	p, err := answerAs[PasskeysJSON](v)
	if err != nil {
		return err
	}
	if len(p.Passkeys) == 0 {
		_, err := fmt.Fprintf(w, "%s has no passkeys at %s.\n", p.User, p.Issuer)
		return err
	}
	rows := [][]string{{"ID", "NAME", "CREATED", "LAST USED", "PASSWORDLESS"}}
	for _, k := range p.Passkeys {
		used := "never"
		if k.LastUsedAt != nil {
			used = stamp(*k.LastUsedAt)
		}
		rows = append(rows, []string{k.ID, k.Name, stamp(k.CreatedAt), used, fmt.Sprint(k.Discoverable)})
	}
	return writeTable(w, rows)
}

func printRemovedPasskeys(w io.Writer, v any) error {
	r, err := answerAs[RevokedJSON](v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "Removed %d passkey(s) of %s at %s.\n", r.Revoked, r.User, r.Issuer)
	return err
}

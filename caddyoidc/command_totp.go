package caddyoidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
)

// totpImportFlags adds to `caddy oidc totp add` the flags that import a
// known secret instead of generating one.
func totpImportFlags(add *cobra.Command) {
	add.Flags().String("secret", "", "Import this base32 TOTP secret (e.g. from Authelia) instead of generating one")
	add.Flags().String("algorithm", "SHA1", "With --secret: the secret's algorithm, as Authelia stores it (only SHA1 is verified)")
	add.Flags().Int("digits", 6, "With --secret: the number of digits of its codes (only 6 is verified)")
	add.Flags().Int("period", 30, "With --secret: the seconds per code (only 30 is verified)")
	add.Example = `  caddy oidc totp add --user alice --config /etc/caddy/Caddyfile
  caddy oidc totp add --user alice --secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP --config /etc/caddy/Caddyfile`
}

// enrollOrImport enrols a new secret for username, or imports --secret.
func enrollOrImport(cmd *cobra.Command, ctx context.Context, tp *authn.TOTP, username string) (authn.Enrollment, error) {
	secret := stringFlag(cmd, "secret")
	if secret == "" {
		return tp.AdminEnroll(ctx, username)
	}
	digits, _ := cmd.Flags().GetInt("digits")
	period, _ := cmd.Flags().GetInt("period")
	if err := authn.CheckTOTPParameters(stringFlag(cmd, "algorithm"), digits, period); err != nil {
		return authn.Enrollment{}, err
	}
	return tp.AdminImport(ctx, username, secret)
}

// checkDatabase tells which database the command uses (on standard error)
// and refuses a SQLite database file that does not exist: the handler
// creates it on its first start, so a missing file means the command runs
// in another environment than the service (another HOME or XDG_DATA_HOME,
// hence another default path) and would quietly create a second database.
func checkDatabase(cmd *cobra.Command, raw json.RawMessage) error {
	var st struct {
		Backend string `json:"backend"`
		Path    string `json:"path"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil // LoadModule reports it
	}
	if st.Backend != "sqlite" {
		// The DSN may hold a password: name the backend only.
		return warnInfo(cmd, "Database: %s (from the config)", st.Backend)
	}
	path := caddy.NewReplacer().ReplaceKnown(st.Path, "")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the database %s does not exist: Caddy creates it when it first runs with this config. "+
			"Run this command as the user Caddy runs as, with the same HOME and XDG_DATA_HOME (Caddy's data directory here is %s), "+
			"or give the oidc_provider an explicit 'storage sqlite <path>'", path, caddy.AppDataDir())
	} else if err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	return warnInfo(cmd, "Database: sqlite %s", path)
}

// warnInfo writes a line of information for the administrator to standard
// error.
func warnInfo(cmd *cobra.Command, format string, args ...any) error {
	if _, err := fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...); err != nil {
		return fmt.Errorf("writing to standard error: %w", err)
	}
	return nil
}

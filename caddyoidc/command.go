package caddyoidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"github.com/spf13/cobra"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "oidc",
		Usage: "hash-password|secret|users|totp|passkeys|sessions|consents|validate|import-authelia ...",
		Short: "Tools for the oidc_provider: digests, secrets, users, second factors, config checks, Authelia import",
		Long: `
Tools for the oidc_provider handler. Run 'caddy help oidc <command>' for each:

  hash-password    prints a password digest for the users file
  secret           prints a random client secret and its digest
  users            adds, changes, disables and lists users in the users file
  totp             enrols, imports or removes a user's TOTP secret
  passkeys         lists or removes a user's passkeys
  sessions         lists or ends a user's login sessions
  consents         lists or revokes a user's consents
  validate         checks a config as Caddy would load it
  import-authelia  translates Authelia's OpenID Connect config

The totp commands work on the same database and Caddy storage as the
handler configured in --config. They can run while Caddy is running.

  caddy oidc totp add --user alice --config /etc/caddy/Caddyfile

enrols a new TOTP secret for alice, already confirmed, replacing any secret
she had, and prints the otpauth:// URI, the secret and a QR code to scan
with an authenticator app. Hand them to the user over a safe channel.

  caddy oidc totp remove --user alice --config /etc/caddy/Caddyfile

removes alice's TOTP secret (for a lost phone); she can enrol again after
signing in.

  caddy oidc totp add --user alice --secret JBSWY3DPEHPK3PXP... --config /etc/caddy/Caddyfile

imports alice's existing secret (e.g. from Authelia's 'authelia storage
user totp export'), so her authenticator app keeps working.

The commands use the database of the handler in --config and print which.
They refuse a SQLite database that does not exist yet: run them as the
user Caddy runs as (same HOME or XDG_DATA_HOME), or give the handler an
explicit 'storage sqlite <path>'.

With several oidc_provider handlers in the config, choose one with --issuer.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(totpCommand(), sessionsCommand(), consentsCommand()) // command_sessions.go
			for _, sub := range subcommands {                                   // command_*.go
				cmd.AddCommand(sub())
			}
		},
	})
}

// totpCommand is `caddy oidc totp` with its add and remove subcommands.
func totpCommand() *cobra.Command {
	totp := &cobra.Command{
		Use:   "totp",
		Short: "Enrols or removes users' TOTP secrets",
	}
	add := &cobra.Command{
		Use:   "add --user <name> [--config <path> [--adapter <name>]] [--issuer <url>]",
		Short: "Enrols a new, confirmed TOTP secret for a user and prints it with a QR code",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTOTP(cmd, true)
		},
	}
	remove := &cobra.Command{
		Use:   "remove --user <name> [--config <path> [--adapter <name>]] [--issuer <url>]",
		Short: "Removes a user's TOTP secret",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTOTP(cmd, false)
		},
	}
	for _, c := range []*cobra.Command{add, remove} {
		c.Flags().StringP("user", "u", "", "The username, as in the users file (required)")
		c.Flags().StringP("config", "c", "", "Configuration file (default: ./Caddyfile)")
		c.Flags().StringP("adapter", "a", "", "Name of config adapter to apply")
		c.Flags().String("issuer", "", "The issuer of the oidc_provider handler, when the config has several")
		_ = c.MarkFlagRequired("user")
	}
	totpImportFlags(add) // command_totp.go
	totp.AddCommand(add, remove)
	return totp
}

// runTOTP runs `caddy oidc totp add` (add) or `remove`.
func runTOTP(cmd *cobra.Command, add bool) error {
	flag := func(name string) string { s, _ := cmd.Flags().GetString(name); return s }
	username := flag("user")
	if username == "" {
		return errors.New("--user is required")
	}
	cmd.SilenceUsage = true // from here on, errors are not about usage

	cfg, _, _, err := caddycmd.LoadConfig(flag("config"), flag("adapter"))
	if err != nil {
		return err
	}
	if len(cfg) == 0 {
		return errors.New("no config found: use --config")
	}
	h, issuer, err := findHandler(cfg, flag("issuer"))
	if err != nil {
		return err
	}

	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel() // cleans up the modules loaded below (closes the database)

	// The users, as the handler sees them.
	if h.UsersRaw == nil {
		return fmt.Errorf("issuer %s: no users configured", issuer)
	}
	mod, err := cctx.LoadModule(h, "UsersRaw")
	if err != nil {
		return fmt.Errorf("issuer %s: users: %w", issuer, err)
	}
	src, ok := mod.(UserSource)
	if !ok {
		return fmt.Errorf("issuer %s: users: module %T is not a user source", issuer, mod)
	}
	u, err := src.Users().Lookup(username)
	switch {
	case errors.Is(err, users.ErrUserNotFound) && add:
		return fmt.Errorf("user %q is not in the users of %s: add the user to the users file first", username, issuer)
	case errors.Is(err, users.ErrUserNotFound):
		if err := warn(cmd.ErrOrStderr(), "user %q is not in the users of %s; removing the TOTP secret anyway", username, issuer); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("issuer %s: users: %w", issuer, err)
	case u.Disabled:
		if err := warn(cmd.ErrOrStderr(), "user %q is disabled and cannot sign in", username); err != nil {
			return err
		}
	}

	// The database, exactly as the handler opens it.
	h.StorageRaw = storageConfig(h.StorageRaw, issuer)
	if err := checkDatabase(cmd, h.StorageRaw); err != nil { // command_totp.go
		return err
	}
	mod, err = cctx.LoadModule(h, "StorageRaw")
	if err != nil {
		return fmt.Errorf("issuer %s: storage: %w", issuer, err)
	}
	st, ok := mod.(StorageSource)
	if !ok {
		return fmt.Errorf("issuer %s: storage: module %T is not a storage backend", issuer, mod)
	}
	db := st.DB()

	if !add {
		tp := authn.NewTOTP(db, nil, "") // removing needs no key
		if err := tp.Remove(cctx, username); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(cmd.OutOrStdout(), "Removed the TOTP secret of %q at %s (if there was one).\n", username, issuer); err != nil {
			return fmt.Errorf("removed the TOTP secret of %q, but writing that failed: %w", username, err)
		}
		return nil
	}

	// The sealing key, from the same Caddy storage as the handler's.
	cs, err := caddyStorage(cctx, cfg)
	if err != nil {
		return err
	}
	key, err := keys.LoadOrCreateSecret(cctx, cs, totpKeyName(issuer), authn.SealKeySize)
	if err != nil {
		return fmt.Errorf("TOTP sealing key: %w", err)
	}
	sealer, err := authn.NewSealer(key)
	if err != nil {
		return err
	}
	tp := authn.NewTOTP(db, sealer, authn.TOTPIssuerName(issuer))
	had, err := tp.Enrolled(cctx, username)
	if err != nil {
		return err
	}
	e, err := enrollOrImport(cmd, cctx, tp, username) // command_totp.go
	if err != nil {
		return err
	}
	if err := printEnrollment(cmd.OutOrStdout(), username, issuer, had, e, stringFlag(cmd, "secret") != ""); err != nil {
		// The secret is enrolled but nobody saw it: running the command
		// again enrolls a new one.
		return fmt.Errorf("enrolled a new TOTP secret for %q, but writing it failed (run the command again): %w", username, err)
	}
	return nil
}

// warn writes a warning for the administrator to w. When even that fails the
// command stops, before it changes anything.
func warn(w io.Writer, format string, args ...any) error {
	if _, err := fmt.Fprintf(w, "Warning: "+format+".\n", args...); err != nil {
		return fmt.Errorf("writing a warning: %w", err)
	}
	return nil
}

// printEnrollment writes what the administrator hands to the user. It
// composes the text in memory and writes it at once, so there is one error
// to check.
func printEnrollment(w io.Writer, username, issuer string, replaced bool, e authn.Enrollment, imported bool) error {
	var b strings.Builder
	if imported {
		fmt.Fprintf(&b, "Imported the TOTP secret of %q at %s: the authenticator app that has it keeps working.\n", username, issuer)
	} else {
		fmt.Fprintf(&b, "Enrolled a new TOTP secret for %q at %s.\n", username, issuer)
	}
	if replaced {
		b.WriteString("It replaces the previous secret, which no longer works.\n")
	}
	b.WriteString("Scan the QR code with an authenticator app, or enter the secret by hand\n")
	b.WriteString("(TOTP, SHA-1, 6 digits, 30 seconds). Keep this output private.\n")
	b.WriteString("\n")
	b.WriteString(authn.TerminalQR(e.URI))
	b.WriteString("\n")
	fmt.Fprintf(&b, "URI:    %s\n", e.URI)
	fmt.Fprintf(&b, "Secret: %s\n", e.Secret)
	_, err := io.WriteString(w, b.String())
	return err
}

// findHandler finds the oidc_provider handlers anywhere in the JSON config
// and returns the one with the given issuer, or the only one if issuer is
// empty. The returned issuer has its placeholders replaced, as in Provision.
func findHandler(cfg []byte, issuer string) (*Handler, string, error) {
	var doc any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, "", fmt.Errorf("config: %w", err)
	}
	var raws []json.RawMessage
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "oidc_provider" {
				b, _ := json.Marshal(v)
				raws = append(raws, b)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	if len(raws) == 0 {
		return nil, "", errors.New("the config has no oidc_provider handler")
	}

	repl := caddy.NewReplacer()
	var found []string
	for _, raw := range raws {
		h := new(Handler)
		if err := json.Unmarshal(raw, h); err != nil {
			return nil, "", fmt.Errorf("oidc_provider handler: %w", err)
		}
		iss := repl.ReplaceKnown(h.Issuer, "")
		if issuer != "" && iss == issuer {
			return h, iss, nil
		}
		if !slices.Contains(found, iss) {
			found = append(found, iss)
		}
	}
	switch {
	case issuer != "":
		return nil, "", fmt.Errorf("no oidc_provider handler with issuer %q; the config has: %s", issuer, strings.Join(found, ", "))
	case len(found) > 1:
		return nil, "", fmt.Errorf("the config has several oidc_provider issuers; choose one with --issuer: %s", strings.Join(found, ", "))
	case found[0] == "":
		return nil, "", errors.New("the oidc_provider handler has no issuer")
	}
	h := new(Handler)
	_ = json.Unmarshal(raws[0], h) // decoded without error above
	return h, found[0], nil
}

// caddyStorage returns the Caddy storage of the config: its top-level
// storage module, provisioned in ctx, or Caddy's default file storage in its
// data directory, as a running Caddy would use.
func caddyStorage(ctx caddy.Context, cfg []byte) (certmagic.Storage, error) {
	var top struct {
		StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`
	}
	if err := json.Unmarshal(cfg, &top); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(top.StorageRaw) == 0 {
		return caddy.DefaultStorage, nil
	}
	mod, err := ctx.LoadModule(&top, "StorageRaw")
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	conv, ok := mod.(caddy.StorageConverter)
	if !ok {
		return nil, fmt.Errorf("storage: module %T is not a Caddy storage", mod)
	}
	st, err := conv.CertMagicStorage()
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return st, nil
}

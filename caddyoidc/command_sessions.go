package caddyoidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// `caddy oidc sessions` and `caddy oidc consents`: through the admin API
// (admin.go) when Caddy is running, so the running provider acts at once;
// on the database directly, opened from the config as the handler opens
// it, when it is not.

// sessionsCommand is `caddy oidc sessions list|revoke`.
func sessionsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "sessions",
		Short: "Lists or ends users' login sessions",
		Long: `
Lists or ends a user's login sessions at the provider (the browser sessions
behind its cookie). Ending them signs the user out everywhere at once: a
stolen session cookie is useless from then on. Tokens already issued to
applications stay valid until they expire; revoke them with the admin API's
DELETE /oidc/grants?client_id=... when needed.

When Caddy is running (its admin endpoint, from --address or the config,
answers) the command asks it through the admin API; otherwise it works on
the database of the config directly.`,
	}
	list := &cobra.Command{
		Use:   "list --user <name> [--config <path>] [--issuer <url>] [--json]",
		Short: "Lists a user's login sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAdmin(cmd, adminCall{
				method: http.MethodGet, path: "sessions",
				direct: func(ctx context.Context, db *store.DB, issuer string, p url.Values) (any, error) {
					return listSessions(ctx, db, issuer, p.Get("user"))
				},
				result: func() any { return new(SessionsJSON) },
				print:  printSessions,
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke --user <name> [--handle <handle>] [--config <path>] [--issuer <url>] [--json]",
		Short: "Ends a user's login sessions (all, or the one with --handle)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAdmin(cmd, adminCall{
				method: http.MethodDelete, path: "sessions",
				direct: func(ctx context.Context, db *store.DB, issuer string, p url.Values) (any, error) {
					return revokeSessions(ctx, db, issuer, p.Get("user"), p.Get("handle"))
				},
				result: func() any { return new(RevokedJSON) },
				print:  printRevoked("login sessions"),
			})
		},
	}
	revoke.Flags().String("handle", "", "End only the session with this handle (from `sessions list`)")
	for _, sub := range []*cobra.Command{list, revoke} {
		adminFlags(sub)
	}
	c.AddCommand(list, revoke)
	return c
}

// consentsCommand is `caddy oidc consents list|revoke`.
func consentsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "consents",
		Short: "Lists or forgets users' remembered consents",
		Long: `
Lists or forgets the consents a user asked the provider to remember (clients
with consent_mode pre-configured). A forgotten consent makes the consent
page appear again at the user's next sign-in to that application.

Like 'caddy oidc sessions', it goes through the admin API when Caddy is
running and to the database directly when it is not.`,
	}
	list := &cobra.Command{
		Use:   "list --user <name> [--client <id>] [--config <path>] [--issuer <url>] [--json]",
		Short: "Lists a user's remembered consents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAdmin(cmd, adminCall{
				method: http.MethodGet, path: "consents",
				direct: func(ctx context.Context, db *store.DB, issuer string, p url.Values) (any, error) {
					return listConsents(ctx, db, issuer, p.Get("user"), p.Get("client_id"))
				},
				result: func() any { return new(ConsentsJSON) },
				print:  printConsents,
			})
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke --user <name> [--client <id>] [--config <path>] [--issuer <url>] [--json]",
		Short: "Forgets a user's remembered consents (all, or the client's with --client)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAdmin(cmd, adminCall{
				method: http.MethodDelete, path: "consents",
				direct: func(ctx context.Context, db *store.DB, issuer string, p url.Values) (any, error) {
					return revokeConsents(ctx, db, issuer, p.Get("user"), p.Get("client_id"))
				},
				result: func() any { return new(RevokedJSON) },
				print:  printRevoked("consents"),
			})
		},
	}
	for _, sub := range []*cobra.Command{list, revoke} {
		sub.Flags().String("client", "", "Only the consent given to this client ID")
		adminFlags(sub)
	}
	c.AddCommand(list, revoke)
	return c
}

// adminFlags adds the flags every admin subcommand has.
func adminFlags(c *cobra.Command) {
	c.Flags().StringP("user", "u", "", "The username (required)")
	c.Flags().StringP("config", "c", "", "Configuration file (default: ./Caddyfile)")
	c.Flags().StringP("adapter", "a", "", "Name of config adapter to apply")
	c.Flags().String("address", "", "Address of Caddy's admin endpoint (default: from the config, else localhost:2019)")
	c.Flags().String("issuer", "", "The issuer of the oidc_provider handler, when the config has several")
	c.Flags().Bool("json", false, "Print the answer as JSON")
	_ = c.MarkFlagRequired("user")
}

// adminCall is one operation, by API or directly.
type adminCall struct {
	method, path string
	direct       func(ctx context.Context, db *store.DB, issuer string, params url.Values) (any, error)
	result       func() any // a pointer to decode the API's answer into
	print        func(w io.Writer, v any) error
}

// adminDialTimeout bounds the check whether Caddy's admin endpoint answers.
const adminDialTimeout = 2 * time.Second

func runAdmin(cmd *cobra.Command, call adminCall) error {
	flag := func(name string) string { s, _ := cmd.Flags().GetString(name); return s }
	params := url.Values{"user": {strings.TrimSpace(flag("user"))}}
	if params.Get("user") == "" {
		return errors.New("--user is required")
	}
	if cmd.Flags().Lookup("handle") != nil && flag("handle") != "" {
		params.Set("handle", flag("handle"))
	}
	if cmd.Flags().Lookup("client") != nil && flag("client") != "" {
		params.Set("client_id", flag("client"))
	}
	if cmd.Flags().Lookup("id") != nil && flag("id") != "" {
		params.Set("id", flag("id")) // passkeys remove (command_passkeys.go)
	}
	cmd.SilenceUsage = true

	cfg, _, _, err := caddycmd.LoadConfig(flag("config"), flag("adapter"))
	if err != nil {
		return err
	}
	issuer := flag("issuer")
	if issuer == "" && len(cfg) > 0 {
		if _, iss, err := findHandler(cfg, ""); err == nil {
			issuer = iss // the config's only issuer: the API must act on that one
		}
	}
	if issuer != "" {
		params.Set("issuer", issuer)
	}

	var out any
	addr, running := adminAddress(cfg, flag("address"))
	if running {
		out, err = adminRequest(addr, call, params)
		if err != nil {
			return fmt.Errorf("admin API at %s: %w", addr, err)
		}
		_, _ = fmt.Fprintf(cmd.ErrOrStderr(), "Caddy is running: done through its admin API at %s.\n", addr)
	} else {
		if len(cfg) == 0 {
			return fmt.Errorf("caddy's admin endpoint at %s does not answer, and there is no config to find the database in: use --config", addr)
		}
		var where string
		out, where, err = adminDirect(cfg, flag("issuer"), call, params)
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(cmd.ErrOrStderr(), "Caddy is not running (no admin endpoint at %s): done directly in the database (%s).\n", addr, where)
	}
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return call.print(cmd.OutOrStdout(), out)
}

// adminAddress is the admin endpoint's address, as `caddy reload` finds it,
// and whether something listens there. A config with the admin endpoint
// off has none.
func adminAddress(cfg []byte, flagAddr string) (string, bool) {
	if flagAddr == "" && len(cfg) > 0 {
		var top struct {
			Admin *caddy.AdminConfig `json:"admin"`
		}
		if json.Unmarshal(cfg, &top) == nil && top.Admin != nil && top.Admin.Disabled {
			return "(admin off)", false
		}
	}
	configFile := "" // DetermineAdminAPIAddress reads cfg only when told a file was given
	if len(cfg) > 0 {
		configFile = "(loaded)"
	}
	addr, err := caddycmd.DetermineAdminAPIAddress(flagAddr, cfg, configFile, "")
	if err != nil {
		return addr, false
	}
	na, err := caddy.ParseNetworkAddress(addr)
	if err != nil || na.PortRangeSize() > 1 {
		return addr, false
	}
	conn, err := net.DialTimeout(na.Network, na.JoinHostPort(0), adminDialTimeout)
	if err != nil {
		return addr, false
	}
	_ = conn.Close()
	return addr, true
}

func adminRequest(addr string, call adminCall, params url.Values) (any, error) {
	resp, err := caddycmd.AdminAPIRequest(addr, call.method, "/oidc/"+call.path+"?"+params.Encode(), nil, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out := call.result()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	return out, nil
}

// adminDirect opens the issuer's database from the config, exactly as the
// handler does, and runs the operation on it.
func adminDirect(cfg []byte, issuerFlag string, call adminCall, params url.Values) (out any, where string, err error) {
	h, issuer, err := findHandler(cfg, issuerFlag)
	if err != nil {
		return nil, "", err
	}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel() // closes the database
	h.StorageRaw = storageConfig(h.StorageRaw, issuer)
	where = storageDescription(h.StorageRaw)
	mod, err := cctx.LoadModule(h, "StorageRaw")
	if err != nil {
		return nil, where, fmt.Errorf("issuer %s: storage: %w", issuer, err)
	}
	st, ok := mod.(StorageSource)
	if !ok {
		return nil, where, fmt.Errorf("issuer %s: storage: module %T is not a storage backend", issuer, mod)
	}
	out, err = call.direct(cctx, st.DB(), issuer, params)
	return out, where, err
}

// storageDescription names a storage config for messages: the backend and,
// for SQLite, the file (server addresses may hold a password).
func storageDescription(raw json.RawMessage) string {
	var s struct {
		Backend string `json:"backend"`
		Path    string `json:"path"`
	}
	_ = json.Unmarshal(raw, &s)
	if s.Backend == "sqlite" && s.Path != "" {
		return "sqlite " + caddy.NewReplacer().ReplaceKnown(s.Path, "")
	}
	return s.Backend
}

func printSessions(w io.Writer, v any) error {
	s, err := answerAs[SessionsJSON](v)
	if err != nil {
		return err
	}
	if len(s.Sessions) == 0 {
		_, err := fmt.Fprintf(w, "%s has no login sessions at %s.\n", s.User, s.Issuer)
		return err
	}
	rows := [][]string{{"HANDLE", "CREATED", "LAST SEEN", "EXPIRES", "METHODS", "REMEMBER ME"}}
	for _, x := range s.Sessions {
		rows = append(rows, []string{x.Handle, stamp(x.CreatedAt), stamp(x.LastSeenAt), stamp(x.ExpiresAt), strings.Join(x.AMR, ","), fmt.Sprint(x.RememberMe)})
	}
	return writeTable(w, rows)
}

func printConsents(w io.Writer, v any) error {
	c, err := answerAs[ConsentsJSON](v)
	if err != nil {
		return err
	}
	if len(c.Consents) == 0 {
		_, err := fmt.Fprintf(w, "%s has no remembered consents at %s.\n", c.User, c.Issuer)
		return err
	}
	rows := [][]string{{"CLIENT", "SCOPES", "GRANTED", "EXPIRES"}}
	for _, x := range c.Consents {
		rows = append(rows, []string{x.ClientID, strings.Join(x.Scopes, " "), stamp(x.GrantedAt), stamp(x.ExpiresAt)})
	}
	return writeTable(w, rows)
}

func printRevoked(what string) func(io.Writer, any) error {
	return func(w io.Writer, v any) error {
		r, err := answerAs[RevokedJSON](v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "Revoked %d %s of %s at %s.\n", r.Revoked, what, r.User, r.Issuer)
		return err
	}
}

// answerAs is the admin call's answer v as a *T: decoded from the admin
// API it is a *T, from the database directly a T or a *T.
func answerAs[T any](v any) (*T, error) {
	switch a := v.(type) {
	case *T:
		return a, nil
	case T:
		return &a, nil
	}
	return nil, fmt.Errorf("unexpected answer %T", v)
}

// writeTable writes rows as aligned columns, in one write.
func writeTable(w io.Writer, rows [][]string) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		_, _ = io.WriteString(tw, strings.Join(r, "\t")+"\n") // into memory: cannot fail
	}
	_ = tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

package caddyoidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

func init() {
	subcommands = append(subcommands, validateCommand)
}

// validateCommand is `caddy oidc validate`.
func validateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate [--config <path> [--adapter <name>]]",
		Short: "Checks the oidc_provider handlers of a config as Caddy would load them",
		Long: `
Loads the config as 'caddy run' would (adapting a Caddyfile), and loads
each oidc_provider handler in it as Caddy does: the users file, the keys,
the named policies, lifespans, claims policies and scopes, and every client.
It prints each problem with its issuer, client and option, and the warnings
Caddy would log, and exits with status 1 if there is any problem.

Each client is checked on its own, so one bad client does not hide the
others. Nothing is served and nothing is written where Caddy keeps its
data: the database and generated keys of the check live in a temporary
directory, removed afterwards.`,
		Example: `  caddy oidc validate --config /etc/caddy/Caddyfile
  caddy oidc validate --config caddy.json`,
		Args: cobra.NoArgs,
		RunE: runValidate,
	}
	cmd.Flags().StringP("config", "c", "", "Configuration file (default: ./Caddyfile)")
	cmd.Flags().StringP("adapter", "a", "", "Name of config adapter to apply")
	return cmd
}

func runValidate(cmd *cobra.Command, _ []string) error {
	cfg, _, _, err := caddycmd.LoadConfig(stringFlag(cmd, "config"), stringFlag(cmd, "adapter"))
	if err != nil {
		return err
	}
	cmd.SilenceUsage = true
	if len(cfg) == 0 {
		return errors.New("no config found: use --config")
	}
	handlers, err := allHandlers(cfg)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "caddy-oidc-validate")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	var problems, warnings []string
	for i, raw := range handlers {
		h := new(Handler)
		if err := json.Unmarshal(raw, h); err != nil {
			problems = append(problems, fmt.Sprintf("oidc_provider #%d: %v", i+1, err))
			continue
		}
		where := "issuer " + caddy.NewReplacer().ReplaceKnown(h.Issuer, "")
		dir := filepath.Join(tmp, fmt.Sprint(i))
		all := h.Clients
		h.Clients = nil
		if err := provisionOnly(h, dir, "provider"); err != nil {
			problems = append(problems, where+": "+err.Error())
			continue // every client would fail the same way
		}
		failed := false
		for j, c := range all {
			h.Clients = []Client{c}
			if err := provisionOnly(h, dir, fmt.Sprint("client", j)); err != nil {
				problems = append(problems, where+": "+err.Error())
				failed = true
				continue
			}
			if cc, err := c.engineConfig(caddy.NewReplacer()); err == nil {
				for _, w := range clients.Warnings(cc) {
					warnings = append(warnings, fmt.Sprintf("%s: client %q: %s", where, cc.ID, w))
				}
			}
		}
		if !failed && len(all) > 1 { // what only shows with all the clients: duplicate IDs
			h.Clients = all
			if err := provisionOnly(h, dir, "all"); err != nil {
				problems = append(problems, where+": "+err.Error())
			}
		}
	}

	var b strings.Builder
	for _, w := range warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	for _, p := range problems {
		fmt.Fprintf(&b, "error: %s\n", p)
	}
	if len(problems) == 0 {
		fmt.Fprintf(&b, "Valid: %d oidc_provider handler(s).\n", len(handlers))
	}
	if err := printOut(cmd, "%s", b.String()); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) in the oidc_provider config", len(problems))
	}
	return nil
}

// provisionOnly loads the handler h as Caddy does (caddy.Validate: every
// module provisioned and cleaned up, nothing started), with its database
// and Caddy's storage in dir instead of where Caddy keeps them.
func provisionOnly(h *Handler, dir, name string) error {
	h2 := *h
	h2.StorageRaw = json.RawMessage(fmt.Sprintf(`{"backend":"sqlite","path":%q}`, filepath.Join(dir, name+".db")))
	handler, err := json.Marshal(struct {
		*Handler
		Name string `json:"handler"`
	}{&h2, "oidc_provider"})
	if err != nil {
		return err
	}
	cfgJSON := fmt.Sprintf(`{
		"admin": {"disabled": true},
		"logging": {"logs": {"default": {"level": "ERROR"}}},
		"storage": {"module": "file_system", "root": %q},
		"apps": {"http": {"servers": {"validate": {"listen": ["127.0.0.1:0"], "routes": [{"handle": [%s]}]}}}}
	}`, filepath.Join(dir, "storage"), handler)
	var cfg caddy.Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return err
	}
	err = caddy.Validate(&cfg)
	if err == nil {
		return nil
	}
	// Keep the handler's own words: Caddy wraps them in the module path.
	msg := err.Error()
	if i := strings.LastIndex(msg, "provision http.handlers.oidc_provider: "); i >= 0 {
		msg = msg[i+len("provision http.handlers.oidc_provider: "):]
	}
	return errors.New(msg)
}

// allHandlers returns every oidc_provider handler in the JSON config.
func allHandlers(cfg []byte) ([]json.RawMessage, error) {
	var doc any
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
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
		return nil, errors.New("the config has no oidc_provider handler")
	}
	return raws, nil
}

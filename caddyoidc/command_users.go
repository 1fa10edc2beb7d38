package caddyoidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
	"github.com/caddy-oidc/caddy-oidc/internal/usersfile"
)

func init() {
	subcommands = append(subcommands, usersCommand)
}

// usersCommand is `caddy oidc users` with add, passwd, disable, enable,
// delete and list.
func usersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users add|passwd|disable|enable|delete|list",
		Short: "Edits the users file (Authelia's users_database.yml)",
		Long: `
Adds, changes, disables, enables, deletes and lists the users of the users
file: the one given with --file, else the users_file of the oidc_provider
handler in --config (default ./Caddyfile; --issuer chooses among several).

The file is edited in place: other users, the order of keys and comments
are kept. The result is checked as the provider would load it before it is
written, and it replaces the file atomically with the same mode, so a
running Caddy (which re-reads the file when it changes) never sees half a
file. A file that is not valid YAML is left alone.

Passwords are typed twice without echo, or read from standard input with
--stdin, and stored as argon2id digests (--algorithm for another).`,
		Example: `  caddy oidc users add alice --displayname "Alice Doe" --email alice@example.com --group admins --file /etc/caddy/users.yml
  caddy oidc users passwd alice --config /etc/caddy/Caddyfile
  caddy oidc users disable bob --file users.yml
  caddy oidc users list --file users.yml`,
	}
	fileFlags := func(c *cobra.Command) {
		c.Flags().StringP("file", "f", "", "The users file (default: the users_file of the handler in --config)")
		c.Flags().StringP("config", "c", "", "Configuration file whose oidc_provider's users_file to edit (default: ./Caddyfile)")
		c.Flags().StringP("adapter", "a", "", "Name of config adapter to apply")
		c.Flags().String("issuer", "", "The issuer of the oidc_provider handler, when the config has several")
	}
	passwordFlags := func(c *cobra.Command) {
		c.Flags().Bool("stdin", false, "Read the password from the first line of standard input")
		c.Flags().String("algorithm", users.DefaultAlgorithm, "Digest algorithm: "+strings.Join(users.Algorithms(), ", "))
	}

	add := &cobra.Command{
		Use:   "add <username> [--displayname <name>] [--email <address>] [--group <group>]... [--stdin]",
		Short: "Adds a user (the file is created if missing)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editUsers(cmd, true, func(f *usersfile.File) (string, error) {
				d, err := newDigest(cmd)
				if err != nil {
					return "", err
				}
				groups, _ := cmd.Flags().GetStringArray("group")
				u := usersfile.User{DisplayName: stringFlag(cmd, "displayname"), Email: stringFlag(cmd, "email"), Groups: groups, Password: d}
				if u.DisplayName == "" {
					u.DisplayName = args[0]
				}
				return "Added user " + args[0], f.Add(args[0], u)
			})
		},
	}
	add.Flags().String("displayname", "", "The name shown to the user and in the name claim (default: the username)")
	add.Flags().String("email", "", "The email address")
	add.Flags().StringArray("group", nil, "A group (repeat for several)")
	passwd := &cobra.Command{
		Use:   "passwd <username> [--stdin]",
		Short: "Sets a user's password",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return editUsers(cmd, false, func(f *usersfile.File) (string, error) {
				if !f.Has(args[0]) { // before asking for the password
					return "", fmt.Errorf("%w: %q", usersfile.ErrUserNotFound, args[0])
				}
				d, err := newDigest(cmd)
				if err != nil {
					return "", err
				}
				return "Changed the password of " + args[0], f.SetPassword(args[0], d)
			})
		},
	}
	for _, c := range []*cobra.Command{add, passwd} {
		passwordFlags(c)
	}
	simple := func(use, short, done string, edit func(f *usersfile.File, name string) error) *cobra.Command {
		return &cobra.Command{
			Use:   use + " <username>",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return editUsers(cmd, false, func(f *usersfile.File) (string, error) {
					return done + " " + args[0], edit(f, args[0])
				})
			},
		}
	}
	disable := simple("disable", "Disables a user: they cannot sign in", "Disabled user", func(f *usersfile.File, n string) error { return f.SetDisabled(n, true) })
	enable := simple("enable", "Enables a disabled user", "Enabled user", func(f *usersfile.File, n string) error { return f.SetDisabled(n, false) })
	del := simple("delete", "Deletes a user from the file", "Deleted user", func(f *usersfile.File, n string) error { return f.Delete(n) })
	list := &cobra.Command{
		Use:   "list",
		Short: "Lists the users, without their password digests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := usersFilePath(cmd)
			if err != nil {
				return err
			}
			f, err := usersfile.Open(path, false)
			if err != nil {
				return err
			}
			entries, err := f.List()
			if err != nil {
				return err
			}
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "USERNAME\tDISPLAY NAME\tEMAIL\tGROUPS\tSTATUS")
			for _, e := range entries {
				status := "enabled"
				if e.Disabled {
					status = "disabled"
				}
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.DisplayName, e.Email, strings.Join(e.Groups, ","), status)
			}
			_ = tw.Flush()
			return printOut(cmd, "%s", b.String())
		},
	}
	for _, c := range []*cobra.Command{add, passwd, disable, enable, del, list} {
		fileFlags(c)
	}
	cmd.AddCommand(add, passwd, disable, enable, del, list)
	return cmd
}

// newDigest reads a new password and hashes it with --algorithm.
func newDigest(cmd *cobra.Command) (string, error) {
	alg := stringFlag(cmd, "algorithm")
	if !slices.Contains(users.Algorithms(), alg) {
		return "", fmt.Errorf("--algorithm: %q is not one of %s", alg, strings.Join(users.Algorithms(), ", "))
	}
	pw, err := readPassword(cmd, boolFlag(cmd, "stdin"))
	if err != nil {
		return "", err
	}
	return users.HashWith(alg, pw)
}

// editUsers opens the users file, applies edit, saves the file and reports
// what it did on standard output.
func editUsers(cmd *cobra.Command, create bool, edit func(f *usersfile.File) (string, error)) error {
	path, err := usersFilePath(cmd)
	if err != nil {
		return err
	}
	cmd.SilenceUsage = true
	unlock, err := usersfile.Lock(path) // another `caddy oidc users` waits
	if err != nil {
		return err
	}
	defer unlock()
	f, err := usersfile.Open(path, create)
	if err != nil {
		return err
	}
	done, err := edit(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Save(); err != nil {
		return err
	}
	return printOut(cmd, "%s in %s.\n", done, path)
}

// usersFilePath is --file, or the path of the file users backend of the
// oidc_provider handler in --config.
func usersFilePath(cmd *cobra.Command) (string, error) {
	if p := stringFlag(cmd, "file"); p != "" {
		return p, nil
	}
	cfg, _, _, err := caddycmd.LoadConfig(stringFlag(cmd, "config"), stringFlag(cmd, "adapter"))
	if err != nil {
		return "", err
	}
	if len(cfg) == 0 {
		return "", errors.New("no users file: use --file, or --config with an oidc_provider that has a users_file")
	}
	h, issuer, err := findHandler(cfg, stringFlag(cmd, "issuer"))
	if err != nil {
		return "", err
	}
	var mod struct {
		Backend string `json:"backend"`
		Path    string `json:"path"`
	}
	if h.UsersRaw == nil || json.Unmarshal(h.UsersRaw, &mod) != nil || mod.Backend != "file" {
		return "", fmt.Errorf("issuer %s: the users are not in a users file (users_file); use --file", issuer)
	}
	path := caddy.NewReplacer().ReplaceKnown(mod.Path, "")
	if path == "" {
		return "", fmt.Errorf("issuer %s: users_file has no path", issuer)
	}
	return path, nil
}

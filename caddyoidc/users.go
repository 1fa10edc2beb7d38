package caddyoidc

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
	"github.com/caddy-oidc/caddy-oidc/internal/usersfile"
)

func init() {
	caddy.RegisterModule(FileUsers{})
}

// FileUsers reads users from a file in Authelia's users_database.yml format
// (users: name → displayname, password digest, email, groups, disabled). The
// file is read again when it changes, without a reload.
type FileUsers struct {
	// Path of the users file. Placeholders such as {env.USERS_FILE} work.
	Path string `json:"path,omitempty"`
	// DisablePasswordChange hides the password form of the settings page
	// (Authelia's password_change.disable). Users change their password
	// there by default: the file is rewritten atomically.
	DisablePasswordChange bool `json:"disable_password_change,omitempty"`

	backend *users.FileBackend
	path    string
}

// CaddyModule returns the Caddy module information.
func (FileUsers) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oidc.users.file",
		New: func() caddy.Module { return new(FileUsers) },
	}
}

// Provision reads the file.
func (f *FileUsers) Provision(caddy.Context) error {
	path := strings.TrimSpace(caddy.NewReplacer().ReplaceKnown(f.Path, ""))
	if path == "" {
		return fmt.Errorf("path: required")
	}
	b, err := users.NewFileBackend(path)
	if err != nil {
		return err
	}
	f.backend, f.path = b, path
	return nil
}

// UnmarshalCaddyfile reads the file backend's Caddyfile form,
//
//	users file <path>
//
// of which users_file <path> is the shorthand.
func (f *FileUsers) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if !d.NextArg() {
		return d.ArgErr()
	}
	f.Path = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if err := unmarshalPasswordChange(d, &f.DisablePasswordChange); err != nil {
			return err
		}
	}
	return nil
}

// Users returns the backend, with the password change unless disabled
// (users_password.go).
func (f *FileUsers) Users() users.Backend {
	if f.DisablePasswordChange || f.backend == nil {
		return f.backend
	}
	return fileWithPasswordChange{f.backend, usersfile.Changer{Path: f.path, Users: f.backend}}
}

// Interface guards
var (
	_ caddy.Provisioner     = (*FileUsers)(nil)
	_ caddyfile.Unmarshaler = (*FileUsers)(nil)
	_ UserSource            = (*FileUsers)(nil)
)

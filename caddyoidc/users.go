package caddyoidc

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
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

	backend *users.FileBackend
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
	f.backend = b
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
	if d.NextBlock(0) {
		return d.Errf("users file: unrecognized option %q", d.Val())
	}
	return nil
}

// Users returns the backend.
func (f *FileUsers) Users() users.Backend { return f.backend }

// Interface guards
var (
	_ caddy.Provisioner     = (*FileUsers)(nil)
	_ caddyfile.Unmarshaler = (*FileUsers)(nil)
	_ UserSource            = (*FileUsers)(nil)
)

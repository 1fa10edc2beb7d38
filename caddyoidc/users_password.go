package caddyoidc

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
	"github.com/caddy-oidc/caddy-oidc/internal/usersfile"
)

// fileWithPasswordChange is the file backend with the password change of
// the settings page.
type fileWithPasswordChange struct {
	*users.FileBackend
	usersfile.Changer
}

// withoutPasswordChange hides a backend's ChangePassword.
type withoutPasswordChange struct{ users.Backend }

// unmarshalPasswordChange reads `password_change disable` (Authelia's
// password_change.disable) in a users block.
func unmarshalPasswordChange(d *caddyfile.Dispenser, disable *bool) error {
	if d.Val() != "password_change" {
		return d.Errf("users: unrecognized option %q", d.Val())
	}
	if !d.NextArg() || d.Val() != "disable" || d.NextArg() {
		return d.Errf("password_change: the only form is `password_change disable`")
	}
	*disable = true
	return nil
}

var (
	_ users.PasswordChanger = fileWithPasswordChange{}
	_ users.Backend         = fileWithPasswordChange{}
)

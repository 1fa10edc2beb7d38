package usersfile

import (
	"fmt"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// maxPasswordLength is the longest new password accepted, as for sign-in.
const maxPasswordLength = 1024

// Changer lets users change their own password in a users file: it checks
// the current password against the loaded users, writes an argon2id digest
// of the new one into the file (an atomic rewrite that keeps the other
// users, the order of keys and the comments), and reloads the users.
type Changer struct {
	Path  string
	Users *users.FileBackend
}

// ChangePassword implements users.PasswordChanger.
func (c Changer) ChangePassword(username, oldPassword, newPassword string) error {
	if newPassword == "" || len(newPassword) > maxPasswordLength {
		return users.ErrPasswordRejected
	}
	if _, err := c.Users.Authenticate(username, oldPassword); err != nil {
		return err // ErrInvalidCredentials for a wrong password, unknown or disabled user
	}
	digest, err := users.HashPassword(newPassword)
	if err != nil {
		return fmt.Errorf("password change: %w", err)
	}
	unlock, err := Lock(c.Path)
	if err != nil {
		return fmt.Errorf("password change: %w", err)
	}
	defer unlock()
	f, err := Open(c.Path, false)
	if err != nil {
		return fmt.Errorf("password change: %w", err)
	}
	if err := f.SetPassword(username, digest); err != nil {
		return fmt.Errorf("password change: %w", err)
	}
	if err := f.Save(); err != nil {
		return fmt.Errorf("password change: %w", err)
	}
	if _, err := c.Users.Reload(); err != nil {
		return fmt.Errorf("password change: reload: %w", err)
	}
	return nil
}

var _ users.PasswordChanger = Changer{}

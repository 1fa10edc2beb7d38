package users

import "errors"

// ErrUnavailable is wrapped by the errors of a backend that cannot answer
// for now (a directory server that is down or unreachable). Callers answer
// "try again later", never "wrong password".
var ErrUnavailable = errors.New("user directory unavailable")

// PasswordChanger is implemented by backends that let users change their
// own password.
type PasswordChanger interface {
	// ChangePassword sets the password of username to newPassword after
	// checking oldPassword. A wrong old password gives ErrInvalidCredentials.
	ChangePassword(username, oldPassword, newPassword string) error
}

// ErrPasswordRejected is returned by ChangePassword when the new password is
// refused (empty, too long, or against the directory's password policy).
var ErrPasswordRejected = errors.New("the new password was refused")

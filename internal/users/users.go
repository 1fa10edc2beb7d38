// Package users authenticates end users against a user database. The file
// backend reads Authelia's users_database.yml format.
package users

import "errors"

// ErrInvalidCredentials is returned for an unknown user, a wrong password and a
// disabled user alike, so that callers cannot tell them apart.
var ErrInvalidCredentials = errors.New("invalid username or password")

// ErrUserNotFound is returned by Lookup when no such user exists.
var ErrUserNotFound = errors.New("user not found")

// User is one end user as the provider sees it.
type User struct {
	Username    string   // the key in the users map; never shown to clients as sub
	DisplayName string   // "displayname" in the file; the name claim
	Email       string   // the email claim
	Groups      []string // the groups claim
	Disabled    bool     // a disabled user cannot log in nor refresh tokens
}

// Backend is a source of users.
type Backend interface {
	// Authenticate verifies username and password. It returns
	// ErrInvalidCredentials when the user is unknown, disabled, or the password
	// is wrong, taking about the same time in each case.
	Authenticate(username, password string) (*User, error)
	// Lookup returns the current record of a user, or ErrUserNotFound.
	Lookup(username string) (*User, error)
}

package caddyoidc

import (
	"github.com/caddy-oidc/caddy-oidc/internal/provider"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// usersRemovedNotifier is a users backend that reports the users it
// disabled or deleted (the file backend, on each re-read of the file).
type usersRemovedNotifier interface {
	OnUsersRemoved(fn func(usernames []string))
}

// watchRemovedUsers has the provider end the sessions of users the backend
// disables or deletes and tell their applications (Back-Channel Logout).
// The newest provider of a backend shared across reloads takes over.
func watchRemovedUsers(b users.Backend, p *provider.Provider) {
	if n, ok := b.(usersRemovedNotifier); ok {
		n.OnUsersRemoved(p.UsersRemoved)
	}
}

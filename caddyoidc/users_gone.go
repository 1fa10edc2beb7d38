package caddyoidc

import (
	"github.com/caddy-oidc/caddy-oidc/internal/provider"
)

// goneNotifier is implemented by user sources that notice users leaving the
// directory (deleted, or disabled by users_filter) when they re-read them.
type goneNotifier interface {
	OnUserGone(func(username string))
}

// OnUserGone implements goneNotifier.
func (l *LDAPUsers) OnUserGone(f func(username string)) {
	if l.backend != nil {
		l.backend.OnGone(f)
	}
}

// wireUserGone makes a user who left the directory lose their sessions at
// once, and tells the applications that took part in them (Back-Channel
// Logout), through the provider as for a user disabled in the users file.
// Their refresh tokens are refused at the next refresh already (the
// provider re-reads the user).
func wireUserGone(src UserSource, p *provider.Provider) {
	n, ok := src.(goneNotifier)
	if !ok {
		return
	}
	n.OnUserGone(func(username string) { p.UsersRemoved([]string{username}) })
}

package caddyoidc

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
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
// once (see UserGone). Their refresh tokens are refused at the next refresh
// already (the provider re-reads the user).
func wireUserGone(src UserSource, db *store.DB, log *zap.Logger) {
	n, ok := src.(goneNotifier)
	if !ok {
		return
	}
	n.OnUserGone(func(username string) { UserGone(db, log, username) })
}

// UserGone ends every login session of a user who is no longer in the
// directory, so that no application can get a new token for them without a
// new sign-in. It is the one place to hook further consequences, such as
// back-channel logout notifications to the user's applications.
func UserGone(db *store.DB, log *zap.Logger, username string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := db.RevokeLoginSessions(ctx, username, "")
	if err != nil {
		log.Error("ending the sessions of a user who left the directory", zap.String("username", username), zap.Error(err))
		return
	}
	log.Info("user left the directory: sessions ended", zap.String("username", username), zap.Int64("sessions", n))
}

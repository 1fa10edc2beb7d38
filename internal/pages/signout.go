package pages

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/logout"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// Signing out and telling the clients (OpenID Connect Back-Channel and
// Front-Channel Logout 1.0): the pages end login sessions, the provider's
// SessionsEndedFunc sends the logout tokens, and the signed-out page loads
// the clients' front-channel logout URLs.

// SessionsEndedFunc is told of login sessions that ended, with why
// (signed_out, all_devices, replaced, ...): the provider sends the
// back-channel logout tokens. It must not block.
type SessionsEndedFunc func(ctx context.Context, ended []store.EndedSession, reason string)

// Reasons a session ends, as SessionsEndedFunc and the logs see them.
const (
	ReasonSignedOut  = "signed_out"  // the user signed out of this browser
	ReasonAllDevices = "all_devices" // the user signed out everywhere
	ReasonReplaced   = "replaced"    // another user signed in in this browser
)

// SignOut ends the browser's login session, and with allDevices every other
// session of its user, deletes the session cookie, hands the ended sessions
// to the SessionsEndedFunc (back-channel logout, in the background) and
// returns them (for FrontchannelFrames). A browser without a session ends
// nothing and gets no error.
func (p *Pages) SignOut(w http.ResponseWriter, r *http.Request, allDevices bool) ([]store.EndedSession, error) {
	ctx := r.Context()
	var (
		ended []store.EndedSession
		errs  []error
	)
	if c, e := r.Cookie(sessionCookie); e == nil && c.Value != "" {
		one, err := p.db.EndLoginSession(ctx, c.Value)
		if err != nil {
			errs = append(errs, err)
		} else if one != nil {
			ended = append(ended, *one)
			if allDevices {
				rest, err := p.db.EndLoginSessions(ctx, one.Username, "")
				if err != nil {
					errs = append(errs, err)
				}
				ended = append(ended, rest...)
			}
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: p.cookiePath(), MaxAge: -1,
		Secure: p.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	reason := ReasonSignedOut
	if allDevices {
		reason = ReasonAllDevices
	}
	p.sessionsEnded(ctx, ended, reason)
	return ended, errors.Join(errs...)
}

// sessionsEnded hands ended sessions to the SessionsEndedFunc, if any.
func (p *Pages) sessionsEnded(ctx context.Context, ended []store.EndedSession, reason string) {
	if len(ended) > 0 && p.onSessionsEnded != nil {
		p.onSessionsEnded(context.WithoutCancel(ctx), ended, reason)
	}
}

// replaceLogin ends the browser's previous login session (cookie value id)
// when someone signs in again, and returns the sid the new session carries
// on: the same user re-authenticating keeps the session (and its clients),
// so nobody is told anything; another user signing in ends the previous
// user's session, and its clients are told.
func (p *Pages) replaceLogin(ctx context.Context, id, username string) string {
	if prev, err := p.db.GetLoginSession(ctx, id, p.now()); err == nil && prev.Username == username {
		if err := p.db.DeleteLoginSession(ctx, id); err != nil {
			p.log.Error("ending the previous login session", zap.Error(err))
		}
		return prev.SID
	}
	ended, err := p.db.EndLoginSession(ctx, id)
	if err != nil {
		p.log.Error("ending the previous login session", zap.Error(err))
		return ""
	}
	if ended != nil {
		p.sessionsEnded(ctx, []store.EndedSession{*ended}, ReasonReplaced)
	}
	return ""
}

// FrontchannelFrames returns the front-channel logout URLs of the clients
// that took part in the ended sessions (each client and session once), and
// their origins for the page's Content-Security-Policy.
func (p *Pages) FrontchannelFrames(ended []store.EndedSession) (urls, origins []string) {
	for _, e := range ended {
		for _, id := range e.Clients {
			c := p.clients.Get(id)
			if c == nil || c.FrontchannelLogoutURI() == "" {
				continue
			}
			u := logout.FrontchannelURL(c.FrontchannelLogoutURI(), p.issuer, e.SID, c.FrontchannelLogoutSessionRequired())
			if !slices.Contains(urls, u) {
				urls = append(urls, u)
			}
			if o := c.FrontchannelLogoutOrigin(); !slices.Contains(origins, o) {
				origins = append(origins, o)
			}
		}
	}
	return urls, origins
}

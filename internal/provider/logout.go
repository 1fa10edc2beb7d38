package provider

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/logout"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0:
// every ID token carries its login session's sid; the clients with a
// logout URI that receive tokens of a session are recorded in it; when the
// session ends, wherever that happens (end-session endpoint, the logout and
// settings pages, "sign out everywhere", an operator, a disabled user),
// each of them gets a logout token in the background, and the signed-out
// page loads their front-channel URLs.

// Reasons the provider ends sessions (EndSessions).
const (
	ReasonAdmin        = "admin"         // an operator revoked them
	ReasonUserDisabled = "user_disabled" // the users backend disabled or removed the user
)

// LogoutStore is what logout needs of storage (*store.DB).
type LogoutStore interface {
	AddSessionClient(ctx context.Context, sid, clientID string, now, expiresAt time.Time) error
	EndLoginSessions(ctx context.Context, username, handle string) ([]store.EndedSession, error)
}

// recordSessionClient notes that client received tokens of the login
// session, when it has a logout URI to be told at.
func (p *Provider) recordSessionClient(ctx context.Context, login *store.LoginSession, clientID string) {
	c := p.clients.Get(clientID)
	if login == nil || login.SID == "" || c == nil || !c.WantsLogout() {
		return
	}
	db, ok := p.db.(LogoutStore)
	if !ok {
		return
	}
	if err := db.AddSessionClient(ctx, login.SID, clientID, p.now(), login.ExpiresAt); err != nil {
		// The user still gets their tokens; only the logout notice is lost.
		p.log.Error("recording the client in the login session", zap.String("client_id", clientID), zap.Error(err))
	}
}

// EndSessions ends the user's login session with the handle (from the
// admin API's list), or all of them when handle is empty, and tells the
// clients that took part in them (back-channel, in the background). It
// returns how many sessions ended.
func (p *Provider) EndSessions(ctx context.Context, username, handle, reason string) (int, error) {
	db, ok := p.db.(LogoutStore)
	if !ok {
		return 0, fmt.Errorf("provider: the storage cannot end sessions")
	}
	ended, err := db.EndLoginSessions(ctx, username, handle)
	if err != nil {
		return 0, err
	}
	p.sessionsEnded(ctx, ended, reason)
	return len(ended), nil
}

// EndSessionsOfUser ends every login session of the user and tells the
// clients that took part in them: for an operator revoking the sessions,
// or a user disabled or deleted in the users backend (reason says which).
func (p *Provider) EndSessionsOfUser(ctx context.Context, username, reason string) (int, error) {
	return p.EndSessions(ctx, username, "", reason)
}

// sessionsEnded sends a logout token to every client with a
// backchannel_logout_uri that took part in the ended sessions. It returns
// at once; deliveries run in the background (package logout).
func (p *Provider) sessionsEnded(ctx context.Context, ended []store.EndedSession, reason string) {
	for _, e := range ended {
		if len(e.Clients) > 0 {
			p.log.Info("login session ended; telling its applications", zap.String("username", e.Username), zap.String("reason", reason), zap.Strings("clients", e.Clients))
		}
		for _, id := range e.Clients {
			c := p.clients.Get(id)
			if c == nil || c.BackchannelLogoutURI() == "" {
				continue
			}
			sub, err := p.subject(ctx, c, e.Username)
			if err != nil {
				p.log.Error("back-channel logout: subject of the user", zap.String("client_id", id), zap.Error(err))
				continue
			}
			token, err := p.keys.Sign(logout.Claims(p.issuer, id, sub, e.SID, p.now()), c.IDTokenAlg(), map[string]any{"typ": logout.TokenType})
			if err != nil {
				p.log.Error("back-channel logout: signing the logout token", zap.String("client_id", id), zap.Error(err))
				continue
			}
			p.logoutSender.Send(logout.Notice{ClientID: id, URI: c.BackchannelLogoutURI(), Token: token})
		}
	}
}

// WaitLogouts blocks until the back-channel deliveries started so far
// succeeded or gave up (for tests and an orderly shutdown).
func (p *Provider) WaitLogouts() { p.logoutSender.Wait() }

// logoutDiscovery adds the logout metadata: both specifications, with
// sessions (sid in logout tokens, iss and sid in front-channel URLs).
func logoutDiscovery(doc map[string]any) {
	doc["backchannel_logout_supported"] = true
	doc["backchannel_logout_session_supported"] = true
	doc["frontchannel_logout_supported"] = true
	doc["frontchannel_logout_session_supported"] = true
	if claims, ok := doc["claims_supported"].([]string); ok && !slices.Contains(claims, "sid") {
		doc["claims_supported"] = append(slices.Clone(claims), "sid")
	}
}

// signedOutPage answers a confirmed RP-initiated logout whose ended
// sessions had clients with front-channel logout URIs: the signed-out page
// loads them in hidden iframes, then continues by itself to the
// post_logout_redirect_uri (with state), if there is one. It reports false
// when there is nothing to load, and the caller redirects as usual.
func (p *Provider) signedOutPage(w http.ResponseWriter, r *http.Request, req *endSessionRequest, ended []store.EndedSession) bool {
	page := ui.LogoutPage{Action: p.base + pathEndSession, Done: true}
	page.FrontchannelURLs, page.FrameOrigins = p.pages.FrontchannelFrames(ended)
	if len(page.FrontchannelURLs) == 0 {
		return false
	}
	if req.redirectURI != "" {
		page.ContinueURL = template.URL(req.redirectTarget()) //nolint:gosec // a registered post_logout_redirect_uri, validated by parseEndSession
	}
	p.pages.Render(w, r, http.StatusOK, page)
	return true
}

// UsersRemoved ends every session of the users the users backend disabled
// or deleted and tells the applications that took part in them; it is the
// callback a backend reports such users to (the file backend's
// OnUsersRemoved). It logs what it did and any failure.
func (p *Provider) UsersRemoved(usernames []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, u := range usernames {
		n, err := p.EndSessionsOfUser(ctx, u, ReasonUserDisabled)
		if err != nil {
			p.log.Error("ending the sessions of a disabled or deleted user", zap.String("username", u), zap.Error(err))
			continue
		}
		if n > 0 {
			p.log.Info("user disabled or deleted: sessions ended", zap.String("username", u), zap.Int("sessions", n))
		}
	}
}

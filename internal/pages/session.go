package pages

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// Cookie names. The session cookie is SameSite=Lax so that the top-level
// navigation from a client to the authorization endpoint carries it; the CSRF
// cookie is Strict since only our own forms need it.
const (
	sessionCookie = "caddy_oidc_session"
	csrfCookie    = "caddy_oidc_csrf"
)

// randomToken returns 256 bits of randomness, base64url encoded.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookiePath scopes our cookies to the issuer's path.
func (p *Pages) cookiePath() string {
	if p.base == "" {
		return "/"
	}
	return p.base + "/"
}

// CurrentLogin returns the login session named by the request's cookie, or
// nil when there is none or it expired.
func (p *Pages) CurrentLogin(r *http.Request) (*store.LoginSession, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	now := p.now()
	s, err := p.db.GetLoginSession(r.Context(), c.Value, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	idle := now.Sub(s.LastSeenAt)
	if !s.RememberMe && p.inactivity > 0 && idle > p.inactivity {
		_ = p.db.DeleteLoginSession(r.Context(), c.Value)
		return nil, nil
	}
	if idle > time.Minute { // one write a minute at most per session
		if err := p.db.TouchLoginSession(r.Context(), c.Value, now); err != nil {
			return nil, err
		}
		s.LastSeenAt = now
	}
	return s, nil
}

// startLogin creates a fresh login session (a new identifier on every login,
// so a planted cookie is useless) and sets its cookie.
//
// A remember-me session lasts RememberMeLifespan with a persistent cookie and
// no inactivity timeout; otherwise the cookie ends with the browser session
// and the server ends the session after SessionLifespan or the inactivity
// timeout, whichever comes first.
func (p *Pages) startLogin(w http.ResponseWriter, r *http.Request, username string, amr []string, rememberMe bool) (*store.LoginSession, error) {
	sid := "" // a new session, unless the same user signs in again (signout.go)
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		sid = p.replaceLogin(r.Context(), old.Value, username)
	}
	if sid == "" {
		sid = store.NewSID()
	}
	now := p.now().UTC()
	s := store.LoginSession{
		SID:        sid,
		ID:         randomToken(),
		Username:   username,
		AuthTime:   now.Truncate(time.Second),
		AMR:        amr,
		CreatedAt:  now,
		ExpiresAt:  now.Add(p.sessionTTL),
		LastSeenAt: now,
		RememberMe: rememberMe,
	}
	if rememberMe {
		s.ExpiresAt = now.Add(p.rememberMeTTL)
	}
	if err := p.db.CreateLoginSession(r.Context(), s); err != nil {
		return nil, err
	}
	var expires time.Time // a browser-session cookie unless remembered
	if rememberMe {
		expires = s.ExpiresAt
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    s.ID,
		Path:     p.cookiePath(),
		Expires:  expires,
		Secure:   p.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return &s, nil
}

// EndLogin deletes the login session and its cookie, and tells the
// clients that took part in it (SignOut).
func (p *Pages) EndLogin(w http.ResponseWriter, r *http.Request) error {
	_, err := p.SignOut(w, r, false)
	return err
}

// CSRFToken returns the token to embed in a form, setting the CSRF cookie
// when the browser has none. The token is an HMAC of the cookie value, so a
// cross-site attacker can neither read nor forge it.
func (p *Pages) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	value := ""
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		value = c.Value
	} else {
		value = randomToken()
		http.SetCookie(w, &http.Cookie{
			Name: csrfCookie, Value: value, Path: p.cookiePath(),
			Secure: p.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		})
	}
	return p.csrfFor(value)
}

func (p *Pages) csrfFor(cookieValue string) string {
	return base64.RawURLEncoding.EncodeToString(p.cookieMAC("csrf", cookieValue))
}

// cookieMAC is the HMAC-SHA256 under the cookie key of purpose and parts,
// NUL-separated: the one way the pages sign what a browser hands back
// (CSRF tokens, the recovery codes page's proof, pending step-ups).
func (p *Pages) cookieMAC(purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, p.cookieKey)
	m.Write([]byte(purpose))
	for _, s := range parts {
		m.Write([]byte{0})
		m.Write([]byte(s))
	}
	return m.Sum(nil)
}

// sameOrigin reports whether a POST may come from the request's Origin: none
// (older browsers, non-browser clients) or exactly the issuer's origin.
// "null" is cross-origin: browsers send it from sandboxed frames, data:
// and file: documents, and after cross-origin redirects, none of which is
// one of our pages.
func (p *Pages) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || origin == p.origin
}

// CheckCSRF verifies a POST from one of our pages: the Origin (sameOrigin),
// and a token, from the form's csrf_token or a script's X-CSRF-Token
// header, that matches the CSRF cookie.
func (p *Pages) CheckCSRF(r *http.Request, token string) bool {
	if !p.sameOrigin(r) {
		return false
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 || token == "" {
		return false
	}
	return hmac.Equal([]byte(p.csrfFor(c.Value)), []byte(token))
}

// formOK parses a POST from one of our pages and checks its CSRF token,
// writing the error page when either fails. retry (a message ID) tells the
// user what to do about a stale form.
func (p *Pages) formOK(w http.ResponseWriter, r *http.Request, retry string) bool {
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "error.form_unreadable", "error.form_unreadable_desc", "invalid_request")
		return false
	}
	if !p.CheckCSRF(r, r.PostForm.Get("csrf_token")) {
		loc := p.Localizer(r)
		p.RenderError(w, r, http.StatusForbidden, "error.session_changed", loc.T("error.form_stale")+" "+loc.T(retry), "")
		return false
	}
	return true
}

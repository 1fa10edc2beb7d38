// Package logout tells relying parties that a user's session at the
// provider ended: it builds the logout tokens of OpenID Connect
// Back-Channel Logout 1.0 and delivers them in the background with bounded
// retries (Sender), and builds the URLs of Front-Channel Logout 1.0 that
// the signed-out page loads in iframes (FrontchannelURL). It knows nothing
// of sessions or clients beyond what it is given.
package logout

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"
	"time"
)

// Event is the member of a logout token's events claim that makes it one
// (Back-Channel Logout 1.0, section 2.4).
const Event = "http://schemas.openid.net/event/backchannel-logout"

// TokenType is the typ header of logout tokens (section 2.4: explicit
// typing, so that a logout token is never mistaken for an ID token).
const TokenType = "logout+jwt"

// TokenLifetime is how long a logout token is valid: long enough for the
// retries of a delivery, short enough to be useless later.
const TokenLifetime = 2 * time.Minute

// Claims returns the claims of a logout token from issuer to clientID for
// the session sid of the user sub: iss, aud, iat, exp, jti, sub (when not
// empty), sid (when not empty) and events. It never has a nonce
// (section 2.4 forbids one).
func Claims(issuer, clientID, sub, sid string, now time.Time) map[string]any {
	c := map[string]any{
		"iss":    issuer,
		"aud":    clientID,
		"iat":    now.Unix(),
		"exp":    now.Add(TokenLifetime).Unix(),
		"jti":    randomID(),
		"events": map[string]any{Event: map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

// FrontchannelURL returns the front-channel logout URL of a client: uri,
// with iss and sid added to its query when the client requires the session
// (section 2 of Front-Channel Logout 1.0), its own query kept.
func FrontchannelURL(uri, issuer, sid string, sessionRequired bool) string {
	if !sessionRequired {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil {
		return uri // validated at configuration; cannot happen
	}
	q := url.Values{"iss": {issuer}, "sid": {sid}}.Encode()
	if u.RawQuery == "" {
		u.RawQuery = q
	} else {
		u.RawQuery = strings.TrimSuffix(u.RawQuery, "&") + "&" + q
	}
	return u.String()
}

func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

package clients

import (
	"fmt"
	"net/url"
	"strings"
)

// logoutOptions are the client's OpenID Connect Back-Channel Logout 1.0 and
// Front-Channel Logout 1.0 registrations.
type logoutOptions struct {
	backchannelURI      string // where logout tokens are POSTed; "" = none
	backchannelSession  bool   // backchannel_logout_session_required
	frontchannelURI     string // loaded in an iframe at sign-out; "" = none
	frontchannelSession bool   // frontchannel_logout_session_required: iss and sid in the URL
	frontchannelOrigin  string // scheme://host[:port] of frontchannelURI, for the CSP
}

// setLogout validates the logout options. A backchannel_logout_uri is an
// absolute http(s) URL without a fragment (http is allowed: the provider
// often reaches apps on a private network). A frontchannel_logout_uri is
// one too, and its scheme, host and port are those of one of the client's
// redirect URIs, as Front-Channel Logout 1.0 section 2 requires.
func (c *Client) setLogout(cfg Config) error {
	if uri := cfg.BackchannelLogoutURI; uri != "" {
		if _, err := logoutURL(uri); err != nil {
			return fmt.Errorf("backchannel_logout_uri: %q: %w", uri, err)
		}
		c.logout.backchannelURI = uri
	} else if cfg.BackchannelLogoutSessionRequired {
		return fmt.Errorf("backchannel_logout_session_required: needs a backchannel_logout_uri")
	}
	c.logout.backchannelSession = cfg.BackchannelLogoutSessionRequired
	if uri := cfg.FrontchannelLogoutURI; uri != "" {
		u, err := logoutURL(uri)
		if err != nil {
			return fmt.Errorf("frontchannel_logout_uri: %q: %w", uri, err)
		}
		origin := u.Scheme + "://" + u.Host
		matches := false
		for _, r := range c.redirectURIs {
			if ru, err := url.Parse(r); err == nil && strings.EqualFold(ru.Scheme+"://"+ru.Host, origin) {
				matches = true
				break
			}
		}
		if !matches {
			return fmt.Errorf("frontchannel_logout_uri: %q: its scheme, host and port must be those of one of the redirect_uris", uri)
		}
		c.logout.frontchannelURI = uri
		c.logout.frontchannelOrigin = origin
	} else if cfg.FrontchannelLogoutSessionRequired {
		return fmt.Errorf("frontchannel_logout_session_required: needs a frontchannel_logout_uri")
	}
	c.logout.frontchannelSession = cfg.FrontchannelLogoutSessionRequired
	return nil
}

// logoutURL parses an absolute http(s) URL without a fragment.
func logoutURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a URL: %w", err)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("must be an absolute http or https URL")
	case u.Host == "":
		return nil, fmt.Errorf("must have a host")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("must not contain a fragment")
	case u.User != nil:
		return nil, fmt.Errorf("must not contain credentials")
	}
	return u, nil
}

// BackchannelLogoutURI is where the client receives logout tokens, "" for
// none.
func (c *Client) BackchannelLogoutURI() string { return c.logout.backchannelURI }

// BackchannelLogoutSessionRequired reports whether the client needs the
// sid claim in logout tokens (the provider always sends it).
func (c *Client) BackchannelLogoutSessionRequired() bool { return c.logout.backchannelSession }

// FrontchannelLogoutURI is the URL the signed-out page loads in an iframe,
// "" for none.
func (c *Client) FrontchannelLogoutURI() string { return c.logout.frontchannelURI }

// FrontchannelLogoutSessionRequired reports whether the front-channel
// logout URL gets iss and sid query parameters.
func (c *Client) FrontchannelLogoutSessionRequired() bool { return c.logout.frontchannelSession }

// FrontchannelLogoutOrigin is the origin of FrontchannelLogoutURI, which
// the signed-out page's Content-Security-Policy allows as a frame source.
func (c *Client) FrontchannelLogoutOrigin() string { return c.logout.frontchannelOrigin }

// WantsLogout reports whether the client registered a back- or
// front-channel logout URI: only those are recorded in login sessions.
func (c *Client) WantsLogout() bool {
	return c.logout.backchannelURI != "" || c.logout.frontchannelURI != ""
}

// Package cors is the CORS policy of the endpoints a browser app calls
// itself (Authelia's cors section): which origins may read their
// responses, and the answers to preflight requests.
package cors

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Config is Authelia's cors section: cross-origin access to the
// endpoints a browser app calls itself (a SPA exchanging its code, reading
// userinfo). Discovery and the JWKS always allow every origin.
type Config struct {
	// Endpoints with CORS: authorization, token, revocation,
	// introspection, userinfo.
	Endpoints []string
	// AllowedOrigins are origins (scheme://host[:port]) or the lone "*".
	// With neither these nor AllowedOriginsFromClientRedirectURIs, any
	// https origin is allowed (Authelia's default).
	AllowedOrigins []string
	// AllowedOriginsFromClientRedirectURIs adds the origin of every http
	// and https redirect URI of every client, except localhost.
	AllowedOriginsFromClientRedirectURIs bool
}

// Endpoint is an endpoint the cors option may name: its path (as
// requests are matched) and the methods it answers.
type Endpoint struct {
	Path, Methods string
}

const (
	corsAllowHeaders = "Authorization, Content-Type, DPoP"
	corsMaxAge       = "600" // seconds a browser may cache a preflight answer
)

// Policy is the checked CORS configuration; nil allows nothing.
type Policy struct {
	methods  map[string]string // path -> allowed methods
	any      bool              // "*"
	anyHTTPS bool              // nothing configured: every https origin
	origins  map[string]bool   // normalized origins
}

// New checks cfg against the endpoints the cors option may name; the
// origins of redirectURIs are allowed with
// AllowedOriginsFromClientRedirectURIs. Without endpoints there is no
// policy (nil, nil).
func New(cfg Config, endpoints map[string]Endpoint, redirectURIs []string) (*Policy, error) {
	names := strings.Join(slices.Sorted(maps.Keys(endpoints)), ", ")
	if len(cfg.Endpoints) == 0 {
		if len(cfg.AllowedOrigins) > 0 || cfg.AllowedOriginsFromClientRedirectURIs {
			return nil, fmt.Errorf("cors: endpoints: name at least one of %s, or allowed origins do nothing", names)
		}
		return nil, nil
	}
	c := &Policy{methods: map[string]string{}, origins: map[string]bool{}}
	for _, name := range cfg.Endpoints {
		ep, ok := endpoints[name]
		if !ok {
			return nil, fmt.Errorf("cors: endpoints: %q is not one of %s", name, names)
		}
		c.methods[ep.Path] = ep.Methods
	}
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			if len(cfg.AllowedOrigins) > 1 {
				return nil, fmt.Errorf("cors: allowed_origins: * must be the only origin")
			}
			if cfg.AllowedOriginsFromClientRedirectURIs {
				return nil, fmt.Errorf("cors: allowed_origins: * cannot be combined with allowed_origins_from_client_redirect_uris")
			}
			c.any = true
			continue
		}
		n, ok := normalizeOrigin(o)
		if !ok {
			return nil, fmt.Errorf("cors: allowed_origins: %q is not an origin: scheme (http or https), host and optional port, without a path or trailing slash", o)
		}
		c.origins[n] = true
	}
	if cfg.AllowedOriginsFromClientRedirectURIs {
		for _, uri := range redirectURIs {
			u, err := url.Parse(uri)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || strings.EqualFold(u.Hostname(), "localhost") {
				continue
			}
			if n, ok := normalizeOrigin(u.Scheme + "://" + u.Host); ok {
				c.origins[n] = true
			}
		}
	}
	c.anyHTTPS = len(cfg.AllowedOrigins) == 0 && !cfg.AllowedOriginsFromClientRedirectURIs
	return c, nil
}

// normalizeOrigin returns the ASCII serialization of an origin as browsers
// send it (lowercase, no default port), and whether s is one.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return "", false
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// allowed reports whether a request from origin may read the response.
func (c *Policy) allowed(origin string) bool {
	n, ok := normalizeOrigin(origin)
	switch {
	case !ok:
		return false // includes "null" (sandboxed frames, file:)
	case c.any || c.origins[n]:
		return true
	}
	return c.anyHTTPS && strings.HasPrefix(n, "https://")
}

// Handle adds the CORS headers for a request to one of the configured
// endpoints and answers preflight requests; it reports whether it answered
// (the caller then stops). Headers go only to requests that send an allowed
// Origin; responses of these endpoints always vary by Origin.
func (c *Policy) Handle(w http.ResponseWriter, r *http.Request, path string) bool {
	if c == nil {
		return false
	}
	methods, ok := c.methods[path]
	if !ok {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" || !c.allowed(origin) {
		if preflight {
			w.WriteHeader(http.StatusNoContent) // without CORS headers: the browser refuses
			return true
		}
		return false
	}
	if c.any {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if !preflight {
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce")
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

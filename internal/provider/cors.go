package provider

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORSConfig is Authelia's cors section: cross-origin access to the
// endpoints a browser app calls itself (a SPA exchanging its code, reading
// userinfo). Discovery and the JWKS always allow every origin.
type CORSConfig struct {
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

// corsEndpoints maps the endpoint names of the cors option to their paths
// and the methods they answer.
var corsEndpoints = map[string]struct{ path, methods string }{
	"authorization": {pathAuthorize, "GET, POST"},
	"token":         {pathToken, "POST"},
	"revocation":    {pathRevocation, "POST"},
	"introspection": {pathIntrospection, "POST"},
	"userinfo":      {pathUserinfo, "GET, POST"},
}

const (
	corsAllowHeaders = "Authorization, Content-Type"
	corsMaxAge       = "600" // seconds a browser may cache a preflight answer
)

// corsPolicy is the checked CORS configuration.
type corsPolicy struct {
	methods  map[string]string // path -> allowed methods
	any      bool              // "*"
	anyHTTPS bool              // nothing configured: every https origin
	origins  map[string]bool   // normalized origins
}

// setupCORS checks the CORS configuration; without endpoints there is no
// CORS (beyond discovery and the JWKS).
func (p *Provider) setupCORS(cfg CORSConfig) error {
	if len(cfg.Endpoints) == 0 {
		if len(cfg.AllowedOrigins) > 0 || cfg.AllowedOriginsFromClientRedirectURIs {
			return fmt.Errorf("cors: endpoints: name at least one of %s, or allowed origins do nothing", strings.Join(slices.Sorted(maps.Keys(corsEndpoints)), ", "))
		}
		return nil
	}
	c := &corsPolicy{methods: map[string]string{}, origins: map[string]bool{}}
	for _, name := range cfg.Endpoints {
		ep, ok := corsEndpoints[name]
		if !ok {
			return fmt.Errorf("cors: endpoints: %q is not one of %s", name, strings.Join(slices.Sorted(maps.Keys(corsEndpoints)), ", "))
		}
		c.methods[ep.path] = ep.methods
	}
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			if len(cfg.AllowedOrigins) > 1 {
				return fmt.Errorf("cors: allowed_origins: * must be the only origin")
			}
			if cfg.AllowedOriginsFromClientRedirectURIs {
				return fmt.Errorf("cors: allowed_origins: * cannot be combined with allowed_origins_from_client_redirect_uris")
			}
			c.any = true
			continue
		}
		n, ok := normalizeOrigin(o)
		if !ok {
			return fmt.Errorf("cors: allowed_origins: %q is not an origin: scheme (http or https), host and optional port, without a path or trailing slash", o)
		}
		c.origins[n] = true
	}
	if cfg.AllowedOriginsFromClientRedirectURIs {
		for _, cl := range p.clients.All() {
			for _, uri := range cl.GetRedirectURIs() {
				u, err := url.Parse(uri)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || strings.EqualFold(u.Hostname(), "localhost") {
					continue
				}
				if n, ok := normalizeOrigin(u.Scheme + "://" + u.Host); ok {
					c.origins[n] = true
				}
			}
		}
	}
	c.anyHTTPS = len(cfg.AllowedOrigins) == 0 && !cfg.AllowedOriginsFromClientRedirectURIs
	p.cors = c
	return nil
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
func (c *corsPolicy) allowed(origin string) bool {
	n, ok := normalizeOrigin(origin)
	switch {
	case !ok:
		return false // includes "null" (sandboxed frames, file:)
	case c.any || c.origins[n]:
		return true
	}
	return c.anyHTTPS && strings.HasPrefix(n, "https://")
}

// handleCORS adds the CORS headers for a request to one of the configured
// endpoints and answers preflight requests; it reports whether it answered
// (the caller then stops). Headers go only to requests that send an allowed
// Origin; responses of these endpoints always vary by Origin.
func (p *Provider) handleCORS(w http.ResponseWriter, r *http.Request, path string) bool {
	c := p.cors
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
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
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

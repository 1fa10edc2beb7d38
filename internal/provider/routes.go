package provider

import (
	"net/http"
	"strings"

	"github.com/ory/fosite"
)

// Endpoint paths below the issuer. They match Authelia's, so apps configured
// by hand for Authelia keep working.
const (
	pathDiscovery     = "/.well-known/openid-configuration"
	pathOAuthMetadata = "/.well-known/oauth-authorization-server"
	pathJWKS          = "/jwks.json"
	pathAuthorize     = "/api/oidc/authorization"
	pathToken         = "/api/oidc/token"
	pathUserinfo      = "/api/oidc/userinfo"
	pathIntrospection = "/api/oidc/introspection"
	pathRevocation    = "/api/oidc/revocation"
	pathPAR           = "/api/oidc/pushed-authorization-request"
	pathEndSession    = "/api/oidc/end-session"
	pathLogin         = "/login"
	pathConsent       = "/consent"
	pathLogout        = "/logout"
	pathAssets        = "/assets"
	pathWebAuthn      = "/api/webauthn"
	pathSecondFactor  = "/login/2fa"
	pathTOTPEnroll    = "/login/totp"
	pathContinue      = "/login/continue"
	pathSettings      = "/settings"
)

// route is one entry of the route table: a path below the issuer, the
// methods it answers (GET implies HEAD), its handler, and how it refuses
// other methods. refuse gets the Allow header already set; nil answers a
// plain 405.
type route struct {
	path    string
	methods []string
	serve   http.HandlerFunc
	refuse  http.HandlerFunc
}

// routes is the route table: every path the provider serves. Handles and
// ServeHTTP both use the ServeMux built from it.
func (p *Provider) routes() []route {
	get, post, getPost := []string{http.MethodGet, http.MethodHead}, []string{http.MethodPost}, []string{http.MethodGet, http.MethodPost}
	page := func(desc string) http.HandlerFunc { // a readable 405 for people
		return func(w http.ResponseWriter, _ *http.Request) {
			p.renderError(w, http.StatusMethodNotAllowed, "Nothing to see here", desc, "")
		}
	}
	oauth := func(endpoint string) http.HandlerFunc { // an OAuth error for clients
		return func(w http.ResponseWriter, r *http.Request) {
			e := fosite.ErrInvalidRequest.WithHintf("HTTP method is '%s', expected 'POST'.", r.Method)
			e.CodeField = http.StatusMethodNotAllowed
			p.endpointError(w, r, endpoint, e)
		}
	}
	rs := []route{
		{pathDiscovery, get, p.serveDiscovery, nil},
		{pathOAuthMetadata, get, p.serveDiscovery, nil},
		{pathJWKS, get, p.serveJWKS, nil},
		{pathAuthorize, getPost, p.serveAuthorize, page("This address only accepts sign-in requests from applications.")},
		{pathToken, post, p.serveToken, oauth("token")},
		{pathUserinfo, getPost, p.serveUserinfo, func(w http.ResponseWriter, _ *http.Request) {
			bearerError(w, http.StatusMethodNotAllowed, "invalid_request", "The userinfo endpoint accepts GET and POST.")
		}},
		{pathIntrospection, post, p.serveIntrospection, oauth("introspection")},
		{pathRevocation, post, p.serveRevocation, oauth("revocation")},
		{pathPAR, post, p.servePAR, oauth("pushed authorization request")},
		{pathEndSession, getPost, p.serveEndSession, page("This address only signs you out.")},
		{pathLogin, getPost, p.serveLogin, page("This address only shows the sign-in form.")},
		{pathConsent, post, p.serveConsent, page("This address only accepts the consent form.")},
		{pathLogout, getPost, p.serveLogout, page("This address only signs you out.")},
		{pathSecondFactor, post, p.serveSecondFactor, page("This address only accepts a form.")},
		{pathTOTPEnroll, post, p.serveTOTPEnroll, page("This address only accepts a form.")},
		{pathContinue, post, p.serveContinue, page("This address only accepts a form.")},
		{pathSettings, getPost, p.serveSettings, page("This address only accepts a form.")},
		{pathAssets + "/", get, p.assets.ServeHTTP, http.NotFound},
	}
	return append(rs, p.webauthnRoutes()...)
}

// newMux builds the ServeMux of the route table, below the issuer's path.
// A method-less pattern per path answers the methods the path refuses.
func (p *Provider) newMux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range p.routes() {
		full := p.base + rt.path
		for _, m := range rt.methods {
			mux.HandleFunc(m+" "+full, rt.serve)
		}
		allow := strings.Join(rt.methods, ", ")
		refuse := rt.refuse
		if refuse == nil {
			refuse = func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			}
		}
		mux.HandleFunc(full, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			refuse(w, r)
		})
	}
	if p.base != "" {
		// RFC 8414 3: the well-known segment goes before the issuer path.
		mux.HandleFunc("GET "+pathOAuthMetadata+p.base, p.serveDiscovery)
		mux.HandleFunc(pathOAuthMetadata+p.base, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		})
	}
	// Unknown WebAuthn endpoints get a JSON answer.
	mux.HandleFunc(p.base+pathWebAuthn+"/", p.webauthnNotFound)
	return mux
}

// Handles reports whether the request is for one of the provider's paths.
// The caller passes other requests on. It runs for every request, so it
// looks at the path prefix before asking the mux.
func (p *Provider) Handles(r *http.Request) bool {
	path := r.URL.Path
	if !strings.HasPrefix(path, p.base+"/") && !(p.base != "" && path == pathOAuthMetadata+p.base) {
		return false
	}
	_, pattern := p.mux.Handler(r)
	if _, rest, ok := strings.Cut(pattern, " "); ok {
		pattern = rest // drop the method
	}
	// The mux also answers paths it would redirect (unclean, or a subtree
	// without its slash): those are not ours.
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return pattern != "" && path == pattern
}

// ServeHTTP serves one of the provider's endpoints; call Handles first.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		// Every request to the provider is a small form or JSON document;
		// a larger body is refused while it is read, whatever the endpoint.
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	}
	if p.handleCORS(w, r, strings.TrimPrefix(r.URL.Path, p.base)) { // cors.go: a preflight request
		return
	}
	p.mux.ServeHTTP(w, r)
}

// serveDiscovery and serveJWKS write precomputed bytes: they do no work per
// request.
func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	serveStatic(w, r, p.discovery, "application/json")
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	serveStatic(w, r, p.keys.JWKS(), "application/jwk-set+json")
}

func serveStatic(w http.ResponseWriter, r *http.Request, body []byte, contentType string) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Cache-Control"] = []string{"public, max-age=300"}
	h["Access-Control-Allow-Origin"] = []string{"*"}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write(body)
}

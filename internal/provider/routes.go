package provider

import (
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/pages"
)

// Endpoint paths below the issuer (the pages' are pages.Path*). They match
// Authelia's, so apps configured by hand for Authelia keep working.
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
		return func(w http.ResponseWriter, r *http.Request) {
			p.pages.RenderError(w, r, http.StatusMethodNotAllowed, "error.nothing_here", desc, "")
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
		{pathAuthorize, getPost, p.serveAuthorize, page("method.authorize")},
		{pathToken, post, p.serveToken, oauth("token")},
		{pathUserinfo, getPost, p.serveUserinfo, func(w http.ResponseWriter, _ *http.Request) {
			bearerError(w, http.StatusMethodNotAllowed, "invalid_request", "The userinfo endpoint accepts GET and POST.")
		}},
		{pathIntrospection, post, p.serveIntrospection, oauth("introspection")},
		{pathRevocation, post, p.serveRevocation, oauth("revocation")},
		{pathPAR, post, p.servePAR, oauth("pushed authorization request")},
		{pathEndSession, getPost, p.serveEndSession, page("method.logout")},
		{pathDeviceAuthorization, post, p.serveDeviceAuthorization, oauth("device authorization")}, // device.go
		{pages.PathDevice, getPost, p.pages.ServeDevice, page("method.device")},                    // device.go
		{pages.PathLogin, getPost, p.pages.ServeLogin, page("method.login")},
		{pages.PathConsent, post, p.pages.ServeConsent, p.pages.ServeFormOnly},
		{pages.PathLogout, getPost, p.pages.ServeLogout, page("method.logout")},
		{pages.PathSecondFactor, post, p.pages.ServeSecondFactor, p.pages.ServeFormOnly},
		{pages.PathTOTPEnroll, post, p.pages.ServeTOTPEnroll, p.pages.ServeFormOnly},
		{pages.PathContinue, post, p.pages.ServeContinue, p.pages.ServeFormOnly},
		{pages.PathRecoveryCode, post, p.pages.ServeRecoveryCode, p.pages.ServeFormOnly},
		{pages.PathRecoveryDone, post, p.pages.ServeRecoveryDone, p.pages.ServeFormOnly},
		{pages.PathSettings, getPost, p.pages.ServeSettings, page("method.form")},
		{pages.PathAssets + "/", get, p.pages.ServeAssets, http.NotFound},
	}
	for _, e := range p.pages.PasskeyEndpoints() { // JSON for the pages' scripts
		methods := []string{e.Method}
		if e.Method == http.MethodGet {
			methods = append(methods, http.MethodHead)
		}
		rs = append(rs, route{e.Path, methods, e.Serve, e.Refuse})
	}
	return rs
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
		if strings.HasPrefix(rt.path, pages.PathWebAuthn+"/") {
			allow = rt.methods[0] // as the passkey endpoints always answered
		}
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
	mux.HandleFunc(p.base+pages.PathWebAuthn+"/", p.pages.ServePasskeyNotFound)
	return mux
}

// Handles reports whether the request is for one of the provider's paths.
// The caller passes other requests on. It runs for every request, so it
// looks at the path prefix before asking the mux.
func (p *Provider) Handles(r *http.Request) bool {
	path := r.URL.Path
	// RFC 8414 3: the metadata of an issuer with a path is at
	// /.well-known/oauth-authorization-server<base>, outside the base.
	metadata := p.base != "" && path == pathOAuthMetadata+p.base
	if !strings.HasPrefix(path, p.base+"/") && !metadata {
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
	if p.cors.Handle(w, r, strings.TrimPrefix(r.URL.Path, p.base)) { // a preflight request
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

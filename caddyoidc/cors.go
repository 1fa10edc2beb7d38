package caddyoidc

// CORS is Authelia's cors section: which endpoints browser apps on other
// origins may call, and from which origins. CORS headers are sent only to
// requests with an allowed Origin header (never Allow-Credentials);
// preflight requests get 204 with the endpoint's methods, the Authorization
// and Content-Type headers, and a 10-minute max age. Discovery and the JWKS
// always allow every origin.
type CORS struct {
	// Endpoints with CORS: authorization, token, revocation,
	// introspection, userinfo.
	Endpoints []string `json:"endpoints,omitempty"`
	// AllowedOrigins are origins (scheme://host[:port], no path or
	// trailing slash), or the lone "*" (not with
	// allowed_origins_from_client_redirect_uris). Default, when neither is
	// set: every https origin.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// AllowedOriginsFromClientRedirectURIs adds the origin of every http
	// and https redirect URI of every client, except localhost.
	AllowedOriginsFromClientRedirectURIs bool `json:"allowed_origins_from_client_redirect_uris,omitempty"`
}

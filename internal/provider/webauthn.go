package provider

import "net/http"

// serveWebAuthn serves the WebAuthn (passkey) JSON endpoints below
// /api/webauthn; sub is the rest of the path.
func (p *Provider) serveWebAuthn(w http.ResponseWriter, r *http.Request, sub string) {
	http.NotFound(w, r)
}

package provider

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/ory/fosite"
)

// maxLoggedClientID bounds a client_id that a request asked for when the
// log records it: it is the requester's text, not a configured ID.
const maxLoggedClientID = 128

// knownRequestClient reports whether the authorization request names a
// configured client. fosite leaves an empty client in the request when the
// client_id is unknown.
func knownRequestClient(ar fosite.AuthorizeRequester) bool {
	return ar != nil && ar.GetClient() != nil && ar.GetClient().GetID() != ""
}

// requestedClientID is the client_id an authorization request asked for,
// for the log: the configured client's ID when it is known, else what the
// request said (cut to maxLoggedClientID bytes, and only valid UTF-8), so an
// administrator can tell which application is misconfigured.
func requestedClientID(r *http.Request, ar fosite.AuthorizeRequester) string {
	if knownRequestClient(ar) {
		return ar.GetClient().GetID()
	}
	var id string
	if ar != nil && ar.GetRequestForm() != nil {
		id = ar.GetRequestForm().Get("client_id")
	}
	if id == "" && r != nil {
		id = r.FormValue("client_id") // fosite parsed the form already
	}
	if len(id) > maxLoggedClientID {
		id = id[:maxLoggedClientID]
		for !utf8.ValidString(id) {
			id = id[:len(id)-1]
		}
		id += "…"
	}
	return strings.ToValidUTF8(id, "?")
}

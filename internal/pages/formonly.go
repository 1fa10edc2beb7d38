package pages

import "net/http"

// ServeFormOnly answers the methods that the form-only paths (the second
// factor, authenticator enrolment, passkey continuation and consent forms)
// do not accept. A GET there comes from the browser's history or a
// bookmark, long after the form was sent: instead of an error the person
// goes to their account settings, which show the sign-in form when they are
// not signed in. The step they came back to cannot be repeated from its
// address anyway (it needs the form's CSRF token and the authorization
// request), and the application starts a new sign-in when opened again.
// Other methods get the readable 405 page; the caller set Allow.
func (p *Pages) ServeFormOnly(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		w.Header().Del("Allow")
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p.base+PathSettings, http.StatusSeeOther)
		return
	}
	p.RenderError(w, r, http.StatusMethodNotAllowed, "error.nothing_here", "method.form", "")
}

package provider

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"
)

// formPostScript submits the form_post page's form. The page's
// Content-Security-Policy allows this one inline script by its hash, and
// nothing else.
const formPostScript = `document.forms[0].submit();`

// formPostCSP allows the page nothing but its own script: no other scripts,
// styles, images, frames or connections, and no <base>. It has no
// frame-ancestors: the page may be framed like the redirects of the other
// response modes (silent renewal in an iframe), and it has nothing to click
// unless scripts are off.
var formPostCSP = func() string {
	sum := sha256.Sum256([]byte(formPostScript))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'"
}()

// formPostPage is the form_post response (OAuth 2.0 Form Post Response
// Mode): a form of hidden inputs that the script submits to the client's
// redirect URI, with a button for browsers without scripts. fosite renders
// it for successes and errors alike (fosite.Config.FormPostHTMLTemplate).
//
// RFC 9207 wants iss on every authorization response: successes carry it
// as a response parameter; fosite builds error responses from the error
// alone, so the page adds iss when the parameters lack it.
const formPostPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>Signing you in…</title>
</head>
<body>
<form method="post" action="{{.RedirURL}}">
{{- range $name, $values := .Parameters}}{{range $values}}
<input type="hidden" name="{{$name}}" value="{{.}}">
{{- end}}{{end}}
` + formPostIss + `<noscript><p>Scripts are off in this browser: press the button to return to the application.</p><button type="submit">Continue</button></noscript>
</form>
<script>` + formPostScript + `</script>
</body>
</html>
`

// formPostIss adds iss to the form_post page's errors (not to JARM's).
const formPostIss = `{{- if not (.Parameters.Get "iss")}}
<input type="hidden" name="iss" value="{{issuer}}">
{{- end}}
`

// newJARMFormPostTemplate returns the form_post.jwt page: the form_post
// page, whose only parameter is the response JWT.
func newJARMFormPostTemplate() *template.Template {
	return template.Must(template.New("form_post.jwt").Parse(strings.Replace(formPostPage, formPostIss, "", 1)))
}

// newFormPostTemplate returns the form_post page for an issuer.
func newFormPostTemplate(issuer string) *template.Template {
	return template.Must(template.New("form_post").
		Funcs(template.FuncMap{"issuer": func() string { return issuer }}).
		Parse(formPostPage))
}

// setFormPostHeaders sets the headers of the form_post page; fosite adds
// Cache-Control: no-store and Pragma: no-cache. The referrer policy keeps
// the authorization request's URL from the client.
func setFormPostHeaders(h http.Header) {
	h.Set("Content-Security-Policy", formPostCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
}

// canFormPost reports whether a browser can post a form to the redirect
// URI: only http and https. html/template would neutralize any other
// scheme in the form's action, and the form would post to the page itself.
func canFormPost(u *url.URL) bool {
	return u != nil && (u.Scheme == "http" || u.Scheme == "https")
}

// prepareErrorResponseMode fixes the response mode of an authorization
// error before fosite writes it. fosite settles the default response mode
// of a request only when the request is valid, so an early error of an
// implicit or hybrid request would go to the query; OAuth 2.0 Multiple
// Response Type Encoding Practices 5 wants the fragment. And a form_post
// request to a redirect URI a form cannot post to gets the error in its
// response type's default mode.
func prepareErrorResponseMode(ar fosite.AuthorizeRequester) {
	mode := ar.GetResponseMode()
	if mode != fosite.ResponseModeDefault && (mode != fosite.ResponseModeFormPost || canFormPost(ar.GetRedirectURI())) {
		return
	}
	def := fosite.ResponseModeQuery
	if words := strings.Fields(ar.GetRequestForm().Get("response_type")); len(words) > 1 || (len(words) == 1 && words[0] != "code") {
		def = fosite.ResponseModeFragment
	}
	if mode == fosite.ResponseModeFormPost {
		if r, ok := ar.(*fosite.AuthorizeRequest); ok {
			r.ResponseMode = def
		}
		return
	}
	ar.SetDefaultResponseMode(def)
}

// withIss adds iss (RFC 9207) to an authorization response redirect, in the
// query or, for the fragment response mode, in the fragment.
func withIss(location, issuer string) string {
	if base, frag, ok := strings.Cut(location, "#"); ok {
		q, err := url.ParseQuery(frag)
		if err != nil {
			return location
		}
		q.Set("iss", issuer)
		return base + "#" + q.Encode()
	}
	u, err := url.Parse(location)
	if err != nil {
		return location
	}
	q := u.Query()
	q.Set("iss", issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

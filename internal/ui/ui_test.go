package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

const xss = `<script>alert(1)</script>`

var wantHeaders = map[string]string{
	"Content-Type":            "text/html; charset=utf-8",
	"Cache-Control":           "no-store",
	"Pragma":                  "no-cache",
	"Referrer-Policy":         "same-origin", // a form's Origin must not be "null"
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
}

func newPages(t *testing.T) *Pages {
	t.Helper()
	p, err := New("/idp/assets/")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// samplePages are realistic pages, used by the tests and by TestPreview.
var samplePages = map[string]any{
	"login": LoginPage{ClientName: "Immich", Action: "/idp/login", CSRFToken: "tok", ReturnTo: "/idp/authorize?x=1"},
	"login-error": &LoginPage{ClientName: "Immich", Action: "/idp/login", CSRFToken: "tok", ReturnTo: "/r",
		Username: "alice", Error: "Incorrect username or password."},
	"consent": &ConsentPage{ClientName: "Immich", ClientID: "immich", UserName: "Alice Liddell",
		Action: "/idp/consent", CSRFToken: "tok", ReturnTo: "/r", Scopes: []Scope{
			{"openid", "Confirm your identity"},
			{"profile", "Your name and username"},
			{"email", "Your email address"},
			{"groups", "The groups you belong to"},
		}},
	"logout":        LogoutPage{Action: "/idp/logout", CSRFToken: "tok", UserName: "Alice Liddell"},
	"logout-anon":   LogoutPage{Action: "/idp/logout", CSRFToken: "tok"},
	"logout-done":   &LogoutPage{Done: true},
	"error":         ErrorPage{Title: "This sign-in link is not valid", Description: "The application sent an address that is not registered for it, so you were not sent back to it.", Code: "invalid_request"},
	"error-minimal": ErrorPage{},
}

func render(t *testing.T, p *Pages, status int, page any) (*httptest.ResponseRecorder, *html.Node) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := p.Render(rec, nil, status, page); err != nil {
		t.Fatalf("Render(%T): %v", page, err)
	}
	doc, err := html.Parse(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return rec, doc
}

func TestRender(t *testing.T) {
	p := newPages(t)
	tests := []struct {
		name   string
		status int
		page   any
		want   []string // substrings of the body
		check  func(t *testing.T, doc *html.Node)
	}{
		{
			name: "login", status: http.StatusOK, page: samplePages["login"],
			want: []string{"<title>Sign in</title>", "Immich", ">Sign in</button>"},
			check: func(t *testing.T, doc *html.Node) {
				checkLoginForm(t, doc, "tok", "/idp/authorize?x=1")
				if u := byID(doc, "username"); !hasAttr(u, "autofocus") {
					t.Error("empty username field is not autofocused")
				}
				if len(findAll(doc, func(n *html.Node) bool { return attr(n, "role") == "alert" })) != 0 {
					t.Error("role=alert present without an error")
				}
			},
		},
		{
			name: "login with error", status: http.StatusUnauthorized, page: samplePages["login-error"],
			check: func(t *testing.T, doc *html.Node) {
				checkLoginForm(t, doc, "tok", "/r")
				alerts := findAll(doc, func(n *html.Node) bool { return attr(n, "role") == "alert" })
				if len(alerts) != 1 || text(alerts[0]) != "Incorrect username or password." {
					t.Errorf("alerts = %d, want one with the error text", len(alerts))
				}
				if got := attr(byID(doc, "username"), "value"); got != "alice" {
					t.Errorf("username value = %q, want alice", got)
				}
				if hasAttr(byID(doc, "username"), "autofocus") || !hasAttr(byID(doc, "password"), "autofocus") {
					t.Error("autofocus should be on the password field when the username is filled")
				}
			},
		},
		{
			name: "consent", status: http.StatusOK, page: samplePages["consent"],
			want: []string{"Immich", "Alice Liddell", "Your email address", "groups"},
			check: func(t *testing.T, doc *html.Node) {
				form := onlyForm(t, doc, "/idp/consent")
				checkHidden(t, form, "csrf_token", "tok")
				checkHidden(t, form, "return_to", "/r")
				buttons := findAll(form, isElem("button"))
				got := map[string]string{}
				for _, b := range buttons {
					if attr(b, "type") != "submit" || attr(b, "name") != "decision" {
						t.Errorf("button %q: type=%q name=%q", text(b), attr(b, "type"), attr(b, "name"))
					}
					got[attr(b, "value")] = text(b)
				}
				if len(buttons) != 2 || got["allow"] != "Allow" || got["deny"] != "Deny" {
					t.Errorf("decision buttons = %v, want allow=Allow and deny=Deny", got)
				}
				items := findAll(doc, isElem("li"))
				consent, ok := samplePages["consent"].(*ConsentPage)
				if !ok {
					t.Fatalf("samplePages[consent] is a %T", samplePages["consent"])
				}
				scopes := consent.Scopes
				if len(items) != len(scopes) {
					t.Fatalf("%d scope items, want %d", len(items), len(scopes))
				}
				for i, s := range scopes {
					if !strings.Contains(text(items[i]), s.Description) || !strings.Contains(text(items[i]), s.Name) {
						t.Errorf("scope item %d = %q, want %q and %q", i, text(items[i]), s.Name, s.Description)
					}
				}
			},
		},
		{
			name: "consent without name or scopes", status: http.StatusOK,
			page: ConsentPage{ClientID: "cli", Action: "/c", CSRFToken: "t"},
			want: []string{"<strong>cli</strong>", "Deny", "Allow"},
		},
		{
			name: "logout confirm", status: http.StatusOK, page: samplePages["logout"],
			want: []string{"Alice Liddell", ">Sign out</button>"},
			check: func(t *testing.T, doc *html.Node) {
				form := onlyForm(t, doc, "/idp/logout")
				checkHidden(t, form, "csrf_token", "tok")
				checkHidden(t, form, "return_to", "")
			},
		},
		{
			name: "logout not signed in", status: http.StatusOK, page: samplePages["logout-anon"],
			want: []string{"You are not signed in"},
			check: func(t *testing.T, doc *html.Node) {
				if n := len(findAll(doc, isElem("form"))); n != 0 {
					t.Errorf("%d forms, want none", n)
				}
			},
		},
		{
			name: "logout done", status: http.StatusOK, page: samplePages["logout-done"],
			want: []string{"You have been signed out", "<title>Signed out</title>"},
		},
		{
			name: "error", status: http.StatusBadRequest, page: samplePages["error"],
			want: []string{"<title>This sign-in link is not valid</title>", "not registered", "invalid_request"},
		},
		{
			name: "error without fields", status: http.StatusInternalServerError, page: &ErrorPage{},
			want: []string{"Something went wrong"},
		},
		{
			name: "escaping", status: http.StatusOK,
			page: LoginPage{ClientName: xss, Username: `"><b>x`, Error: xss, CSRFToken: `"x`, ReturnTo: `'y`},
			want: []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;b&gt;x"},
			check: func(t *testing.T, doc *html.Node) {
				if len(findAll(doc, isElem("b"))) != 0 {
					t.Error("injected <b> became an element")
				}
				checkHidden(t, doc, "csrf_token", `"x`)
				checkHidden(t, doc, "return_to", `'y`)
			},
		},
		{
			name: "escaping consent and error", status: http.StatusOK,
			page: ConsentPage{ClientName: xss, UserName: xss, Scopes: []Scope{{xss, xss}}},
			want: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"},
		},
		{
			name: "unsafe action URL", status: http.StatusOK,
			page: LoginPage{Action: "javascript:alert(1)"},
			want: []string{`action="#ZgotmplZ"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, doc := render(t, p, tt.status, tt.page)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			for k, v := range wantHeaders {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			body := rec.Body.String()
			if strings.Contains(body, xss) || strings.Contains(strings.ToLower(body), "<script") {
				t.Error("body contains a script element")
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q", w)
				}
			}
			checkDocument(t, doc)
			if tt.check != nil {
				tt.check(t, doc)
			}
		})
	}
}

// checkDocument checks what every page must have: lang, the stylesheet, no
// inline styles or scripts, and a label for every visible input.
func checkDocument(t *testing.T, doc *html.Node) {
	t.Helper()
	if h := findAll(doc, isElem("html")); len(h) != 1 || attr(h[0], "lang") == "" {
		t.Error("no lang attribute on <html>")
	}
	if len(findAll(doc, isElem("h1"))) != 1 {
		t.Error("want exactly one <h1>")
	}
	links := findAll(doc, func(n *html.Node) bool { return isElem("link")(n) && attr(n, "rel") == "stylesheet" })
	if len(links) != 1 || !strings.HasPrefix(attr(links[0], "href"), "/idp/assets/style.css?v=") {
		t.Errorf("stylesheet links = %d, want one to /idp/assets/style.css", len(links))
	}
	for _, n := range findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		if n.Data == "style" || n.Data == "script" || hasAttr(n, "style") {
			t.Errorf("inline style or script: <%s>", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("event handler attribute %s on <%s>", a.Key, n.Data)
			}
		}
	}
	labels := map[string]bool{}
	for _, l := range findAll(doc, isElem("label")) {
		labels[attr(l, "for")] = true
	}
	for _, in := range findAll(doc, isElem("input")) {
		if attr(in, "type") == "hidden" {
			continue
		}
		if id := attr(in, "id"); id == "" || !labels[id] {
			t.Errorf("input %q has no <label for=%q>", attr(in, "name"), id)
		}
	}
}

func checkLoginForm(t *testing.T, doc *html.Node, csrf, returnTo string) {
	t.Helper()
	form := onlyForm(t, doc, "/idp/login")
	checkHidden(t, form, "csrf_token", csrf)
	checkHidden(t, form, "return_to", returnTo)
	for _, f := range []struct{ id, typ, autocomplete string }{
		{"username", "text", "username"},
		{"password", "password", "current-password"},
	} {
		in := byID(form, f.id)
		if in == nil || in.Data != "input" {
			t.Errorf("no input with id %q", f.id)
			continue
		}
		if attr(in, "name") != f.id || attr(in, "type") != f.typ || attr(in, "autocomplete") != f.autocomplete {
			t.Errorf("input %s: name=%q type=%q autocomplete=%q", f.id, attr(in, "name"), attr(in, "type"), attr(in, "autocomplete"))
		}
	}
	if b := findAll(form, isElem("button")); len(b) != 1 || text(b[0]) != "Sign in" || attr(b[0], "type") != "submit" {
		t.Error("want one submit button \"Sign in\"")
	}
}

func onlyForm(t *testing.T, doc *html.Node, action string) *html.Node {
	t.Helper()
	forms := findAll(doc, isElem("form"))
	if len(forms) != 1 {
		t.Fatalf("%d forms, want 1", len(forms))
	}
	if attr(forms[0], "method") != "post" || attr(forms[0], "action") != action {
		t.Errorf("form method=%q action=%q, want post %q", attr(forms[0], "method"), attr(forms[0], "action"), action)
	}
	return forms[0]
}

func checkHidden(t *testing.T, root *html.Node, name, value string) {
	t.Helper()
	in := findAll(root, func(n *html.Node) bool { return isElem("input")(n) && attr(n, "name") == name })
	if len(in) != 1 || attr(in[0], "type") != "hidden" || attr(in[0], "value") != value || !hasAttr(in[0], "value") {
		t.Errorf("want one hidden input %s=%q", name, value)
	}
}

func TestRenderFailure(t *testing.T) {
	p := newPages(t)
	for _, tt := range []struct {
		name   string
		status int
		page   any
	}{
		{"unknown type", http.StatusOK, struct{ Title string }{"x"}},
		{"string", http.StatusOK, "login"},
		{"nil", http.StatusOK, nil},
		{"nil pointer", http.StatusOK, (*LoginPage)(nil)},
		{"bad status", 42, LoginPage{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := p.Render(rec, nil, tt.status, tt.page); err == nil {
				t.Fatal("Render returned no error")
			}
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", ct)
			}
			if strings.Contains(rec.Body.String(), "<") {
				t.Errorf("body has markup: %q", rec.Body.String())
			}
		})
	}
}

func TestAssetHandler(t *testing.T) {
	p := newPages(t)
	srv := httptest.NewServer(http.StripPrefix("/idp/assets", p.AssetHandler()))
	defer srv.Close()
	for _, tt := range []struct {
		method, path string
		status       int
		ctype        string
		body         string // substring
	}{
		{"GET", "/idp/assets/style.css", 200, "text/css; charset=utf-8", "prefers-color-scheme"},
		{"GET", "/idp/assets/style.css?v=whatever", 200, "text/css; charset=utf-8", ":focus-visible"},
		{"HEAD", "/idp/assets/style.css", 200, "text/css; charset=utf-8", ""},
		{"GET", "/idp/assets/icon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/idp/assets/", 404, "", ""},
		{"GET", "/idp/assets/nope.css", 404, "", ""},
		{"GET", "/idp/assets/../ui.go", 404, "", ""},
		{"POST", "/idp/assets/style.css", 405, "", ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := drain(t, res)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			if got := res.Header.Get("Cache-Control"); got != "public, max-age=86400" {
				t.Errorf("Cache-Control = %q", got)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
		})
	}

	t.Run("If-None-Match", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/idp/assets/style.css")
		if err != nil {
			t.Fatal(err)
		}
		drain(t, res)
		req, _ := http.NewRequest("GET", srv.URL+"/idp/assets/style.css", nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		drain(t, res)
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("status = %d, want 304", res.StatusCode)
		}
	})
}

// drain reads and closes a response body, failing the test on error.
func drain(t *testing.T, res *http.Response) []byte {
	t.Helper()
	body, err := io.ReadAll(res.Body)
	if cerr := res.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return body
}

// TestPreview writes every sample page and the static files to the directory
// named by UI_PREVIEW_DIR, for looking at them in a browser:
//
//	UI_PREVIEW_DIR=/tmp/ui go test -run TestPreview ./internal/ui/
//	chromium --headless --screenshot=/tmp/login.png --window-size=390,844 file:///tmp/ui/login.html
func TestPreview(t *testing.T) {
	dir := os.Getenv("UI_PREVIEW_DIR")
	if dir == "" {
		t.Skip("UI_PREVIEW_DIR not set")
	}
	p, err := New("assets") // relative to the HTML files
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, a := range p.assets {
		if err := os.WriteFile(filepath.Join(dir, "assets", name), a.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, page := range samplePages {
		rec := httptest.NewRecorder()
		if err := p.Render(rec, nil, http.StatusOK, page); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".html"), rec.Body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func isElem(tag string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == tag }
}

func findAll(root *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for n := range root.Descendants() {
		if match(n) {
			out = append(out, n)
		}
	}
	return out
}

func byID(root *html.Node, id string) *html.Node {
	if n := findAll(root, func(n *html.Node) bool { return attr(n, "id") == id }); len(n) == 1 {
		return n[0]
	}
	return nil
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	if n == nil {
		return false
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

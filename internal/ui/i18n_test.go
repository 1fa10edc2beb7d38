package ui

import (
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template/parse"

	"golang.org/x/net/html"

	"github.com/caddy-oidc/caddy-oidc/internal/i18n"
)

// templateMessageIDs returns the message IDs the embedded templates pass to
// t, th and tn, failing on a call whose ID is not a literal (it could not be
// checked).
func templateMessageIDs(t *testing.T) map[string]string {
	t.Helper()
	ids := map[string]string{} // ID -> template file
	funcs := map[string]any{"t": true, "th": true, "tn": true}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v", err)
	}
	for _, name := range files {
		src, _ := templateFS.ReadFile(name)
		trees, err := parse.Parse(name, string(src), "", "", funcs, map[string]any{"and": true, "or": true, "ne": true, "not": true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var walk func(n parse.Node)
		walk = func(n parse.Node) {
			switch n := n.(type) {
			case *parse.ListNode:
				if n != nil {
					for _, c := range n.Nodes {
						walk(c)
					}
				}
			case *parse.ActionNode:
				walk(n.Pipe)
			case *parse.PipeNode:
				if n == nil {
					return
				}
				for _, c := range n.Cmds {
					walk(c)
				}
			case *parse.CommandNode:
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok && funcs[id.Ident] != nil {
					s, ok := n.Args[1].(*parse.StringNode)
					if !ok {
						t.Errorf("%s: %s with a message ID that is not a literal: %s", name, id.Ident, n)
						return
					}
					ids[s.Text] = name
				}
				for _, a := range n.Args {
					walk(a)
				}
			case *parse.IfNode:
				walk(n.Pipe)
				walk(n.List)
				walk(n.ElseList)
			case *parse.RangeNode:
				walk(n.Pipe)
				walk(n.List)
				walk(n.ElseList)
			case *parse.WithNode:
				walk(n.Pipe)
				walk(n.List)
				walk(n.ElseList)
			}
		}
		for _, tree := range trees {
			walk(tree.Root)
		}
	}
	return ids
}

// TestTemplateKeys: every message a template uses exists in every built-in
// catalogue, and the passkey script's messages too.
func TestTemplateKeys(t *testing.T) {
	c, err := i18n.New("")
	if err != nil {
		t.Fatal(err)
	}
	ids := templateMessageIDs(t)
	if len(ids) < 60 || ids["common.the_application"] == "" || ids["account.consent_until"] == "" {
		t.Fatalf("found only %d message IDs in the templates, or missed nested ones: the walk is broken", len(ids))
	}
	for _, id := range scriptMessageIDs {
		ids[id] = "static/webauthn.js"
	}
	for id, file := range ids {
		for _, lang := range c.Languages() {
			if !contains(c.Keys(lang), id) {
				t.Errorf("%s uses %q, which %s.toml lacks", file, id, lang)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestTemplatesHaveNoLiteralText: no English text is left in the embedded
// templates, in content or in attributes people read (alt, placeholder,
// title, aria-label). Actions are replaced by a neutral mark first.
func TestTemplatesHaveNoLiteralText(t *testing.T) {
	action := regexp.MustCompile(`(?s){{.*?}}`)
	tag := regexp.MustCompile(`(?s)<[^>]*>`)
	readable := regexp.MustCompile(`(?i)\s(alt|placeholder|title|aria-label)="([^"]*)"`)
	word := regexp.MustCompile(`\p{L}{2,}`)
	files, _ := fs.Glob(templateFS, "templates/*.html")
	for _, name := range files {
		src, _ := templateFS.ReadFile(name)
		s := action.ReplaceAllString(string(src), "·")
		for _, m := range readable.FindAllStringSubmatch(s, -1) {
			if word.MatchString(m[2]) && !regexp.MustCompile(`^[X0-9-]+$`).MatchString(m[2]) { // a code's shape is no text
				t.Errorf("%s: %s=%q is not translated", name, m[1], m[2])
			}
		}
		text := tag.ReplaceAllString(s, " ")
		text = strings.ReplaceAll(text, "&nbsp;", " ")
		if w := word.FindAllString(text, -1); len(w) > 0 {
			t.Errorf("%s: literal text %v is not translated", name, w)
		}
	}
}

func renderFor(t *testing.T, p *Pages, accept, query string, page any) (string, *html.Node) {
	t.Helper()
	r := httptest.NewRequest("GET", "/idp/authorize?"+query, nil)
	if accept != "" {
		r.Header.Set("Accept-Language", accept)
	}
	rec := httptest.NewRecorder()
	if err := p.Render(rec, r, 200, page); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	return rec.Body.String(), doc
}

func htmlAttr(doc *html.Node, name string) string {
	for n := doc.FirstChild; n != nil; n = n.NextSibling {
		if n.Type == html.ElementNode && n.Data == "html" {
			for _, a := range n.Attr {
				if a.Key == name {
					return a.Val
				}
			}
		}
	}
	return ""
}

// TestRenderLanguages: the same page in each built-in language, with the
// html lang and dir attributes and the translated title.
func TestRenderLanguages(t *testing.T) {
	p := newPages(t)
	page := LoginPage{ClientName: "Immich", Action: "/idp/login", CSRFToken: "tok", ReturnTo: "/r", RememberMe: true}
	cases := []struct {
		accept, query, lang, title string
		words                      []string
	}{
		{"", "", "en", "Sign in", []string{"Username", "Password", "Keep me signed in", "to continue to <strong>Immich</strong>"}},
		{"de-DE,de;q=0.9", "", "de", "Anmelden", []string{"Benutzername", "Passwort", "Angemeldet bleiben", "um mit <strong>Immich</strong> fortzufahren"}},
		{"de", "ui_locales=fr", "fr", "Connexion", []string{"Nom d’utilisateur", "Mot de passe", "Rester connecté"}},
		{"es-MX", "", "es", "Iniciar sesión", []string{"Nombre de usuario", "Contraseña", "Mantener la sesión iniciada"}},
	}
	for _, tc := range cases {
		body, doc := renderFor(t, p, tc.accept, tc.query, page)
		if got := htmlAttr(doc, "lang"); got != tc.lang {
			t.Errorf("%s: lang=%q", tc.lang, got)
		}
		if got := htmlAttr(doc, "dir"); got != "ltr" {
			t.Errorf("%s: dir=%q", tc.lang, got)
		}
		if !strings.Contains(body, "<title>"+tc.title+"</title>") {
			t.Errorf("%s: title not %q", tc.lang, tc.title)
		}
		for _, w := range tc.words {
			if !strings.Contains(body, w) {
				t.Errorf("%s: %q missing", tc.lang, w)
			}
		}
		if tc.lang != "en" && strings.Contains(body, "Username") {
			t.Errorf("%s: English left on the page", tc.lang)
		}
	}
	// Values in messages with markup stay escaped.
	body, _ := renderFor(t, p, "de", "", LoginPage{ClientName: xss, Action: "/idp/login"})
	if strings.Contains(body, xss) || !strings.Contains(body, "&lt;script&gt;") {
		t.Error("client name not escaped inside a translated message")
	}
}

// TestRenderRightToLeft: an operator's Arabic catalogue renders with
// dir="rtl", its own texts and English for what it lacks.
func TestRenderRightToLeft(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "locales"), 0o755); err != nil {
		t.Fatal(err)
	}
	ar := "[title]\nlogin = \"تسجيل الدخول\"\n[login]\nheading = \"تسجيل الدخول\"\nusername = \"اسم المستخدم\"\n"
	if err := os.WriteFile(filepath.Join(dir, "locales", "ar.toml"), []byte(ar), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := NewWithOverrides("/assets", dir)
	if err != nil {
		t.Fatal(err)
	}
	body, doc := renderFor(t, p, "ar-EG,ar;q=0.9,en;q=0.5", "", LoginPage{Action: "/login"})
	if htmlAttr(doc, "lang") != "ar" || htmlAttr(doc, "dir") != "rtl" {
		t.Errorf("want lang=ar dir=rtl, got %q %q", htmlAttr(doc, "lang"), htmlAttr(doc, "dir"))
	}
	for _, w := range []string{"<title>تسجيل الدخول</title>", "اسم المستخدم", ">Password<"} {
		if !strings.Contains(body, w) {
			t.Errorf("%q missing", w)
		}
	}
	// The other languages are unaffected.
	if _, doc := renderFor(t, p, "de", "", LoginPage{Action: "/login"}); htmlAttr(doc, "dir") != "ltr" {
		t.Error("German must stay ltr")
	}
}

// TestStyleIsDirectionNeutral: the stylesheet uses logical properties, so a
// right-to-left page mirrors correctly.
func TestStyleIsDirectionNeutral(t *testing.T) {
	css, err := staticFS.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	physical := regexp.MustCompile(`(?m)^[^/*]*\b(margin|padding|border)-(left|right)\b|\bfloat:\s*(left|right)|text-align:\s*(left|right)|\b(left|right):\s`)
	if m := physical.FindAllString(string(css), -1); len(m) > 0 {
		t.Errorf("physical left/right in style.css (use inline-start/end): %q", m)
	}
}

// TestScriptMessages: pages with the passkey script carry its texts in the
// page's language as JSON the script reads.
func TestScriptMessages(t *testing.T) {
	p := newPages(t)
	page := SettingsPage{UserName: "alice", Action: "/s", CSRFToken: "tok", WebAuthnBase: "/api/webauthn"}
	body, doc := renderFor(t, p, "fr", "", page)
	var raw string
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "script" {
			for _, a := range n.Attr {
				if a.Key == "id" && a.Val == "messages" && n.FirstChild != nil {
					raw = n.FirstChild.Data
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	var msgs map[string]string
	if err := json.Unmarshal([]byte(raw), &msgs); err != nil {
		t.Fatalf("messages are not JSON: %v in %s", err, body)
	}
	if msgs["passkey.unsupported_browser"] != "Ce navigateur ne prend pas en charge les clés d’accès." || msgs["passkey.confirm_remove"] == "" {
		t.Errorf("script messages %v", msgs)
	}
	if len(msgs) != len(scriptMessageIDs) {
		t.Errorf("%d script messages, want %d", len(msgs), len(scriptMessageIDs))
	}
}

// TestRenderLanguagesConcurrently: the per-language templates are built
// once and shared safely (run with -race).
func TestRenderLanguagesConcurrently(t *testing.T) {
	p := newPages(t)
	langs := []string{"de", "fr", "es", "en", "de-CH", "fr-BE"}
	done := make(chan string, 24)
	for i := 0; i < cap(done); i++ {
		go func(lang string) {
			r := httptest.NewRequest("GET", "/idp/login", nil)
			r.Header.Set("Accept-Language", lang)
			rec := httptest.NewRecorder()
			if err := p.Render(rec, r, 200, ConsentPage{ClientName: "App", Action: "/c", Scopes: []Scope{{Name: "openid"}}}); err != nil {
				done <- err.Error()
				return
			}
			done <- ""
		}(langs[i%len(langs)])
	}
	for i := 0; i < cap(done); i++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
	if n := len(p.byLang); n != 4 {
		t.Errorf("%d template sets, want one per language (4)", n)
	}
}

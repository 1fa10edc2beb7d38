package i18n

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"golang.org/x/text/language"
)

func mustNew(t *testing.T, dir string) *Catalog {
	t.Helper()
	c, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// placeholders lists what a message fills in ({{.Name}} for Go, {name} for
// the passkey script) and the HTML tags it contains, sorted.
var placeholderRE = regexp.MustCompile(`{{\s*\.[A-Za-z]+\s*}}|{[a-z]+}|</?[a-z]+`)

func placeholders(s string) string {
	found := placeholderRE.FindAllString(s, -1)
	for i, f := range found {
		found[i] = strings.ReplaceAll(f, " ", "")
	}
	sort.Strings(found)
	return strings.Join(found, " ")
}

// rawMessages reads a built-in catalogue as flat ID -> text, plural forms as
// ID.one, ID.other.
func rawMessages(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := localesFS.ReadFile("locales/" + lang + ".toml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				walk(strings.TrimPrefix(prefix+"."+k, "."), vv)
			}
		case string:
			out[prefix] = x
		default:
			t.Fatalf("%s.toml: %s: unexpected %T", lang, prefix, v)
		}
	}
	var m map[string]any
	if err := toml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s.toml: %v", lang, err)
	}
	walk("", m)
	return out
}

// TestCatalogues: every built-in catalogue has exactly the English keys,
// each translated (not empty), with the same placeholders and markup.
func TestCatalogues(t *testing.T) {
	c := mustNew(t, "")
	want := []string{"en", "de", "fr", "es"}
	var got []string
	for _, tag := range c.Languages() {
		got = append(got, tag.String())
	}
	sort.Strings(got)
	sorted := append([]string(nil), want...)
	sort.Strings(sorted)
	if strings.Join(got, ",") != strings.Join(sorted, ",") {
		t.Fatalf("languages %v, want %v", got, want)
	}
	en := rawMessages(t, "en")
	if len(en) < 100 {
		t.Fatalf("only %d English messages: the catalogue did not parse as expected", len(en))
	}
	for _, lang := range want[1:] {
		msgs := rawMessages(t, lang)
		for id, text := range en {
			tr, ok := msgs[id]
			switch {
			case !ok:
				t.Errorf("%s.toml lacks %s (%q)", lang, id, text)
			case strings.TrimSpace(tr) == "":
				t.Errorf("%s.toml: %s is empty", lang, id)
			case placeholders(tr) != placeholders(text):
				t.Errorf("%s.toml: %s has placeholders/markup [%s], English has [%s]", lang, id, placeholders(tr), placeholders(text))
			}
		}
		for id := range msgs {
			if _, ok := en[id]; !ok {
				t.Errorf("%s.toml has %s, which en.toml does not", lang, id)
			}
		}
		// go-i18n saw the same IDs (a reserved key name would hide a table).
		if a, b := len(c.Keys(language.Make(lang))), len(c.Keys(Default)); a != b {
			t.Errorf("%s: go-i18n loaded %d messages, English %d", lang, a, b)
		}
	}
}

// sections are the first parts of the English message IDs.
func sections(c *Catalog) map[string]bool {
	s := map[string]bool{}
	for _, id := range c.Keys(Default) {
		s[strings.SplitN(id, ".", 2)[0]] = true
	}
	return s
}

var idRE = regexp.MustCompile(`^[a-z_]+\.[a-z_]+$`)

// TestCodeKeys: every message ID written in the Go code of the pages, the
// templates' package and the provider exists in every catalogue (a typo
// would show the ID to people).
func TestCodeKeys(t *testing.T) {
	c := mustNew(t, "")
	known := sections(c)
	n := 0
	for _, dir := range []string{"../pages", "../ui", "../provider"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(node ast.Node) bool {
				lit, ok := node.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !idRE.MatchString(s) || !known[strings.SplitN(s, ".", 2)[0]] {
					return true
				}
				n++
				for _, lang := range c.Languages() {
					if !has(c, lang, s) {
						t.Errorf("%s: message %q is not in %s.toml", fset.Position(lit.Pos()), s, lang)
					}
				}
				return true
			})
		}
	}
	if n < 40 {
		t.Fatalf("found only %d message IDs in the code: the scan is broken", n)
	}
}

// has reports whether lang's catalogue defines id, a plural message
// counting as its ID.
func has(c *Catalog, lang language.Tag, id string) bool {
	return c.keys[lang.String()][id]
}

func TestMatch(t *testing.T) {
	c := mustNew(t, "")
	cases := []struct {
		ui, accept, want string
	}{
		{"", "", "en"},
		{"", "de", "de"},
		{"", "de-DE,de;q=0.9,en;q=0.8", "de"},
		{"", "ja,fr-CA;q=0.8", "fr"},
		{"", "en-GB,de;q=0.5", "en"},
		{"fr", "de", "fr"},
		{"ja es", "de", "es"},         // the first supported of ui_locales
		{"ja", "de", "de"},            // none supported: Accept-Language
		{"de-AT", "", "de"},           // a region of a supported language
		{"%%% !", "es;q=0.5", "es"},   // unparsable ui_locales are skipped
		{"", "zz;q=1, *;q=0.1", "en"}, // nothing supported: English
		{"", "not a header", "en"},
	}
	for _, tc := range cases {
		if got := c.Match(tc.ui, tc.accept).String(); got != tc.want {
			t.Errorf("Match(%q, %q) = %s, want %s", tc.ui, tc.accept, got, tc.want)
		}
	}
}

// TestUILocalesCarried: ui_locales is found on the request itself, attached
// by the authorization endpoint, or in the return_to of a page's form.
func TestUILocalesCarried(t *testing.T) {
	c := mustNew(t, "")
	r := httptest.NewRequest("GET", "/authorize?ui_locales=es", nil)
	r.Header.Set("Accept-Language", "de")
	if got := c.ForRequest(r).Lang(); got != "es" {
		t.Errorf("query ui_locales: %s", got)
	}
	r = httptest.NewRequest("GET", "/authorize?request_uri=x", nil)
	r.Header.Set("Accept-Language", "de")
	if got := c.ForRequest(WithUILocales(r, "fr")).Lang(); got != "fr" {
		t.Errorf("attached ui_locales: %s", got)
	}
	if got := c.ForRequest(WithUILocales(r, " ")).Lang(); got != "de" {
		t.Errorf("blank ui_locales should leave Accept-Language: %s", got)
	}
	r = httptest.NewRequest("POST", "/login", strings.NewReader("return_to="+escape("/authorize?client_id=a&ui_locales=fr+de")))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept-Language", "es")
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	if got := c.ForRequest(r).Lang(); got != "fr" {
		t.Errorf("return_to ui_locales: %s", got)
	}
	r = httptest.NewRequest("GET", "/login?return_to="+escape("/authorize?ui_locales=de"), nil)
	if got := c.ForRequest(r).Lang(); got != "de" {
		t.Errorf("GET return_to ui_locales: %s", got)
	}
}

func escape(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "?", "%3F", "=", "%3D", "+", "%2B", " ", "+").Replace(s)
}

func TestLocalizer(t *testing.T) {
	c := mustNew(t, "")
	de := c.Localizer(language.German)
	if got := de.T("login.submit"); got != "Anmelden" {
		t.Errorf("de login.submit = %q", got)
	}
	if got := de.T("error.denied", "Client", "Immich"); got != "Sie können Immich nicht verwenden" {
		t.Errorf("de error.denied = %q", got)
	}
	for n, want := range map[int]string{1: "1 Tag", 30: "30 Tage"} {
		if got := de.N("duration.days", n); got != want {
			t.Errorf("de duration.days %d = %q, want %q", n, got, want)
		}
	}
	fr := c.Localizer(language.French)
	if got := fr.N("duration.hours", 0); got != "0 heure" { // French: 0 is singular
		t.Errorf("fr duration.hours 0 = %q", got)
	}
	if got := de.T("Plain English text."); got != "Plain English text." {
		t.Errorf("text that is no ID must pass through, got %q", got)
	}
	if got := de.T(""); got != "" {
		t.Errorf("empty ID = %q", got)
	}
	if got := string(de.HTML("login.lead", "Client", `<b>"x"&`)); got != "um mit <strong>&lt;b&gt;&#34;x&#34;&amp;</strong> fortzufahren" {
		t.Errorf("HTML must keep the catalogue's markup and escape values, got %q", got)
	}
	if c.Localizer(language.Japanese).Lang() != "en" {
		t.Error("an unsupported language must give English")
	}
	if de.Dir() != "ltr" || Direction(language.Arabic) != "rtl" || Direction(language.Hebrew) != "rtl" || Direction(language.Make("fa")) != "rtl" || Direction(language.Make("ur")) != "rtl" {
		t.Error("wrong text direction")
	}
}

// TestOverrides: an operator's catalogue overrides built-in messages and
// adds languages; what it lacks falls back to English.
func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("de.toml", "[login]\nsubmit = \"Einloggen\"\n")
	write("ar.toml", "[login]\nheading = \"تسجيل الدخول\"\n")
	c := mustNew(t, dir)
	de := c.Localizer(c.Match("", "de"))
	if got := de.T("login.submit"); got != "Einloggen" {
		t.Errorf("overridden de login.submit = %q", got)
	}
	if got := de.T("login.password"); got != "Passwort" {
		t.Errorf("other de messages must stay, got %q", got)
	}
	ar := c.Localizer(c.Match("ar", ""))
	if ar.Lang() != "ar" || ar.Dir() != "rtl" {
		t.Errorf("ar: lang %s dir %s", ar.Lang(), ar.Dir())
	}
	if got := ar.T("login.heading"); got != "تسجيل الدخول" {
		t.Errorf("ar login.heading = %q", got)
	}
	if got := ar.T("login.password"); got != "Password" {
		t.Errorf("missing ar message must fall back to English, got %q", got)
	}

	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "de.toml"), []byte("[login\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), "de.toml") {
		t.Errorf("a broken catalogue must fail naming the file, got %v", err)
	}
	typo := t.TempDir()
	if err := os.WriteFile(filepath.Join(typo, "es.toml"), []byte("[login]\nlead = \"para {{.Client\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(typo); err == nil || !strings.Contains(err.Error(), "login.lead") {
		t.Errorf("a broken placeholder must fail naming the message, got %v", err)
	}
	mixed := t.TempDir()
	if err := os.WriteFile(filepath.Join(mixed, "fr.toml"), []byte("[login]\nother = \"x\"\nsubmit = \"y\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(mixed); err == nil {
		t.Error("a table mixing a reserved key (other) with messages must be refused")
	}
	if _, err := New(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing locales dir is fine: %v", err)
	}
}

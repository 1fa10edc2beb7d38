package caddyoidc_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const i18nClient = `
		client lang-app {
			client_secret {env.LANG_APP_SECRET}
			redirect_uris https://app.example.com/cb
			scopes openid profile
		}`

// TestPagesLanguageCatalogues: templates_dir/locales/<lang>.toml adds a
// right-to-left language and overrides a built-in text in a running Caddy,
// and a broken catalogue stops the config from loading, naming the file.
func TestPagesLanguageCatalogues(t *testing.T) {
	t.Setenv("LANG_APP_SECRET", "lang-app-secret-0123456789")
	dir := t.TempDir()
	locales := filepath.Join(dir, "locales")
	if err := os.MkdirAll(locales, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(locales, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ar.toml", "[title]\nlogin = \"تسجيل الدخول\"\n[login]\nusername = \"اسم المستخدم\"\n")
	write("de.toml", "[login]\nsubmit = \"Einloggen\"\n")
	e := newEnv(t, i18nClient)
	e.extra = "\t\ttemplates_dir " + dir
	e.start()

	authURL := e.issuer + "/api/oidc/authorization?" + url.Values{"client_id": {"lang-app"}, "redirect_uri": {"https://app.example.com/cb"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"state-123456"}, "ui_locales": {"ar"}}.Encode()
	get := func(u, acceptLanguage string) page {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if acceptLanguage != "" {
			req.Header.Set("Accept-Language", acceptLanguage)
		}
		return newBrowser(t, e.issuer).do(req)
	}
	p := get(authURL, "de")
	for _, want := range []string{`<html lang="ar" dir="rtl">`, "<title>تسجيل الدخول</title>", `<label for="username">اسم المستخدم</label>`, `<label for="password">Password</label>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("Arabic login page lacks %q: %d %.500s", want, p.status, p.body)
		}
	}
	p = get(strings.Replace(authURL, "ui_locales=ar", "ui_locales=", 1), "de-CH, en;q=0.5")
	for _, want := range []string{`<html lang="de" dir="ltr">`, ">Einloggen</button>", `<label for="username">Benutzername</label>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("German login page lacks %q: %d %.500s", want, p.status, p.body)
		}
	}

	write("fr.toml", "[login\nsubmit = \"x\"\n")
	if err := e.load(); err == nil || !strings.Contains(err.Error(), "fr.toml") {
		t.Errorf("a broken catalogue must fail the load naming the file, got %v", err)
	}
}

// TestPagesLanguageInChromium: a German browser gets the German login page
// laid out left to right; ui_locales=ar with an operator's Arabic catalogue
// gets it mirrored (testdata/clients/languages.mjs).
func TestPagesLanguageInChromium(t *testing.T) {
	needTool(t, "chromium")
	needTool(t, "node")
	t.Setenv("LANG_APP_SECRET", "lang-app-secret-0123456789")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "locales"), 0o755); err != nil {
		t.Fatal(err)
	}
	ar := "[title]\nlogin = \"تسجيل الدخول\"\n[login]\nheading = \"تسجيل الدخول\"\nusername = \"اسم المستخدم\"\npassword = \"كلمة المرور\"\n" +
		"error_credentials = \"اسم المستخدم أو كلمة المرور غير صحيحة.\"\n"
	if err := os.WriteFile(filepath.Join(dir, "locales", "ar.toml"), []byte(ar), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, i18nClient)
	e.extra = "\t\ttemplates_dir " + dir
	e.start()
	artifacts := artifactsDir(t)
	out := script(t, "languages.mjs", map[string]string{
		"AUTH_URL": e.issuer + "/api/oidc/authorization?" + url.Values{"client_id": {"lang-app"}, "redirect_uri": {"https://app.example.com/cb"},
			"response_type": {"code"}, "scope": {"openid"}, "state": {"state-123456"}}.Encode(),
		"ARTIFACTS_DIR": artifacts,
	})
	t.Logf("screenshots in %s", artifacts)
	if errs := strs(out, "console_errors"); len(errs) > 0 {
		t.Errorf("the browser reported errors: %q", errs)
	}
	de := as[map[string]any](t, out["de"])
	want := map[string]any{"lang": "de", "dir": "ltr", "computed_direction": "ltr", "title": "Anmelden", "username_label": "Benutzername",
		"alert": "Benutzername oder Passwort ist falsch.", "alert_border_left": "4px", "alert_border_right": "1px"}
	for k, v := range want {
		if de[k] != v {
			t.Errorf("German page: %s = %v, want %v", k, de[k], v)
		}
	}
	arOut := as[map[string]any](t, out["ar"])
	want = map[string]any{"lang": "ar", "dir": "rtl", "computed_direction": "rtl", "title": "تسجيل الدخول", "username_label": "اسم المستخدم",
		"alert": "اسم المستخدم أو كلمة المرور غير صحيحة.", "alert_border_left": "1px", "alert_border_right": "4px"}
	for k, v := range want {
		if arOut[k] != v {
			t.Errorf("Arabic page: %s = %v, want %v", k, arOut[k], v)
		}
	}
	// The heading starts at the card's start edge: left in German, right in Arabic.
	gapLeft, _ := de["h1_gap_left"].(float64)
	gapRight, _ := de["h1_gap_right"].(float64)
	if gl, gr := gapLeft, gapRight; gl >= gr {
		t.Errorf("German heading not at the left: gaps %v / %v", gl, gr)
	}
	gapLeft, _ = arOut["h1_gap_left"].(float64)
	gapRight, _ = arOut["h1_gap_right"].(float64)
	if gl, gr := gapLeft, gapRight; gr >= gl {
		t.Errorf("Arabic heading not at the right: gaps %v / %v", gl, gr)
	}
}

package provider

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// i18nPage is one page fetched over HTTP.
type i18nPage struct {
	status  int
	body    string
	cookies []*http.Cookie
}

// fetchPage sends a request to the provider over a real connection;
// cookies are passed by hand (they are Secure, for the https issuer).
func fetchPage(t *testing.T, srv *httptest.Server, method, path, acceptLanguage string, form url.Values, cookies []*http.Cookie) i18nPage {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return i18nPage{status: resp.StatusCode, body: string(b), cookies: resp.Cookies()}
}

var htmlOpen = regexp.MustCompile(`<html lang="([^"]*)" dir="([^"]*)">`)

func (pg i18nPage) lang(t *testing.T) (lang, dir string) {
	t.Helper()
	m := htmlOpen.FindStringSubmatch(pg.body)
	if m == nil {
		t.Fatalf("no <html lang dir> in %d %.400s", pg.status, pg.body)
	}
	return m[1], m[2]
}

func hiddenInput(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no hidden input %s in %.400s", name, body)
	}
	return html.UnescapeString(m[1])
}

// TestPagesLanguage: the login page speaks German to a German browser and
// French when the application asks for ui_locales=fr, and keeps French
// through the login form's round trip, through PAR and on error pages.
func TestPagesLanguage(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	srv := httptest.NewServer(tp)
	defer srv.Close()
	q := url.Values{"client_id": {"app"}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"state-123456"}, "nonce": {"nonce-123456"}}
	authorize := func(extra url.Values) string {
		v := url.Values{}
		for k, x := range q {
			v[k] = x
		}
		for k, x := range extra {
			v[k] = x
		}
		return pathAuthorize + "?" + v.Encode()
	}

	// Accept-Language: de.
	pg := fetchPage(t, srv, http.MethodGet, authorize(nil), "de-DE,de;q=0.9,en;q=0.5", nil, nil)
	if lang, dir := pg.lang(t); pg.status != 200 || lang != "de" || dir != "ltr" {
		t.Fatalf("Accept-Language de: %d lang=%s dir=%s", pg.status, lang, dir)
	}
	for _, w := range []string{"<title>Anmelden</title>", `<label for="username">Benutzername</label>`, `<label for="password">Passwort</label>`, `<button type="submit" class="primary">Anmelden</button>`} {
		if !strings.Contains(pg.body, w) {
			t.Errorf("German login page lacks %q", w)
		}
	}
	if strings.Contains(pg.body, "Username") {
		t.Error("English left on the German login page")
	}

	// No preference: English.
	if lang, _ := fetchPage(t, srv, http.MethodGet, authorize(nil), "", nil, nil).lang(t); lang != "en" {
		t.Errorf("no preference: lang=%s, want en", lang)
	}

	// ui_locales=fr wins over Accept-Language.
	pg = fetchPage(t, srv, http.MethodGet, authorize(url.Values{"ui_locales": {"fr-CA fr"}}), "de", nil, nil)
	if lang, _ := pg.lang(t); lang != "fr" || !strings.Contains(pg.body, "<title>Connexion</title>") || !strings.Contains(pg.body, "Nom d’utilisateur") {
		t.Fatalf("ui_locales=fr: lang=%s %.600s", lang, pg.body)
	}

	// The form keeps the language: a wrong password is answered in French
	// although the browser prefers German.
	form := url.Values{
		"csrf_token": {hiddenInput(t, pg.body, "csrf_token")},
		"return_to":  {hiddenInput(t, pg.body, "return_to")},
		"username":   {"alice"}, "password": {"wrong"},
	}
	res := fetchPage(t, srv, http.MethodPost, "/login", "de", form, pg.cookies)
	if lang, _ := res.lang(t); res.status != http.StatusUnauthorized || lang != "fr" || !strings.Contains(res.body, "Nom d’utilisateur ou mot de passe incorrect.") {
		t.Fatalf("failed login: %d lang=%s %.600s", res.status, lang, res.body)
	}
	// ... and a stale form gets a French error page.
	form.Set("csrf_token", "stale")
	res = fetchPage(t, srv, http.MethodPost, "/login", "de", form, pg.cookies)
	if lang, _ := res.lang(t); res.status != http.StatusForbidden || lang != "fr" || !strings.Contains(res.body, "Votre session a changé") {
		t.Errorf("stale form: %d lang=%s %.600s", res.status, lang, res.body)
	}

	// Signing in continues to the consent page, still in French.
	form.Set("csrf_token", hiddenInput(t, pg.body, "csrf_token"))
	form.Set("password", "pw")
	res = fetchPage(t, srv, http.MethodPost, "/login", "de", form, pg.cookies)
	if lang, _ := res.lang(t); res.status != 200 || lang != "fr" || !strings.Contains(res.body, "Autoriser l’accès ?") || !strings.Contains(res.body, "Vous connecter avec votre compte") {
		t.Errorf("consent page: %d lang=%s %.800s", res.status, lang, res.body)
	}

	// PAR: ui_locales pushed with the request applies to the login page
	// although the browser's URL carries only request_uri.
	uri := tp.pushFor("par-app", "par-secret", "https://par.example/cb", url.Values{"ui_locales": {"es"}})
	pg = fetchPage(t, srv, http.MethodGet, pathAuthorize+"?"+url.Values{"client_id": {"par-app"}, "request_uri": {uri}}.Encode(), "de", nil, nil)
	if lang, _ := pg.lang(t); pg.status != 200 || lang != "es" || !strings.Contains(pg.body, "Nombre de usuario") {
		t.Errorf("PAR with ui_locales=es: %d lang=%s %.600s", pg.status, lang, pg.body)
	}

	// RP-initiated logout has ui_locales too (GET, and POST forms).
	pg = fetchPage(t, srv, http.MethodGet, pathEndSession+"?ui_locales=fr", "de", nil, nil)
	if lang, _ := pg.lang(t); lang != "fr" || !strings.Contains(pg.body, "Vous n’êtes pas connecté.") {
		t.Errorf("end_session?ui_locales=fr: lang=%s %.600s", lang, pg.body)
	}
	pg = fetchPage(t, srv, http.MethodPost, pathEndSession, "de", url.Values{"ui_locales": {"es"}}, nil)
	if lang, _ := pg.lang(t); lang != "es" || !strings.Contains(pg.body, "No has iniciado sesión.") {
		t.Errorf("POST end_session ui_locales=es: lang=%s %.600s", lang, pg.body)
	}

	// Discovery lists the languages.
	disc := fetchPage(t, srv, http.MethodGet, "/.well-known/openid-configuration", "", nil, nil)
	if !strings.Contains(disc.body, `"ui_locales_supported":["en","de","es","fr"]`) {
		t.Errorf("discovery: %.2000s", disc.body)
	}

	// Error pages too: an unknown client, in Spanish.
	pg = fetchPage(t, srv, http.MethodGet, pathAuthorize+"?"+url.Values{"client_id": {"nobody"}, "ui_locales": {"es"}}.Encode(), "", nil, nil)
	if lang, _ := pg.lang(t); pg.status != http.StatusBadRequest || lang != "es" || !strings.Contains(pg.body, "Este enlace de inicio de sesión no es válido") {
		t.Errorf("unknown client: %d lang=%s %.600s", pg.status, lang, pg.body)
	}
}

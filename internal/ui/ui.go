// Package ui renders the provider's HTML pages (login, consent, logout and
// error) from embedded templates, and serves their embedded stylesheet.
//
// The pages use no JavaScript, no inline styles and no external resources, so
// they work under the strict Content-Security-Policy that Render sets.
package ui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/caddy-oidc/caddy-oidc/internal/i18n"
	"golang.org/x/text/language"
)

//go:embed templates/*.html
var templateFS embed.FS

// contentSecurityPolicy is sent with every page. There is deliberately no
// form-action: browsers apply it to the redirects that follow a POST, and those
// must reach the client's redirect URI.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

// scriptContentSecurityPolicy is sent with pages that offer passkeys: the
// script comes only from our own assets and talks only to us; there is no
// inline script anywhere.
const scriptContentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

// Pages renders the provider's pages.
type Pages struct {
	pages    map[string]*template.Template // page template name -> layout+page set
	assets   map[string]asset              // file name -> embedded static file
	styleURL string                        // href of style.css, with a version query
	iconURL  string                        // href of icon.svg, with a version query
	jsURL    string                        // src of webauthn.js, with a version query

	// pages are prototypes, never executed: each language gets clones
	// whose t, th and tn speak it.
	catalog *i18n.Catalog
	mu      sync.Mutex
	byLang  map[language.Tag]map[string]*template.Template
}

// view is what the layout template sees.
type view struct {
	Title     string
	StyleURL  string
	IconURL   string
	ScriptURL string // set for pages that use passkeys
	CSRFToken string // for the script's requests
	APIBase   string // the WebAuthn endpoints, for the script
	Page      any

	Lang string // <html lang>
	Dir  string // <html dir>: ltr or rtl
	// ScriptMessages are the passkey script's texts in the page's language.
	ScriptMessages map[string]string
}

// pageNames are the page templates, each rendered inside the layout.
var pageNames = []string{"login", "consent", "logout", "error", "second_factor", "totp_enroll", "settings", "code", "device", "recovery_codes", "confirm"}

// New parses the embedded templates. assetPath is the URL path under which
// AssetHandler is mounted (e.g. "/idp/assets"), used in <link> hrefs.
func New(assetPath string) (*Pages, error) {
	return NewWithOverrides(assetPath, "")
}

// NewWithOverrides is New, with templates taken from dir where it has a file
// of the same name (layout.html, login.html, consent.html, logout.html,
// error.html, second_factor.html, totp_enroll.html, settings.html,
// code.html, device.html, recovery_codes.html, confirm.html), for branding, and message catalogues from
// dir/locales/<lang>.toml (package i18n). Each override must define the same template ("layout" or
// "content") as the file it replaces; the page data is documented on the
// page types, and the functions t, th and tn translate (package i18n). An
// empty dir uses only the embedded templates and catalogues.
func NewWithOverrides(assetPath, dir string) (*Pages, error) {
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	localesDir := ""
	if dir != "" {
		localesDir = filepath.Join(dir, "locales")
	}
	catalog, err := i18n.New(localesDir)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	read := func(name string) ([]byte, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("ui: template override %s: %w", name, err)
			}
		}
		return templateFS.ReadFile("templates/" + name)
	}
	layout, err := read("layout.html")
	if err != nil {
		return nil, err
	}
	base, err := template.New("layout.html").Funcs(i18n.Funcs(nil)).Parse(string(layout))
	if err != nil {
		return nil, fmt.Errorf("ui: layout template: %w", err)
	}
	p := &Pages{
		pages:    make(map[string]*template.Template),
		catalog:  catalog,
		byLang:   make(map[language.Tag]map[string]*template.Template),
		assets:   assets,
		styleURL: assetURL(assetPath, assets, "style.css"),
		iconURL:  assetURL(assetPath, assets, "icon.svg"),
		jsURL:    assetURL(assetPath, assets, "webauthn.js"),
	}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("ui: %s template: %w", name, err)
		}
		src, err := read(name + ".html")
		if err != nil {
			return nil, err
		}
		if _, err := t.New(name + ".html").Parse(string(src)); err != nil {
			return nil, fmt.Errorf("ui: %s template: %w", name, err)
		}
		p.pages[name] = t
	}
	return p, nil
}

// assetURL joins the mount path and a file name, and appends a content hash
// so that a new release is not hidden behind the day-long asset cache.
func assetURL(assetPath string, assets map[string]asset, name string) string {
	return strings.TrimRight(assetPath, "/") + "/" + name + "?v=" + assets[name].version
}

// Render writes page with the given HTTP status. page is one of the *Page types
// below (pointer or value). It sets: Content-Type text/html; charset=utf-8,
// Cache-Control: no-store, Pragma: no-cache, Referrer-Policy: same-origin
// (no Referer leaves our origin, and the browser sends our real Origin with
// our own forms, which the CSRF check requires: with no-referrer it would
// send "Origin: null"),
// X-Content-Type-Options: nosniff, X-Frame-Options: DENY, and
// Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'
// (no form-action: browsers apply it to the redirect chain after a POST, which
// must reach the client's redirect URI). It renders into a buffer first so a
// template error yields a plain 500 text without partial HTML, and returns the error.
//
// A status of 0 means 200. When Render returns an error the response has been
// written (the plain 500, or the page to a client that went away); the caller
// should only log the error. Pages is safe for concurrent use.
//
// The page is in the language of r (see Localizer); r may be nil (English).
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, status int, page any) error {
	body, script, err := p.render(p.Localizer(r), status, page)
	if err != nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return err
	}
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	if script {
		h.Set("Content-Security-Policy", scriptContentSecurityPolicy)
	} else {
		h.Set("Content-Security-Policy", contentSecurityPolicy)
	}
	if src := frameSrc(page); src != "" {
		h.Set("Content-Security-Policy", h.Get("Content-Security-Policy")+"; frame-src "+src)
	}
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err // only a client gone away; nothing more can be sent
}

// Catalog is the message catalogue the pages are translated with.
func (p *Pages) Catalog() *i18n.Catalog { return p.catalog }

// Localizer is the language of the pages answering r: the ui_locales of its
// authorization request, else its Accept-Language, else English. A nil r is
// English.
func (p *Pages) Localizer(r *http.Request) *i18n.Localizer {
	if r == nil {
		return p.catalog.Localizer(i18n.Default)
	}
	return p.catalog.ForRequest(r)
}

// templates returns the page templates bound to loc's language, cloning
// them from the prototypes on first use (there are few languages).
func (p *Pages) templates(loc *i18n.Localizer) (map[string]*template.Template, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if set, ok := p.byLang[loc.Tag()]; ok {
		return set, nil
	}
	set := make(map[string]*template.Template, len(p.pages))
	for name, proto := range p.pages {
		t, err := proto.Clone()
		if err != nil {
			return nil, fmt.Errorf("ui: %s template: %w", name, err)
		}
		set[name] = t.Funcs(i18n.Funcs(loc))
	}
	p.byLang[loc.Tag()] = set
	return set, nil
}

// scriptMessageIDs are the passkey script's texts (static/webauthn.js).
var scriptMessageIDs = []string{
	"passkey.cancelled", "passkey.exists", "passkey.insecure", "passkey.unsupported_device",
	"passkey.unreachable", "passkey.failed", "passkey.unsupported_browser", "passkey.refused",
	"passkey.confirm_remove", "passkey.unnamed", "passkey.none_login", "passkey.none_2fa",
}

// render executes page's template into memory.
func (p *Pages) render(loc *i18n.Localizer, status int, page any) ([]byte, bool, error) {
	if status != 0 && (status < 100 || status > 999) {
		return nil, false, fmt.Errorf("ui: invalid HTTP status %d", status)
	}
	name, title, data, err := describe(page)
	if err != nil {
		return nil, false, err
	}
	set, err := p.templates(loc)
	if err != nil {
		return nil, false, err
	}
	var buf bytes.Buffer
	v := view{Title: loc.T(title), Lang: loc.Lang(), Dir: loc.Dir(), StyleURL: p.styleURL, IconURL: p.iconURL, Page: data}
	if csrf, api, ok := scriptInfo(data); ok {
		v.ScriptURL, v.CSRFToken, v.APIBase = p.jsURL, csrf, api
		v.ScriptMessages = make(map[string]string, len(scriptMessageIDs))
		for _, id := range scriptMessageIDs {
			v.ScriptMessages[id] = loc.T(id)
		}
	}
	if err := set[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		return nil, false, fmt.Errorf("ui: render %s page: %w", name, err)
	}
	return buf.Bytes(), v.ScriptURL != "", nil
}

var errNilPage = errors.New("ui: nil page")

// describe maps a page value to its template name, its <title> (a message
// ID, or the ErrorPage's own title) and the value
// the template sees (always a pointer).
func describe(page any) (name, title string, data any, err error) {
	switch pg := page.(type) {
	case LoginPage:
		return describe(&pg)
	case ConsentPage:
		return describe(&pg)
	case LogoutPage:
		return describe(&pg)
	case ErrorPage:
		return describe(&pg)
	case SecondFactorPage:
		return describe(&pg)
	case TOTPEnrollPage:
		return describe(&pg)
	case SettingsPage:
		return describe(&pg)
	case CodePage:
		return describe(&pg)
	case DevicePage:
		return describe(&pg)
	case RecoveryCodesPage:
		return describe(&pg)
	case ConfirmPage:
		return describe(&pg)
	case *ConfirmPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "confirm", "stepup.confirm_title", pg, nil
	case *RecoveryCodesPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "recovery_codes", "title.recovery_codes", pg, nil
	case *DevicePage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		if pg.Done {
			return "device", "title.device_done", pg, nil
		}
		return "device", "title.device", pg, nil
	case *CodePage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "code", "title.code", pg, nil
	case *SecondFactorPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "second_factor", "title.second_factor", pg, nil
	case *TOTPEnrollPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "totp_enroll", "title.totp_enroll", pg, nil
	case *SettingsPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "settings", "title.settings", pg, nil
	case *LoginPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "login", "title.login", pg, nil
	case *ConsentPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "consent", "title.consent", pg, nil
	case *LogoutPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		if pg.Done {
			return "logout", "title.logged_out", pg, nil
		}
		return "logout", "title.logout", pg, nil
	case *ErrorPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		if pg.Title == "" {
			return "error", "title.error", pg, nil
		}
		return "error", pg.Title, pg, nil
	default:
		return "", "", nil, fmt.Errorf("ui: unknown page type %T", page)
	}
}

// scriptInfo tells whether a page uses the passkey script, and what the
// script needs to know.
func scriptInfo(data any) (csrf, api string, ok bool) {
	switch pg := data.(type) {
	case *LoginPage:
		return pg.CSRFToken, pg.WebAuthnBase, pg.Passkeys && pg.WebAuthnBase != ""
	case *SecondFactorPage:
		return pg.CSRFToken, pg.WebAuthnBase, pg.Passkeys && pg.WebAuthnBase != ""
	case *SettingsPage:
		return pg.CSRFToken, pg.WebAuthnBase, pg.WebAuthnBase != ""
	}
	return "", "", false
}

// frameSrc is the frame-src of a page that frames other origins (the
// signed-out page's front-channel logout iframes): exactly those origins,
// "" for every other page.
func frameSrc(page any) string {
	var f interface{ frameSources() []string }
	switch pg := page.(type) {
	case LogoutPage:
		f = &pg
	case *LogoutPage:
		if pg == nil {
			return ""
		}
		f = pg
	default:
		return ""
	}
	var out []string
	for _, o := range f.frameSources() {
		// Origins come from validated client configuration; anything that
		// could break out of the directive is left out all the same.
		if o != "" && !strings.ContainsAny(o, " ;,'\"\r\n") {
			out = append(out, o)
		}
	}
	return strings.Join(out, " ")
}

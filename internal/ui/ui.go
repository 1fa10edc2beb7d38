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
}

// pageNames are the page templates, each rendered inside the layout.
var pageNames = []string{"login", "consent", "logout", "error", "second_factor", "totp_enroll", "settings", "code", "device"}

// New parses the embedded templates. assetPath is the URL path under which
// AssetHandler is mounted (e.g. "/idp/assets"), used in <link> hrefs.
func New(assetPath string) (*Pages, error) {
	return NewWithOverrides(assetPath, "")
}

// NewWithOverrides is New, with templates taken from dir where it has a file
// of the same name (layout.html, login.html, consent.html, logout.html,
// error.html, second_factor.html, totp_enroll.html, settings.html,
// code.html, device.html), for
// branding. Each override must define the same template ("layout" or
// "content") as the file it replaces; the page data is documented on the
// page types. An empty dir uses only the embedded templates.
func NewWithOverrides(assetPath, dir string) (*Pages, error) {
	assets, err := loadAssets()
	if err != nil {
		return nil, err
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
	base, err := template.New("layout.html").Parse(string(layout))
	if err != nil {
		return nil, fmt.Errorf("ui: layout template: %w", err)
	}
	p := &Pages{
		pages:    make(map[string]*template.Template),
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
func (p *Pages) Render(w http.ResponseWriter, status int, page any) error {
	body, script, err := p.render(status, page)
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
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err // only a client gone away; nothing more can be sent
}

// render executes page's template into memory.
func (p *Pages) render(status int, page any) ([]byte, bool, error) {
	if status != 0 && (status < 100 || status > 999) {
		return nil, false, fmt.Errorf("ui: invalid HTTP status %d", status)
	}
	name, title, data, err := describe(page)
	if err != nil {
		return nil, false, err
	}
	var buf bytes.Buffer
	v := view{Title: title, StyleURL: p.styleURL, IconURL: p.iconURL, Page: data}
	if csrf, api, ok := scriptInfo(data); ok {
		v.ScriptURL, v.CSRFToken, v.APIBase = p.jsURL, csrf, api
	}
	if err := p.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		return nil, false, fmt.Errorf("ui: render %s page: %w", name, err)
	}
	return buf.Bytes(), v.ScriptURL != "", nil
}

var errNilPage = errors.New("ui: nil page")

// describe maps a page value to its template name, its <title> and the value
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
	case *DevicePage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		if pg.Done {
			return "device", "Device sign-in", pg, nil
		}
		return "device", "Connect a device", pg, nil
	case *CodePage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "code", "Copy this code", pg, nil
	case *SecondFactorPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "second_factor", "Confirm it's you", pg, nil
	case *TOTPEnrollPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "totp_enroll", "Set up an authenticator app", pg, nil
	case *SettingsPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "settings", "Security settings", pg, nil
	case *LoginPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "login", "Sign in", pg, nil
	case *ConsentPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		return "consent", "Allow access", pg, nil
	case *LogoutPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		if pg.Done {
			return "logout", "Signed out", pg, nil
		}
		return "logout", "Sign out", pg, nil
	case *ErrorPage:
		if pg == nil {
			return "", "", nil, errNilPage
		}
		if pg.Title == "" {
			return "error", "Something went wrong", pg, nil
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

// Package i18n holds the message catalogues of the pages people see (login,
// consent, second factor, settings, sign-out, errors) and picks the language
// of each request: the authorization request's ui_locales first, then the
// browser's Accept-Language, then English.
//
// Catalogues are TOML files, one per language (locales/en.toml, de.toml, …),
// embedded in the binary; an operator adds or overrides them with
// <templates_dir>/locales/<lang>.toml. A message missing from a catalogue
// falls back to English.
//
// How to add a string (mechanical; do this for every user-facing text):
//
//  1. Pick an ID "<page>.<key>" (two parts, lower case and _), e.g.
//     "device.heading", and add it with its English text to locales/en.toml
//     in the table of its page ([device] heading = "…"), then to de.toml,
//     fr.toml and es.toml (TestCatalogues fails until every catalogue has
//     every English key, with the same placeholders and markup). Never name
//     a key one, other, zero, two, few, many, id, hash, description,
//     translation, leftDelim or rightDelim: go-i18n reserves them.
//  2. In a template write {{t "device.heading"}}; with values, pass
//     name/value pairs: {{t "consent.remember" "Duration" .RememberFor}} and
//     {{.Duration}} in the message. For a message with markup (<strong>) use
//     th: the message's HTML is kept, the values are escaped. Attributes
//     people read (alt, placeholder, title, aria-label) too.
//     TestTemplatesHaveNoLiteralText (package ui) fails on English left in
//     a template.
//  3. A new page type in package ui: its <title> in describe() is an ID
//     too ("title.device", in the [title] table).
//  4. In Go, translate before filling a page: loc := pages.Localizer(r),
//     then loc.T("device.expired"). Pages.RenderError, RenderFailure,
//     RenderLogin's msg, SecondFactorStep's msg and formOK's retry take IDs
//     (plain text is shown as it is, in English) and translate themselves.
//     The render functions take the request: Render(w, r, status, page),
//     RenderError(w, r, status, titleID, descID, code),
//     RenderFailure(w, r, err, descID); ui.Pages.Render(w, r, status, page).
//  5. Counts: loc.N("duration.days", n) with one/other (and, per CLDR, the
//     language's other) forms in the catalogue; {{.Count}} is the number.
//
// TestTemplateKeys (package ui) and TestCodeKeys check that every ID used
// in the templates and in the Go code of pages, ui and provider exists in
// every catalogue.
package i18n

import (
	"context"
	"embed"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	texttemplate "text/template"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed locales/*.toml
var localesFS embed.FS

// Default is the language of the built-in texts and the fallback of every
// other catalogue.
var Default = language.English

// Catalog is the set of message catalogues. It is safe for concurrent use.
type Catalog struct {
	bundle  *goi18n.Bundle
	tags    []language.Tag // supported languages, Default first
	matcher language.Matcher
	keys    map[string]map[string]bool // language -> message IDs it defines

	mu   sync.Mutex
	locs map[language.Tag]*Localizer
}

// New loads the embedded catalogues and then, when dir is not empty, every
// <dir>/*.toml file, whose messages override or add to the built-in ones (a
// missing dir is fine).
func New(dir string) (*Catalog, error) {
	c := &Catalog{
		bundle: goi18n.NewBundle(Default),
		keys:   make(map[string]map[string]bool),
		locs:   make(map[language.Tag]*Localizer),
	}
	c.bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	embedded, err := fs.Glob(localesFS, "locales/*.toml")
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	sort.Strings(embedded)
	for _, name := range embedded {
		b, err := localesFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		if err := c.add(b, name); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		sort.Strings(files)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("i18n: catalogue %s: %w", name, err)
			}
			if err := c.add(b, name); err != nil {
				return nil, err
			}
		}
	}
	c.tags = []language.Tag{Default}
	for _, t := range c.bundle.LanguageTags() {
		if t != Default {
			c.tags = append(c.tags, t)
		}
	}
	c.matcher = language.NewMatcher(c.tags)
	return c, nil
}

// add parses one catalogue file; its language comes from its name (de.toml).
func (c *Catalog) add(b []byte, name string) error {
	mf, err := c.bundle.ParseMessageFileBytes(b, filepath.Base(name))
	if err != nil {
		return fmt.Errorf("i18n: catalogue %s: %w", name, err)
	}
	if mf.Tag == language.Und {
		return fmt.Errorf("i18n: catalogue %s: name it after its language, e.g. de.toml", name)
	}
	k := c.keys[mf.Tag.String()]
	if k == nil {
		k = make(map[string]bool)
		c.keys[mf.Tag.String()] = k
	}
	for _, m := range mf.Messages {
		// A placeholder typo must fail the load, not show the ID later.
		for _, text := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
			if _, err := texttemplate.New(m.ID).Parse(text); err != nil {
				return fmt.Errorf("i18n: catalogue %s: message %s: %w", name, m.ID, err)
			}
		}
		k[m.ID] = true
	}
	return nil
}

// Languages lists the supported languages, English first.
func (c *Catalog) Languages() []language.Tag { return append([]language.Tag(nil), c.tags...) }

// Keys returns the message IDs the catalogue of lang defines itself (without
// the English fallback), sorted.
func (c *Catalog) Keys(lang language.Tag) []string {
	var ids []string
	for id := range c.keys[lang.String()] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Has reports whether the English catalogue defines id.
func (c *Catalog) Has(id string) bool { return c.keys[Default.String()][id] }

// Match picks the language for a ui_locales value (space-separated BCP 47
// tags, in order of preference; RFC: OpenID Connect Core 3.1.2.1) and an
// Accept-Language header: the first supported language of ui_locales, else
// the best of Accept-Language, else English.
func (c *Catalog) Match(uiLocales, acceptLanguage string) language.Tag {
	for _, s := range strings.Fields(uiLocales) {
		t, err := language.Parse(s)
		if err != nil {
			continue
		}
		if _, i, conf := c.matcher.Match(t); conf > language.No {
			return c.tags[i]
		}
	}
	if acceptLanguage != "" {
		if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
			if _, i, conf := c.matcher.Match(tags...); conf > language.No {
				return c.tags[i]
			}
		}
	}
	return Default
}

type ctxKey struct{}

// WithUILocales returns r with the authorization request's ui_locales
// attached, so that pages rendered for it use that language. An empty value
// returns r unchanged.
func WithUILocales(r *http.Request, uiLocales string) *http.Request {
	if strings.TrimSpace(uiLocales) == "" {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, uiLocales))
}

// UILocales finds the ui_locales that apply to r: attached by
// WithUILocales, in r's query (or form, once parsed), or in the query of
// the authorization request its return_to leads back to (so the whole flow
// keeps the language).
func UILocales(r *http.Request) string {
	if v, ok := r.Context().Value(ctxKey{}).(string); ok {
		return v
	}
	q := r.URL.Query()
	if r.Form != nil {
		q = r.Form
	}
	if v := q.Get("ui_locales"); v != "" {
		return v
	}
	returnTo := q.Get("return_to")
	if returnTo == "" && r.PostForm != nil {
		returnTo = r.PostForm.Get("return_to")
	}
	if returnTo != "" {
		if u, err := url.Parse(returnTo); err == nil {
			return u.Query().Get("ui_locales")
		}
	}
	return ""
}

// ForRequest is the localizer for r's language (see Match and UILocales).
func (c *Catalog) ForRequest(r *http.Request) *Localizer {
	return c.Localizer(c.Match(UILocales(r), r.Header.Get("Accept-Language")))
}

// Localizer returns the localizer of a supported language (English for any
// other).
func (c *Catalog) Localizer(lang language.Tag) *Localizer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.locs[lang]; ok {
		return l
	}
	supported := false
	for _, t := range c.tags {
		supported = supported || t == lang
	}
	if !supported {
		lang = Default
		if l, ok := c.locs[lang]; ok {
			return l
		}
	}
	l := &Localizer{tag: lang, loc: goi18n.NewLocalizer(c.bundle, lang.String())}
	c.locs[lang] = l
	return l
}

// Localizer translates messages into one language.
type Localizer struct {
	tag language.Tag
	loc *goi18n.Localizer
}

// Tag is the localizer's language.
func (l *Localizer) Tag() language.Tag { return l.tag }

// Lang is the value for <html lang>.
func (l *Localizer) Lang() string { return l.tag.String() }

// Dir is the value for <html dir>: "rtl" for languages written right to
// left (Arabic, Hebrew, Persian, Urdu, …), "ltr" otherwise.
func (l *Localizer) Dir() string { return Direction(l.tag) }

// rtlScripts are the scripts written right to left.
var rtlScripts = map[string]bool{
	"Arab": true, "Hebr": true, "Syrc": true, "Thaa": true, "Nkoo": true,
	"Adlm": true, "Rohg": true, "Mand": true, "Samr": true, "Yezi": true,
}

// Direction is "rtl" when lang's (likely) script is written right to left.
func Direction(lang language.Tag) string {
	if s, _ := lang.Script(); rtlScripts[s.String()] {
		return "rtl"
	}
	return "ltr"
}

// T translates the message id, filling it with name/value pairs
// ("Client", "Immich"). An id that no catalogue defines is returned as it is,
// so that plain English text passed where an ID is expected still shows.
func (l *Localizer) T(id string, kv ...any) string {
	return l.localize(id, nil, pairs(kv, false))
}

// N translates a message with plural forms for count; {{.Count}} in the
// message is count.
func (l *Localizer) N(id string, count int, kv ...any) string {
	data := pairs(kv, false)
	data["Count"] = count
	return l.localize(id, count, data)
}

// HTML translates a message that contains markup. The catalogue's HTML is
// trusted (it is part of the configuration), the values are escaped.
func (l *Localizer) HTML(id string, kv ...any) template.HTML {
	msg := l.localize(id, nil, pairs(kv, true))
	return template.HTML(msg) // #nosec G203 -- catalogue text is trusted, values are escaped by pairs
}

func (l *Localizer) localize(id string, count any, data map[string]any) string {
	msg, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil && msg == "" {
		return id // not an ID of any catalogue: plain text
	}
	return msg
}

// pairs turns name/value arguments into template data; escape HTML-escapes
// the values.
func pairs(kv []any, escape bool) map[string]any {
	data := make(map[string]any, len(kv)/2+1)
	for i := 0; i+1 < len(kv); i += 2 {
		name := fmt.Sprint(kv[i])
		if escape {
			data[name] = template.HTML(html.EscapeString(fmt.Sprint(kv[i+1]))) // #nosec G203 -- escaped
		} else {
			data[name] = kv[i+1]
		}
	}
	return data
}

// Funcs are the template functions t (text), th (text with markup) and tn
// (plural) bound to l; nil l gives stand-ins for parsing.
func Funcs(l *Localizer) template.FuncMap {
	if l == nil {
		return template.FuncMap{
			"t":  func(string, ...any) string { return "" },
			"th": func(string, ...any) template.HTML { return "" },
			"tn": func(string, int, ...any) string { return "" },
		}
	}
	return template.FuncMap{"t": l.T, "th": l.HTML, "tn": l.N}
}

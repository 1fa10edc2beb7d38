package pages

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/i18n"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// The settings page's passkey names, times and way back to the application.

// settingsClientParam names the application the user came from, in the
// settings page's query: ?client_id=<id>. Applications link to
// <issuer>/settings?client_id=<their id>; the settings forms keep it.
const settingsClientParam = "client_id"

// settingsTime is a time as the settings page shows it: the RFC 3339 value
// for <time datetime> and the date and time in the page's language, in UTC
// (the server does not know the browser's zone, and the page has no script
// without passkeys).
func settingsTime(loc *i18n.Localizer, t time.Time) (at, text string) {
	t = t.UTC()
	return t.Format(time.RFC3339), loc.T("account.date_time",
		"Date", t.Format(loc.T("account.date_layout")),
		"Time", t.Format("15:04"))
}

// localizePasskeyTimes fills the passkeys' human times from their RFC 3339
// values, in the page's language.
func localizePasskeyTimes(loc *i18n.Localizer, list []ui.Passkey) {
	for i := range list {
		if t, err := time.Parse(time.RFC3339, list[i].CreatedAt); err == nil {
			_, list[i].Created = settingsTime(loc, t)
		}
		if t, err := time.Parse(time.RFC3339, list[i].LastUsedAt); err == nil {
			_, list[i].LastUsed = settingsTime(loc, t)
		}
	}
}

// settingsClient returns the application a settings request names
// (?client_id=) when it is a registered client the page can link back to,
// with the link: see backToApp.
func (p *Pages) settingsClient(r *http.Request) (*clients.Client, string) {
	c := p.clients.Get(r.URL.Query().Get(settingsClientParam))
	if c == nil {
		return nil, ""
	}
	home := backToApp(c.GetRedirectURIs())
	if home == "" {
		return nil, ""
	}
	return c, home
}

// backToApp is where the settings page's "Back to <app>" link goes: the
// origin (scheme://host[:port]/) of the client's first registered http or
// https redirect URI. Only configured values are used, never one from the
// request, so the link cannot be turned into an open redirect; a client
// with only custom-scheme (native) redirect URIs gets no link.
func backToApp(redirectURIs []string) string {
	for _, raw := range redirectURIs {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		return u.Scheme + "://" + u.Host + "/"
	}
	return ""
}

// settingsPath is the settings page's address for the settings forms and
// their confirmation pages: with ?client_id= when the request names an
// application the page links back to, so that the link stays.
func (p *Pages) settingsPath(r *http.Request) string {
	if c, _ := p.settingsClient(r); c != nil {
		return p.base + PathSettings + "?" + url.Values{settingsClientParam: {c.GetID()}}.Encode()
	}
	return p.base + PathSettings
}

// settingsURL is the settings page's address with the query key=value (a
// result to show after a change), keeping the application as settingsPath
// does.
func (p *Pages) settingsURL(r *http.Request, key, value string) string {
	q := url.Values{key: {value}}
	if c, _ := p.settingsClient(r); c != nil {
		q.Set(settingsClientParam, c.GetID())
	}
	return p.base + PathSettings + "?" + q.Encode()
}

// settingsExtras adds to the settings page what this file is about: the
// way back to the application, the passkeys' times in the page's
// language, and settings forms that keep the application.
func (p *Pages) settingsExtras(r *http.Request, page *ui.SettingsPage) {
	localizePasskeyTimes(p.Localizer(r), page.Passkeys)
	c, home := p.settingsClient(r)
	if c == nil {
		return
	}
	page.BackName = c.DisplayName()
	page.BackURL = template.URL(home) // #nosec G203 -- built from a configured redirect URI's scheme and host (backToApp)
	page.Action = p.settingsPath(r)
	if page.StepUpAction != "" {
		page.StepUpAction = page.Action
	}
}

// settingsConsent is a remembered consent as the settings page lists it.
func (p *Pages) settingsConsent(loc *i18n.Localizer, c store.Consent) ui.Consent {
	item := ui.Consent{ClientID: c.ClientID, Scopes: strings.Join(c.Scopes, " ")}
	item.ExpiresAt, item.Expires = settingsTime(loc, c.ExpiresAt)
	if cl := p.clients.Get(c.ClientID); cl != nil {
		item.ClientName = cl.DisplayName()
	}
	return item
}

// errPasskeyNameInvalid: a new passkey name is empty, too long or has
// control characters.
var errPasskeyNameInvalid = errors.New("passkey name must have 1 to 64 characters and no control characters")

// checkPasskeyName trims a passkey name the user typed and checks it: 1 to
// passkeyNameMax characters, valid UTF-8, no control characters (refused,
// not dropped: the user sees what will be stored).
func checkPasskeyName(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > passkeyNameMax || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", errPasskeyNameInvalid
	}
	return s, nil
}

// renamePasskey renames the signed-in user's passkey id (the settings
// form's action "passkey-rename", fields passkey_id and passkey_name). A
// label changes no security property, so it needs the session only, no
// step-up and no confirmation.
func (p *Pages) renamePasskey(w http.ResponseWriter, r *http.Request, f pageForm, id string) {
	if p.listPasskeys == nil { // passkeys turned off or unavailable: the page offers no form
		p.renderSettings(w, r, f.user, "", "settings.unknown_action")
		return
	}
	name, err := checkPasskeyName(r.PostForm.Get("passkey_name"))
	if err != nil {
		p.renderSettings(w, r, f.user, "", "account.passkey_name_invalid")
		return
	}
	p.changePasskey(w, r, f, id, passkeyChange{verb: "renamed", failed: "account.passkey_rename_failed", done: "passkey_renamed"},
		func(keys *authn.Passkeys) error { return keys.Rename(r.Context(), f.user.Username, id, name) })
}

// passkeyChange says how a change of one passkey from the settings is
// logged and answered.
type passkeyChange struct {
	verb   string // for the log: "passkey <verb>"
	failed string // the message ID shown when the change fails
	done   string // the ?done= result after it (doneMessages)
}

// changePasskey makes a change to the user's passkey id from the settings
// page and answers: the settings with an error when passkeys are off or
// unavailable, the passkey is not the user's, or the change failed; else
// the redirect to ?done= (settingsDone).
func (p *Pages) changePasskey(w http.ResponseWriter, r *http.Request, f pageForm, id string, c passkeyChange, change func(*authn.Passkeys) error) {
	keys, err := newPasskeys(p)
	if err != nil { // turned off or unavailable: the page offers no form
		p.renderSettings(w, r, f.user, "", "settings.unknown_action")
		return
	}
	err = change(keys)
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.renderSettings(w, r, f.user, "", "passkey_api.no_such")
	case err != nil:
		p.log.Error("changing passkey", zap.String("username", f.user.Username), zap.String("change", c.verb), zap.Error(err))
		p.renderSettings(w, r, f.user, "", c.failed)
	default:
		p.log.Info("passkey "+c.verb, zap.String("username", f.user.Username), zap.String("credential", id))
		p.settingsDone(w, r, c.done) // stepup.go
	}
}

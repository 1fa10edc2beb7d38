package pages

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PasskeyConfig is the webauthn option of a provider.
type PasskeyConfig struct {
	// Disable turns passkeys off: the WebAuthn endpoints answer 404
	// passkeys_unavailable, no page offers passkeys, and registered ones
	// neither sign in nor count as a second factor (they are kept, and
	// the admin API still lists and removes them).
	Disable bool
	// DisplayName is the relying party name authenticators and password
	// managers show beside a passkey; default the issuer's host name.
	DisplayName string
}

// passkeyDisplayNameMax bounds the display name (authenticators may
// truncate a longer one; WebAuthn suggests 64 bytes).
const passkeyDisplayNameMax = 64

// validate checks the display name: at most passkeyDisplayNameMax
// characters, no control characters, not only spaces.
func (c PasskeyConfig) validate() error {
	name := c.DisplayName
	switch {
	case name == "":
		return nil
	case strings.TrimSpace(name) != name || strings.TrimSpace(name) == "":
		return fmt.Errorf("webauthn: display_name %q has leading or trailing spaces", name)
	case utf8.RuneCountInString(name) > passkeyDisplayNameMax:
		return fmt.Errorf("webauthn: display_name is %d characters long, more than %d", utf8.RuneCountInString(name), passkeyDisplayNameMax)
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("webauthn: display_name %q has control characters or is not UTF-8", name)
	}
	return nil
}

// setupPasskeys connects the WebAuthn support: cfg's hooks, or the
// passkeys of this issuer. Turned off, it says once what that means for
// users who registered passkeys.
func (p *Pages) setupPasskeys(cfg AuthnConfig) error {
	if err := cfg.Passkeys.validate(); err != nil {
		return err
	}
	p.passkeyCfg = cfg.Passkeys
	if cfg.Passkeys.Disable {
		p.log.Warn("passkeys are turned off (webauthn disable): registered passkeys are kept but neither sign in nor count as a second factor; a user whose only second factor is a passkey is asked to set up an authenticator app where a second factor is required, and an administrator can list and remove passkeys with 'caddy oidc passkeys'")
		return nil
	}
	p.passkeysEnrolled, p.listPasskeys = cfg.PasskeysEnrolled, cfg.ListPasskeys
	if p.passkeysEnrolled == nil && p.listPasskeys == nil {
		p.passkeysEnrolled, p.listPasskeys = p.passkeyHooks() // nil for an IP-address issuer
	}
	return nil
}

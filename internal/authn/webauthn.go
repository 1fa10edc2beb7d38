package authn

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// PasskeyCeremonyLifetime is how long the browser has to answer the options
// of a WebAuthn ceremony (also sent to it as the timeout).
const PasskeyCeremonyLifetime = 5 * time.Minute

// PasskeyPurpose is what a WebAuthn ceremony was begun for; a ceremony
// finishes only for its own purpose.
type PasskeyPurpose string

// Ceremony purposes.
const (
	PasskeyRegister     PasskeyPurpose = "register" // add a credential to a signed-in user
	PasskeyLogin        PasskeyPurpose = "login"    // passwordless sign-in with a discoverable credential
	PasskeySecondFactor PasskeyPurpose = "2fa"      // second factor for a signed-in user
)

// Errors of the passkey ceremonies. Regulation should count ErrPasskeyRefused
// and ErrPasskeyCloned as failed attempts.
var (
	// ErrPasskeyUnavailable: the issuer's host is an IP address, which
	// WebAuthn does not allow as a relying party ID.
	ErrPasskeyUnavailable = errors.New("passkeys need an issuer with a host name, not an IP address")
	// ErrPasskeyCeremony: the ceremony is unknown, expired, already
	// finished, or was begun for another purpose or user.
	ErrPasskeyCeremony = errors.New("passkey ceremony unknown, expired or already used")
	// ErrPasskeyMalformed: the browser's answer cannot be parsed.
	ErrPasskeyMalformed = errors.New("malformed passkey response")
	// ErrPasskeyRefused: verification failed (unknown credential, bad
	// signature, wrong origin or challenge, missing user verification).
	ErrPasskeyRefused = errors.New("passkey refused")
	// ErrPasskeyCloned: the signature counter did not increase, so the
	// authenticator may have been cloned.
	ErrPasskeyCloned = errors.New("passkey signature counter went backwards: the authenticator may be cloned")
	// ErrPasskeyExists: the credential is already registered.
	ErrPasskeyExists = errors.New("passkey already registered")
	// ErrNoPasskeys: the user has no credential to sign in with.
	ErrNoPasskeys = errors.New("no passkey registered")
	// ErrPasskeysDisabled: the configuration turned passkeys off.
	ErrPasskeysDisabled = errors.New("passkeys are turned off in the configuration")
)

// NewRelyingParty returns the WebAuthn relying party of an issuer: its ID is
// the issuer's host name (no port), its only origin the issuer's origin
// (scheme://host[:port]), and the name authenticators and password managers
// show beside the passkey is displayName, by default (empty) that host name
// too, so that a person with passkeys for several sites can tell them
// apart. It fails with ErrPasskeyUnavailable when the host is an IP
// address. The result is immutable and may be shared.
func NewRelyingParty(issuer, displayName string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("passkeys: issuer %q is not an absolute http(s) URL", issuer)
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, ErrPasskeyUnavailable
	}
	if displayName == "" {
		displayName = u.Hostname()
	}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: displayName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: PasskeyCeremonyLifetime, TimeoutUVD: PasskeyCeremonyLifetime},
			Registration: webauthn.TimeoutConfig{Timeout: PasskeyCeremonyLifetime, TimeoutUVD: PasskeyCeremonyLifetime},
		},
		// Clients and password managers add extension outputs nobody asked
		// for; we act on none of them (credProps only labels a credential).
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return rp, nil
}

// Passkeys runs the WebAuthn ceremonies of one relying party over the store:
// registration, passwordless login with discoverable credentials, and
// second-factor assertions. Ceremony state stays server-side (the browser
// holds only a random ceremony ID) and is used once. A Passkeys is cheap to
// create and safe for concurrent use.
type Passkeys struct {
	rp  *webauthn.WebAuthn
	db  PasskeyStore
	now func() time.Time
}

// NewPasskeys returns the passkey ceremonies of rp (see [NewRelyingParty])
// stored in db.
func NewPasskeys(rp *webauthn.WebAuthn, db PasskeyStore) *Passkeys {
	return &Passkeys{rp: rp, db: db, now: time.Now}
}

// PasskeyResult is the outcome of a successful assertion.
type PasskeyResult struct {
	Username     string // the credential's owner
	CredentialID string // base64url
	UserVerified bool   // the authenticator verified the user (PIN, biometrics): amr "user"
}

// Passkey describes a registered credential for its owner.
type Passkey struct {
	ID           string    // base64url credential ID
	Name         string    // the owner's label
	CreatedAt    time.Time // when it was registered
	LastUsedAt   time.Time // zero if never used
	Discoverable bool      // usable for passwordless sign-in (reported by the browser or proven by use)
}

// passkeyUser adapts a user and its stored credentials to webauthn.User.
type passkeyUser struct {
	handle  []byte
	name    string
	display string
	creds   []webauthn.Credential
	stored  map[string]store.WebAuthnCredential // by base64url ID, for the compare-and-swap on use
}

func (u *passkeyUser) WebAuthnID() []byte                         { return u.handle }
func (u *passkeyUser) WebAuthnName() string                       { return u.name }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.display }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// loadUser reads a user's handle and credentials.
func (k *Passkeys) loadUser(ctx context.Context, username, display string) (*passkeyUser, error) {
	handle, err := k.db.WebAuthnUserHandle(ctx, username)
	if err != nil {
		return nil, err
	}
	list, err := k.db.WebAuthnCredentials(ctx, username)
	if err != nil {
		return nil, err
	}
	if display == "" {
		display = username
	}
	u := &passkeyUser{handle: handle, name: username, display: display, stored: make(map[string]store.WebAuthnCredential, len(list))}
	for _, s := range list {
		var c webauthn.Credential
		if err := json.Unmarshal(s.Data, &c); err != nil {
			return nil, fmt.Errorf("passkeys: credential %s of %q: %w", s.ID, username, err)
		}
		u.creds = append(u.creds, c)
		u.stored[s.ID] = s
	}
	return u, nil
}

// ceremony is the server-side state of one ceremony.
type ceremony struct {
	Purpose  PasskeyPurpose       `json:"purpose"`
	Username string               `json:"username,omitempty"`
	Session  webauthn.SessionData `json:"session"`
}

// save stores the ceremony under a new random ID and returns the ID.
func (k *Passkeys) save(ctx context.Context, c ceremony) (string, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("passkeys: encode ceremony: %w", err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	id := base64.RawURLEncoding.EncodeToString(b)
	if err := k.db.PutWebAuthnCeremony(ctx, id, data, k.now().Add(PasskeyCeremonyLifetime)); err != nil {
		return "", err
	}
	return id, nil
}

// take consumes a ceremony, checking its purpose and user.
func (k *Passkeys) take(ctx context.Context, id string, purpose PasskeyPurpose, username string) (*ceremony, error) {
	data, err := k.db.TakeWebAuthnCeremony(ctx, id, k.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrPasskeyCeremony
	} else if err != nil {
		return nil, err
	}
	var c ceremony
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("passkeys: decode ceremony: %w", err)
	}
	if c.Purpose != purpose || c.Username != username {
		return nil, ErrPasskeyCeremony
	}
	return &c, nil
}

// BeginRegistration starts adding a credential for a signed-in user. It
// returns the PublicKeyCredentialCreationOptions for navigator.credentials.create
// (resident key preferred, user verification preferred, no attestation, the
// user's existing credentials excluded) and the ceremony ID to hand back to
// [Passkeys.FinishRegistration].
func (k *Passkeys) BeginRegistration(ctx context.Context, username, displayName string) (*protocol.PublicKeyCredentialCreationOptions, string, error) {
	u, err := k.loadUser(ctx, username, displayName)
	if err != nil {
		return nil, "", err
	}
	noRequire := false
	creation, session, err := k.rp.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: &noRequire,
			ResidentKey:        protocol.ResidentKeyRequirementPreferred,
			UserVerification:   protocol.VerificationPreferred,
		}),
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return nil, "", fmt.Errorf("passkeys: begin registration for %q: %w", username, err)
	}
	id, err := k.save(ctx, ceremony{Purpose: PasskeyRegister, Username: username, Session: *session})
	if err != nil {
		return nil, "", err
	}
	return &creation.Response, id, nil
}

// FinishRegistration verifies the browser's answer (the PublicKeyCredential
// as JSON) to a registration ceremony of username and stores the credential
// under name (the caller trims and bounds it).
func (k *Passkeys) FinishRegistration(ctx context.Context, username, ceremonyID, name string, response []byte) (*Passkey, error) {
	c, err := k.take(ctx, ceremonyID, PasskeyRegister, username)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasskeyMalformed, describe(err))
	}
	u, err := k.loadUser(ctx, username, "")
	if err != nil {
		return nil, err
	}
	cred, err := k.rp.CreateCredential(u, c.Session, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasskeyRefused, describe(err))
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("passkeys: encode credential: %w", err)
	}
	now := k.now().UTC()
	s := store.WebAuthnCredential{
		ID:        base64.RawURLEncoding.EncodeToString(cred.ID),
		Username:  username,
		Name:      name,
		Data:      data,
		CreatedAt: now,
	}
	if err := k.db.CreateWebAuthnCredential(ctx, s); errors.Is(err, store.ErrWebAuthnCredentialExists) {
		return nil, ErrPasskeyExists
	} else if err != nil {
		return nil, err
	}
	return toPasskey(s, cred), nil
}

// BeginLogin starts a passwordless sign-in: request options without
// allowCredentials (the authenticator offers its discoverable credentials)
// and with user verification required.
func (k *Passkeys) BeginLogin(ctx context.Context) (*protocol.PublicKeyCredentialRequestOptions, string, error) {
	assertion, session, err := k.rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", fmt.Errorf("passkeys: begin login: %w", err)
	}
	id, err := k.save(ctx, ceremony{Purpose: PasskeyLogin, Session: *session})
	if err != nil {
		return nil, "", err
	}
	return &assertion.Response, id, nil
}

// FinishLogin verifies the answer to a passwordless sign-in and returns whose
// credential it was. The user handle the authenticator returns names the
// user; user verification is required. The caller still checks that the
// user exists and is not disabled.
func (k *Passkeys) FinishLogin(ctx context.Context, ceremonyID string, response []byte) (*PasskeyResult, error) {
	c, err := k.take(ctx, ceremonyID, PasskeyLogin, "")
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasskeyMalformed, describe(err))
	}
	var owner *passkeyUser
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		username, err := k.db.WebAuthnUsername(ctx, userHandle)
		if err != nil {
			return nil, err
		}
		if owner, err = k.loadUser(ctx, username, ""); err != nil {
			return nil, err
		}
		return owner, nil
	}
	_, cred, err := k.rp.ValidatePasskeyLogin(handler, c.Session, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasskeyRefused, describe(err))
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return nil, fmt.Errorf("%w: passwordless sign-in needs user verification", ErrPasskeyRefused)
	}
	discoverable := true // it was just discovered
	cred.Extensions.RK = &discoverable
	return k.recordUse(ctx, owner, cred, parsed)
}

// BeginSecondFactor starts a second-factor assertion for a signed-in user:
// request options listing the user's credentials, user verification
// discouraged (the password was the knowledge factor). ErrNoPasskeys when the
// user has none.
func (k *Passkeys) BeginSecondFactor(ctx context.Context, username string) (*protocol.PublicKeyCredentialRequestOptions, string, error) {
	u, err := k.loadUser(ctx, username, "")
	if err != nil {
		return nil, "", err
	}
	if len(u.creds) == 0 {
		return nil, "", ErrNoPasskeys
	}
	assertion, session, err := k.rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationDiscouraged))
	if err != nil {
		return nil, "", fmt.Errorf("passkeys: begin second factor for %q: %w", username, err)
	}
	id, err := k.save(ctx, ceremony{Purpose: PasskeySecondFactor, Username: username, Session: *session})
	if err != nil {
		return nil, "", err
	}
	return &assertion.Response, id, nil
}

// FinishSecondFactor verifies the answer to a second-factor assertion of
// username.
func (k *Passkeys) FinishSecondFactor(ctx context.Context, username, ceremonyID string, response []byte) (*PasskeyResult, error) {
	c, err := k.take(ctx, ceremonyID, PasskeySecondFactor, username)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasskeyMalformed, describe(err))
	}
	u, err := k.loadUser(ctx, username, "")
	if err != nil {
		return nil, err
	}
	cred, err := k.rp.ValidateLogin(u, c.Session, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasskeyRefused, describe(err))
	}
	return k.recordUse(ctx, u, cred, parsed)
}

// recordUse refuses a cloned authenticator and stores the new sign count and
// flags, atomically with respect to concurrent uses of the same credential.
func (k *Passkeys) recordUse(ctx context.Context, u *passkeyUser, cred *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) (*PasskeyResult, error) {
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	if cred.Authenticator.CloneWarning {
		return nil, fmt.Errorf("%w (credential %s of %q)", ErrPasskeyCloned, id, u.name)
	}
	old, ok := u.stored[id]
	if !ok {
		return nil, ErrPasskeyRefused
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("passkeys: encode credential: %w", err)
	}
	if err := k.db.UseWebAuthnCredential(ctx, id, old.Data, data, k.now()); errors.Is(err, store.ErrNotFound) {
		// Deleted meanwhile, or another assertion with it won the race.
		return nil, fmt.Errorf("%w: credential changed during the ceremony", ErrPasskeyRefused)
	} else if err != nil {
		return nil, err
	}
	return &PasskeyResult{
		Username:     u.name,
		CredentialID: id,
		UserVerified: parsed.Response.AuthenticatorData.Flags.HasUserVerified(),
	}, nil
}

// List returns the credentials of a user, oldest first.
func (k *Passkeys) List(ctx context.Context, username string) ([]Passkey, error) {
	list, err := k.db.WebAuthnCredentials(ctx, username)
	if err != nil {
		return nil, err
	}
	out := make([]Passkey, 0, len(list))
	for _, s := range list {
		var c webauthn.Credential
		if err := json.Unmarshal(s.Data, &c); err != nil {
			return nil, fmt.Errorf("passkeys: credential %s of %q: %w", s.ID, username, err)
		}
		out = append(out, *toPasskey(s, &c))
	}
	return out, nil
}

// Has reports whether a user has at least one credential (to offer the
// passkey as a second factor).
func (k *Passkeys) Has(ctx context.Context, username string) (bool, error) {
	n, err := k.db.CountWebAuthnCredentials(ctx, username)
	return n > 0, err
}

// Rename sets the label of a credential of username (the caller cleans and
// bounds it); store.ErrNotFound when it does not exist or belongs to
// someone else.
func (k *Passkeys) Rename(ctx context.Context, username, id, name string) error {
	return k.db.RenameWebAuthnCredential(ctx, username, id, name)
}

// Delete removes a credential of username; store.ErrNotFound when it does
// not exist or belongs to someone else.
func (k *Passkeys) Delete(ctx context.Context, username, id string) error {
	return k.db.DeleteWebAuthnCredential(ctx, username, id)
}

func toPasskey(s store.WebAuthnCredential, c *webauthn.Credential) *Passkey {
	return &Passkey{
		ID:           s.ID,
		Name:         s.Name,
		CreatedAt:    s.CreatedAt,
		LastUsedAt:   s.LastUsedAt,
		Discoverable: c.Extensions.RK != nil && *c.Extensions.RK,
	}
}

// describe adds the library's developer detail (never secret: it names the
// mismatched field) to its error, for logs.
func describe(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" && !strings.Contains(pe.Error(), pe.DevInfo) {
		return fmt.Errorf("%w (%s)", err, pe.DevInfo)
	}
	return err
}

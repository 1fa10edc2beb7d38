package ui

import "html/template"

// LoginPage asks for a username and password. The form posts username,
// password, csrf_token and return_to to Action.
type LoginPage struct {
	ClientName string // who is asking ("Immich"); may be empty
	Action     string // form action URL (POST)
	CSRFToken  string // hidden input "csrf_token"
	ReturnTo   string // hidden input "return_to"
	Username   string // prefilled value of input "username"
	Error      string // shown in role="alert" when non-empty
	// RememberMe shows a "Keep me signed in" checkbox (input "remember_me").
	RememberMe bool
	// Passkeys shows the "Sign in with a passkey" button; it needs
	// WebAuthnBase and ContinueAction.
	Passkeys bool
	// WebAuthnBase is the URL path of the WebAuthn JSON endpoints.
	WebAuthnBase string
	// ContinueAction is where the passkey script posts csrf_token and
	// return_to after a successful passkey ceremony.
	ContinueAction string
	// StepUp, when set, says the sign-in confirms a change in the
	// settings (step-up in place).
	StepUp StepUp
}

// StepUp is what the login and second-factor pages show and carry when they
// confirm a change the user asked for in the settings: why (Reason), the
// signed change (hidden input "pending" in every form, the passkey script's
// continue form included) and a Cancel link back to the settings.
type StepUp struct {
	Reason    string // "To remove your authenticator app, confirm it's you."
	Pending   string // hidden input "pending"; empty: no step-up
	CancelURL string // where Cancel goes
}

// Scope is one requested permission as shown on the consent page.
type Scope struct {
	Name        string // the scope value, e.g. "email"; shown small
	Description string // what it grants, e.g. "Your email address"; the name is shown instead when empty
}

// ConsentPage asks the signed-in user to allow or deny a client. The form posts
// csrf_token, return_to and decision ("allow" or "deny") to Action.
type ConsentPage struct {
	ClientName string  // shown as the requester; ClientID is used when empty
	ClientID   string  // the client's ID, shown small beside ClientName
	UserName   string  // display name of the signed-in user ("Signed in as …")
	Scopes     []Scope // the requested scopes, in display order
	Action     string  // form action URL (POST)
	CSRFToken  string  // hidden input "csrf_token"
	ReturnTo   string  // hidden input "return_to"
	// RememberFor, when not empty, shows a "Remember my choice for …"
	// checkbox (input "remember") with this duration text.
	RememberFor string
}

// LogoutPage is the sign-out confirmation, the "not signed in" notice or the
// "signed out" result, depending on Done and UserName. The confirmation form
// posts csrf_token and return_to to Action.
type LogoutPage struct {
	Action    string // form action URL (POST)
	CSRFToken string // hidden input "csrf_token"
	ReturnTo  string // hidden input "return_to"; may be empty
	UserName  string // if empty and Done is false: "You are not signed in"
	Done      bool   // "You have been signed out"
	// ContinueURL, with Done, is a link back to the application.
	ContinueURL template.URL
	// FrontchannelURLs, with Done, are loaded in hidden iframes (OpenID
	// Connect Front-Channel Logout 1.0); the page then continues to
	// ContinueURL by itself. FrameOrigins are their origins, the only
	// frame sources the page's Content-Security-Policy allows.
	FrontchannelURLs []string
	FrameOrigins     []string
}

// frameSources lists the origins the page may frame (ui.go's CSP).
func (pg *LogoutPage) frameSources() []string {
	if !pg.Done {
		return nil
	}
	return pg.FrameOrigins
}

// ErrorPage explains to a person why the flow cannot go on.
type ErrorPage struct {
	Title       string // e.g. "This sign-in link is not valid"; "Something went wrong" when empty
	Description string // human explanation, e.g. "The application sent an address that is not registered..."
	Code        string // machine error code shown small, e.g. "invalid_request"; optional
	// ContinueURL is a link back to the application (for example the error
	// redirect that tells it access was denied). It must be a URL the server
	// validated; custom schemes of native apps are allowed.
	ContinueURL template.URL
}

// SecondFactorPage asks for a second factor: a TOTP code (form posting
// csrf_token, return_to and code to Action) and, with Passkeys, a passkey.
type SecondFactorPage struct {
	ClientName     string // who is asking; may be empty
	UserName       string // display name of the signed-in user
	Action         string // form action URL for the TOTP code (POST)
	CSRFToken      string // hidden input "csrf_token"
	ReturnTo       string // hidden input "return_to"
	TOTP           bool   // the user has an authenticator app enrolled
	Passkeys       bool   // the user has passkeys or security keys
	WebAuthnBase   string // URL path of the WebAuthn JSON endpoints
	ContinueAction string // where the passkey script posts after success
	Error          string // shown in role="alert" when non-empty
	// RecoveryAction is where the "Lost your device?" recovery-code form
	// posts (csrf_token, return_to, recovery_code); empty hides it.
	RecoveryAction string
	// StepUp, when set, says the second factor confirms a change in the
	// settings (step-up in place).
	StepUp StepUp
}

// TOTPEnrollPage shows a new authenticator-app secret once, as a QR code
// and as text, and asks for a code to confirm it. The form posts
// csrf_token, return_to and code to Action.
type TOTPEnrollPage struct {
	ClientName string       // who is asking; may be empty
	UserName   string       // display name of the signed-in user
	QRCode     template.URL // data:image/png;base64,… of the otpauth URI
	Secret     string       // the base32 secret, for manual entry
	Action     string       // form action URL (POST)
	CSRFToken  string       // hidden input "csrf_token"
	ReturnTo   string       // hidden input "return_to"
	Error      string       // shown in role="alert" when non-empty
	// Enrollment is the hidden input "enrollment": it lets a retry after a
	// wrong code show the same key again (authn.Enrollment.Proof).
	Enrollment string
	// CancelURL, for an enrolment the user chose (from the settings), is
	// where Cancel goes; empty when a client requires the second factor.
	CancelURL string
}

// Passkey is one registered WebAuthn credential on the settings page.
// Created and LastUsed are the date and time in the page's language;
// CreatedAt and LastUsedAt the same times in RFC 3339, for <time datetime>.
// A passkey never used has empty LastUsed and LastUsedAt.
type Passkey struct {
	ID, Name, Created, LastUsed string
	CreatedAt, LastUsedAt       string
}

// Consent is one remembered consent on the settings page. Expires is the
// date and time in the page's language, ExpiresAt the same in RFC 3339.
type Consent struct {
	ClientID, ClientName, Scopes, Expires string
	ExpiresAt                             string
}

// SettingsPage lets a signed-in user manage their second factors and
// remembered consents. Forms post csrf_token and the fields named below.
type SettingsPage struct {
	UserName     string
	Message      string // a confirmation shown in role="status"
	Error        string // shown in role="alert"
	CSRFToken    string
	Action       string // POST target of every settings form (field "action")
	TOTPEnrolled bool
	Passkeys     []Passkey
	Consents     []Consent
	WebAuthnBase string // URL path of the WebAuthn JSON endpoints; empty hides passkeys
	// LogoutAction is the sign-out form's target (fields csrf_token and
	// all_devices); empty hides the sign-out section.
	LogoutAction string
	// PasswordChange shows the password form (action "password-change",
	// fields current_password, new_password, new_password_confirm).
	PasswordChange bool
	// RecoveryCodes shows the recovery-code section (action
	// "recovery-generate") for a user with a second factor, with
	// RecoveryRemaining, the number of unused codes.
	RecoveryCodes     bool
	RecoveryRemaining int
	// BackURL and BackName, when set, show a "Back to <BackName>" link:
	// the application the user came from (settings?client_id=), at a URL
	// the server built from its configuration.
	BackURL  template.URL
	BackName string
	// PasskeyReady focuses "Add a passkey" with a note that the user may add
	// it now: the step-up it needed is done.
	PasskeyReady bool
	// StepUpAction is the target of the hidden form (action "passkey-add")
	// the passkey script submits when adding a passkey needs a step-up.
	StepUpAction string
}

// ConfirmPage asks the user to confirm a destructive change from the
// settings. Its form posts csrf_token, action, confirmed=1 and, when
// ArgName is set, ArgName=ArgValue to Action; Cancel goes to CancelURL.
type ConfirmPage struct {
	Question  string // the heading: "Remove passkey “YubiKey”?"
	Explain   string // what happens
	Button    string // the confirm button's text
	Action    string // form action URL (POST)
	CSRFToken string // hidden input "csrf_token"
	Do        string // hidden input "action"
	ArgName   string // name of the hidden input that names the item; may be empty
	ArgValue  string
	// AllDevices adds the hidden input all_devices=1 (sign out everywhere).
	AllDevices bool
	CancelURL  string
}

// DevicePage is the device sign-in page (RFC 8628): the form for the user
// code a TV or command-line tool shows (Action, CSRFToken, UserCode, Error),
// or, with Done, the outcome (Approved) for ClientName.
type DevicePage struct {
	Action     string // URL path the form posts to
	CSRFToken  string
	UserCode   string // prefilled code, as typed or from verification_uri_complete
	Error      string // why the code was refused; empty: none
	Done       bool   // the decision was recorded
	Approved   bool   // with Done: the device was allowed
	ClientName string // with Done: the application on the device
}

// CodePage shows an authorization code to copy into a native application
// that registered the out-of-band redirect (urn:ietf:wg:oauth:2.0:oob).
type CodePage struct {
	ClientName string // the application to paste the code into
	Code       string // the authorization code
}

package authn

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// TOTP parameters: what every authenticator app supports (RFC 6238 defaults,
// Google Authenticator's key URI format).
const (
	totpPeriod     = 30 // seconds per time step
	totpDigits     = otp.DigitsSix
	totpAlgorithm  = otp.AlgorithmSHA1
	totpSkew       = 1  // steps accepted before and after the current one
	totpSecretSize = 20 // bytes (160 bits, RFC 4226's recommendation)

	// QRSize is the width and height in pixels of Enrollment.QRPNG.
	QRSize = 256
)

// Errors of TOTP. Regulation should count ErrInvalidCode and ErrCodeUsed
// alike as failed attempts.
var (
	ErrInvalidCode     = errors.New("invalid TOTP code")
	ErrCodeUsed        = errors.New("TOTP code already used")
	ErrNotEnrolled     = errors.New("no TOTP secret enrolled")
	ErrAlreadyEnrolled = errors.New("a confirmed TOTP secret is already enrolled")
)

// Enrollment is what a user needs to add a TOTP secret to an authenticator
// app. It contains the secret: show it once, never log or store it.
type Enrollment struct {
	URI    string // otpauth://totp/<issuer>:<user>?secret=...&issuer=...
	Secret string // the base32 secret, for typing in by hand
	QRPNG  []byte // a QRSize×QRSize PNG of the QR code of URI
	// Proof names the unconfirmed secret Enroll created, for
	// [TOTP.PendingEnrollment]; it reveals nothing of the secret.
	Proof string
}

// TOTP enrols and verifies time-based one-time passwords (RFC 6238: SHA-1,
// 6 digits, 30 s steps). Secrets are sealed at rest with a [Sealer] bound to
// the username. Each time step is accepted at most once per user, so a code
// cannot be replayed, even by concurrent requests. A TOTP is safe for
// concurrent use.
type TOTP struct {
	db     TOTPStore
	sealer *Sealer
	issuer string
}

// NewTOTP returns a TOTP keeping secrets in db, sealed with sealer. issuer
// is the name authenticator apps show beside the account (e.g. the host of
// the provider).
func NewTOTP(db TOTPStore, sealer *Sealer, issuer string) *TOTP {
	return &TOTP{db: db, sealer: sealer, issuer: issuer}
}

// TOTPIssuerName is the default name authenticator apps show for accounts
// of the provider at issuerURL: its host name (auth.example.com), or
// "caddy-oidc" when it has none.
func TOTPIssuerName(issuerURL string) string {
	if u, err := url.Parse(issuerURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "caddy-oidc"
}

// sealAAD is the associated data a user's TOTP secret is sealed with, so a
// sealed secret moved to another user's row does not open.
func sealAAD(username string) string { return "totp:" + username }

// key is username's TOTP key with the provider's parameters: the secret
// raw, or a new random one when raw is nil.
func (t *TOTP) key(username string, raw []byte) (*otp.Key, error) {
	issuer := t.issuer
	if issuer == "" {
		issuer = "caddy-oidc"
	}
	return totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: username, Period: totpPeriod,
		Secret: raw, SecretSize: totpSecretSize, Digits: totpDigits, Algorithm: totpAlgorithm,
	})
}

// generate creates a new random secret for username and returns it, sealed
// and as an Enrollment without the QR image.
func (t *TOTP) generate(username string) (sealed string, e Enrollment, err error) {
	if username == "" {
		return "", e, errors.New("authn: TOTP: empty username")
	}
	key, err := t.key(username, nil)
	if err != nil {
		return "", e, fmt.Errorf("authn: TOTP: generate secret for %q: %w", username, err)
	}
	sealed, err = t.sealer.Seal([]byte(key.Secret()), sealAAD(username))
	if err != nil {
		return "", e, fmt.Errorf("authn: TOTP: seal secret of %q: %w", username, err)
	}
	return sealed, Enrollment{URI: key.URL(), Secret: key.Secret()}, nil
}

// withQR adds the PNG QR code of e.URI to e.
func withQR(e Enrollment) (Enrollment, error) {
	img, err := qrImage(e.URI, QRSize)
	if err != nil {
		return Enrollment{}, fmt.Errorf("authn: TOTP: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, fmt.Errorf("authn: TOTP: QR code: %w", err)
	}
	e.QRPNG = buf.Bytes()
	return e, nil
}

// Enroll creates a new unconfirmed secret for username, replacing an
// unconfirmed one, and returns what the user needs to add it to an app. The
// secret is not used for sign-in until [TOTP.Confirm] accepts a code of it.
// If the user already has a confirmed secret, Enroll returns
// ErrAlreadyEnrolled and changes nothing: replacing it must be a deliberate
// step (Remove, then Enroll) by a user who passed the second factor, or a
// password alone could switch the second factor off.
func (t *TOTP) Enroll(ctx context.Context, username string) (Enrollment, error) {
	sealed, e, err := t.generate(username)
	if err != nil {
		return Enrollment{}, err
	}
	err = t.inTx(ctx, func(ctx context.Context) error {
		cur, err := t.db.GetTOTPSecret(ctx, username)
		switch {
		case err == nil && cur.Confirmed:
			return ErrAlreadyEnrolled
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("authn: TOTP: %w", err)
		}
		if err := t.db.PutTOTPSecret(ctx, store.TOTPSecret{Username: username, Sealed: sealed}); err != nil {
			return fmt.Errorf("authn: TOTP: %w", err)
		}
		return nil
	})
	if err != nil {
		return Enrollment{}, err
	}
	e.Proof = enrollmentProof(sealed)
	return withQR(e)
}

// AdminEnroll creates a confirmed secret for username directly, replacing
// any secret the user had, and returns the Enrollment (for the
// `caddy oidc totp add` command: the administrator hands it to the user).
func (t *TOTP) AdminEnroll(ctx context.Context, username string) (Enrollment, error) {
	sealed, e, err := t.generate(username)
	if err != nil {
		return Enrollment{}, err
	}
	if err := t.db.PutTOTPSecret(ctx, store.TOTPSecret{Username: username, Sealed: sealed, Confirmed: true}); err != nil {
		return Enrollment{}, fmt.Errorf("authn: TOTP: %w", err)
	}
	return withQR(e)
}

// Confirm checks code against the unconfirmed secret of username (one step
// of clock skew either way) and, if it matches, marks the secret confirmed;
// the code's step counts as used. Errors: ErrInvalidCode for a wrong or
// malformed code, ErrNotEnrolled without a secret, ErrAlreadyEnrolled when
// the secret is already confirmed.
func (t *TOTP) Confirm(ctx context.Context, username, code string, now time.Time) error {
	code, ok := normalizeCode(code)
	if !ok {
		return ErrInvalidCode
	}
	// One transaction, so a concurrent Enroll cannot swap the secret between
	// the check and the confirmation.
	return t.inTx(ctx, func(ctx context.Context) error {
		s, err := t.db.GetTOTPSecret(ctx, username)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotEnrolled
		} else if err != nil {
			return fmt.Errorf("authn: TOTP: %w", err)
		}
		if s.Confirmed {
			return ErrAlreadyEnrolled
		}
		step, _, err := t.match(s, code, now)
		if err != nil {
			return err
		}
		if step < 0 {
			return ErrInvalidCode
		}
		if err := t.db.ConfirmTOTPSecret(ctx, username, step); err != nil {
			return fmt.Errorf("authn: TOTP: %w", err)
		}
		return nil
	})
}

// Verify checks code against the confirmed secret of username, accepting
// the codes of the current time step and of one step before and after. Each
// step is accepted once: a code of a step already used, or of a step before
// the last accepted one, is ErrCodeUsed. A wrong or malformed code is
// ErrInvalidCode; a user without a confirmed secret gets ErrNotEnrolled.
func (t *TOTP) Verify(ctx context.Context, username, code string, now time.Time) error {
	code, ok := normalizeCode(code)
	if !ok {
		return ErrInvalidCode
	}
	s, err := t.db.GetTOTPSecret(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotEnrolled
	} else if err != nil {
		return fmt.Errorf("authn: TOTP: %w", err)
	}
	if !s.Confirmed {
		return ErrNotEnrolled
	}
	step, used, err := t.match(s, code, now)
	if err != nil {
		return err
	}
	if step < 0 {
		if used {
			return ErrCodeUsed
		}
		return ErrInvalidCode
	}
	// The step is consumed atomically: of concurrent requests with the same
	// code, exactly one gets here with true.
	advanced, err := t.db.AdvanceTOTPStep(ctx, username, step)
	if err != nil {
		return fmt.Errorf("authn: TOTP: %w", err)
	}
	if !advanced {
		return ErrCodeUsed
	}
	return nil
}

// Enrolled reports whether username has a confirmed secret.
func (t *TOTP) Enrolled(ctx context.Context, username string) (bool, error) {
	s, err := t.db.GetTOTPSecret(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("authn: TOTP: %w", err)
	}
	return s.Confirmed, nil
}

// Remove deletes the secret of username, confirmed or not. Removing what
// does not exist is not an error.
func (t *TOTP) Remove(ctx context.Context, username string) error {
	if err := t.db.DeleteTOTPSecret(ctx, username); err != nil {
		return fmt.Errorf("authn: TOTP: %w", err)
	}
	return nil
}

// match compares code, in constant time, with the codes of the time steps
// around now. It returns the earliest matching step after s.LastStep, or -1;
// used reports a match with a step at or before s.LastStep.
func (t *TOTP) match(s *store.TOTPSecret, code string, now time.Time) (step int64, used bool, err error) {
	plain, err := t.sealer.Open(s.Sealed, sealAAD(s.Username))
	if err != nil {
		return -1, false, fmt.Errorf("authn: TOTP secret of %q: %w", s.Username, err)
	}
	secret := string(plain)
	cur := timeStep(now)
	step = -1
	for st := cur - totpSkew; st <= cur+totpSkew; st++ {
		if st < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(st), hotp.ValidateOpts{Digits: totpDigits, Algorithm: totpAlgorithm})
		if err != nil {
			return -1, false, fmt.Errorf("authn: TOTP secret of %q: %w", s.Username, err)
		}
		if subtle.ConstantTimeCompare([]byte(code), []byte(want)) != 1 {
			continue
		}
		if st > s.LastStep {
			if step < 0 {
				step = st
			}
		} else {
			used = true
		}
	}
	return step, used, nil
}

// timeStep is the RFC 6238 time step of t.
func timeStep(t time.Time) int64 {
	sec := t.Unix()
	if sec < 0 {
		return -1
	}
	return sec / totpPeriod
}

// normalizeCode removes the spaces people type or paste ("123 456") and
// reports whether what remains is a code of the right length, all digits.
func normalizeCode(code string) (string, bool) {
	code = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\u00a0':
			return -1
		}
		return r
	}, code)
	if len(code) != totpDigits.Length() {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// inTx runs fn in a new short transaction (on SQLite it holds the write
// lock, so the read and the write in fn see no concurrent change). ctx must
// not already carry a transaction.
func (t *TOTP) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	tctx, err := t.db.BeginTX(ctx)
	if err != nil {
		return fmt.Errorf("authn: TOTP: %w", err)
	}
	if err := fn(tctx); err != nil {
		_ = t.db.Rollback(tctx)
		return err
	}
	if err := t.db.Commit(tctx); err != nil {
		return fmt.Errorf("authn: TOTP: %w", err)
	}
	return nil
}

// qrCode encodes content as a QR code with medium error correction.
func qrCode(content string) (barcode.Barcode, error) {
	return qr.Encode(content, qr.M, qr.Auto)
}

// qrImage draws the QR code of content on a white size×size image, with the
// largest whole number of pixels per module that leaves the standard quiet
// zone of 4 modules.
func qrImage(content string, size int) (image.Image, error) {
	code, err := qrCode(content)
	if err != nil {
		return nil, err
	}
	n := code.Bounds().Dx()
	scale := size / (n + 8)
	if scale < 1 {
		return nil, fmt.Errorf("a %d×%d QR code does not fit in %d pixels", n, n, size)
	}
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	off := (size - n*scale) / 2
	for y := range n {
		for x := range n {
			if !isDark(code, x, y) {
				continue
			}
			for dy := range scale {
				row := img.Pix[(off+y*scale+dy)*img.Stride:]
				for dx := range scale {
					row[off+x*scale+dx] = 1
				}
			}
		}
	}
	return img, nil
}

// isDark reports whether module (x, y) of code is dark.
func isDark(code barcode.Barcode, x, y int) bool {
	r, _, _, _ := code.At(code.Bounds().Min.X+x, code.Bounds().Min.Y+y).RGBA()
	return r < 0x8000
}

// terminalQuietZone is the light border, in modules, around TerminalQR's code.
const terminalQuietZone = 2

// TerminalQR renders the QR code of uri with Unicode half blocks, two module
// rows per line, for printing to a terminal. Light modules and the quiet zone
// (2 modules) are drawn as blocks and dark modules as spaces, so the code
// scans on the usual light-on-dark terminal (like `qrencode -t UTF8`). It
// returns "" if uri is too long for a QR code.
func TerminalQR(uri string) string {
	code, err := qrCode(uri)
	if err != nil {
		return ""
	}
	n := code.Bounds().Dx()
	w := n + 2*terminalQuietZone
	// light reports whether the module at (x, y) of the bordered code is
	// drawn; rows below the border are terminal background.
	light := func(x, y int) bool {
		if y >= w {
			return false
		}
		x, y = x-terminalQuietZone, y-terminalQuietZone
		if x < 0 || y < 0 || x >= n || y >= n {
			return true
		}
		return !isDark(code, x, y)
	}
	var b strings.Builder
	b.Grow((w + 1) * (w + 1) / 2 * 3)
	for y := 0; y < w; y += 2 {
		for x := range w {
			switch top, bottom := light(x, y), light(x, y+1); {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// AdminImport stores a known base32 secret (from another provider, such as
// Authelia's `authelia storage user totp export`) as the confirmed secret
// of username, replacing any secret the user had, so the user's
// authenticator app keeps working. The secret must be for SHA-1, 6 digits
// and 30-second steps, the only parameters TOTP verifies (and Authelia's
// defaults); spaces, lower case and padding are accepted.
func (t *TOTP) AdminImport(ctx context.Context, username, secret string) (Enrollment, error) {
	if username == "" {
		return Enrollment{}, errors.New("authn: TOTP: empty username")
	}
	norm := strings.ToUpper(strings.TrimRight(strings.Join(strings.Fields(secret), ""), "="))
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(norm)
	if err != nil {
		return Enrollment{}, fmt.Errorf("authn: TOTP: the secret is not base32: %w", err)
	}
	if len(raw) < 10 {
		return Enrollment{}, fmt.Errorf("authn: TOTP: the secret has %d bits, fewer than the 80 RFC 4226 requires", len(raw)*8)
	}
	key, err := t.key(username, raw)
	if err != nil {
		return Enrollment{}, fmt.Errorf("authn: TOTP: %w", err)
	}
	sealed, err := t.sealer.Seal([]byte(key.Secret()), sealAAD(username))
	if err != nil {
		return Enrollment{}, fmt.Errorf("authn: TOTP: seal secret of %q: %w", username, err)
	}
	if err := t.db.PutTOTPSecret(ctx, store.TOTPSecret{Username: username, Sealed: sealed, Confirmed: true}); err != nil {
		return Enrollment{}, fmt.Errorf("authn: TOTP: %w", err)
	}
	return withQR(Enrollment{URI: key.URL(), Secret: key.Secret()})
}

// CheckTOTPParameters reports whether codes with algorithm (SHA1, SHA256,
// SHA512), digits and period (seconds) are ones TOTP verifies: only SHA1, 6
// digits and 30 seconds. Empty and zero values mean the defaults.
func CheckTOTPParameters(algorithm string, digits, period int) error {
	if (algorithm == "" || strings.EqualFold(algorithm, "SHA1")) && (digits == 0 || digits == totpDigits.Length()) && (period == 0 || period == totpPeriod) {
		return nil
	}
	return fmt.Errorf("codes with %s, %d digits and %d-second steps cannot be verified: only SHA1, 6 digits and 30 seconds (Authelia's defaults) are; the user must enrol again", algorithm, digits, period)
}

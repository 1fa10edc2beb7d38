package authn

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// t0 is the test's clock: any instant works, since ±30 s is always exactly
// one step away.
var t0 = time.Date(2026, 11, 25, 12, 0, 10, 0, time.UTC)

func newTestTOTP(t *testing.T) (*TOTP, *store.DB) {
	t.Helper()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "oidc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return NewTOTP(db, testSealer(t), "auth.example.com"), db
}

// codeAt is what the user's authenticator app shows at time at.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrongCode is a well-formed code that is none of the codes around at.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	near := map[string]bool{}
	for d := -2; d <= 2; d++ {
		near[codeAt(t, secret, at.Add(time.Duration(d)*30*time.Second))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func checkEnrollment(t *testing.T, e Enrollment, user string) {
	t.Helper()
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatalf("URI %q: %v", e.URI, err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/auth.example.com:"+user {
		t.Errorf("URI = %q, want otpauth://totp/auth.example.com:%s?...", e.URI, user)
	}
	for k, want := range map[string]string{
		"secret": e.Secret, "issuer": "auth.example.com", "algorithm": "SHA1", "digits": "6", "period": "30",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("URI %s = %q, want %q", k, got, want)
		}
	}
	if len(e.Secret) != 32 { // 20 bytes in unpadded base32
		t.Errorf("secret has %d base32 characters, want 32", len(e.Secret))
	}
	img, err := png.Decode(bytes.NewReader(e.QRPNG))
	if err != nil {
		t.Fatalf("QRPNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != QRSize || b.Dy() != QRSize {
		t.Errorf("QR image is %v, want %dx%d", b, QRSize, QRSize)
	}
}

func TestTOTPEnrollConfirm(t *testing.T) {
	tp, db := newTestTOTP(t)
	ctx := context.Background()

	e, err := tp.Enroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	checkEnrollment(t, e, "alice")

	s, err := db.GetTOTPSecret(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.Sealed, e.Secret) || !strings.HasPrefix(s.Sealed, "v1.") {
		t.Errorf("stored secret is not sealed: %q", s.Sealed)
	}

	if ok, err := tp.Enrolled(ctx, "alice"); err != nil || ok {
		t.Fatalf("Enrolled before confirmation = %v, %v", ok, err)
	}
	if err := tp.Verify(ctx, "alice", codeAt(t, e.Secret, t0), t0); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("Verify with an unconfirmed secret: err = %v, want ErrNotEnrolled", err)
	}

	// Enrolling again before confirmation replaces the secret.
	e2, err := tp.Enroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if e2.Secret == e.Secret {
		t.Fatal("re-enrolment kept the secret")
	}
	if err := tp.Confirm(ctx, "alice", codeAt(t, e.Secret, t0), t0); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("Confirm with the replaced secret's code: err = %v, want ErrInvalidCode", err)
	}
	e = e2

	for _, tc := range []struct {
		name string
		code string
	}{
		{"wrong", wrongCode(t, e.Secret, t0)},
		{"two steps early", codeAt(t, e.Secret, t0.Add(-time.Minute))},
		{"two steps late", codeAt(t, e.Secret, t0.Add(time.Minute))},
		{"malformed", "abcdef"},
		{"empty", ""},
	} {
		if err := tp.Confirm(ctx, "alice", tc.code, t0); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("Confirm(%s): err = %v, want ErrInvalidCode", tc.name, err)
		}
	}
	if err := tp.Confirm(ctx, "bob", "123456", t0); !errors.Is(err, ErrNotEnrolled) {
		t.Errorf("Confirm without enrolment: err = %v, want ErrNotEnrolled", err)
	}

	// One step of skew is accepted at confirmation too.
	if err := tp.Confirm(ctx, "alice", codeAt(t, e.Secret, t0.Add(30*time.Second)), t0); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	if ok, err := tp.Enrolled(ctx, "alice"); err != nil || !ok {
		t.Fatalf("Enrolled after confirmation = %v, %v", ok, err)
	}
	if err := tp.Confirm(ctx, "alice", codeAt(t, e.Secret, t0), t0); !errors.Is(err, ErrAlreadyEnrolled) {
		t.Errorf("second Confirm: err = %v, want ErrAlreadyEnrolled", err)
	}
	// The confirming code's step is used up.
	if err := tp.Verify(ctx, "alice", codeAt(t, e.Secret, t0.Add(30*time.Second)), t0); !errors.Is(err, ErrCodeUsed) {
		t.Errorf("Verify with the confirming code: err = %v, want ErrCodeUsed", err)
	}
	// A password alone must not replace a confirmed second factor.
	if _, err := tp.Enroll(ctx, "alice"); !errors.Is(err, ErrAlreadyEnrolled) {
		t.Errorf("Enroll over a confirmed secret: err = %v, want ErrAlreadyEnrolled", err)
	}
	if err := tp.Verify(ctx, "alice", codeAt(t, e.Secret, t0.Add(time.Minute)), t0.Add(time.Minute)); err != nil {
		t.Errorf("Verify after the refused re-enrolment: %v", err)
	}
}

func TestTOTPVerifyWindow(t *testing.T) {
	tp, _ := newTestTOTP(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		offset time.Duration // of the code's time from the server's clock
		want   error
	}{
		{"previous step", -30 * time.Second, nil},
		{"current step", 0, nil},
		{"next step", 30 * time.Second, nil},
		{"two steps back", -60 * time.Second, ErrInvalidCode},
		{"two steps ahead", 60 * time.Second, ErrInvalidCode},
		{"an hour ago", -time.Hour, ErrInvalidCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := strings.ReplaceAll(tc.name, " ", "-")
			e, err := tp.AdminEnroll(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			checkEnrollment(t, e, user)
			if err := tp.Verify(ctx, user, codeAt(t, e.Secret, t0.Add(tc.offset)), t0); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTOTPVerify(t *testing.T) {
	tp, db := newTestTOTP(t)
	ctx := context.Background()
	e, err := tp.AdminEnroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := tp.Enrolled(ctx, "alice"); err != nil || !ok {
		t.Fatalf("Enrolled after AdminEnroll = %v, %v", ok, err)
	}
	code := func(d time.Duration) string { return codeAt(t, e.Secret, t0.Add(d)) }
	prev, cur, next := code(-30*time.Second), code(0), code(30*time.Second)

	// Each step runs against the state left by the ones before.
	for _, tc := range []struct {
		name string
		code string
		now  time.Time
		want error
	}{
		{"previous step", prev, t0, nil},
		{"replay of the previous step", prev, t0, ErrCodeUsed},
		{"current step with spaces", cur[:3] + " " + cur[3:], t0, nil},
		{"replay of the current step", cur, t0, ErrCodeUsed},
		{"replay a step later", cur, t0.Add(30 * time.Second), ErrCodeUsed},
		{"next step", next, t0, nil},
		{"replay of the next step", next, t0.Add(30 * time.Second), ErrCodeUsed},
		{"wrong", wrongCode(t, e.Secret, t0), t0, ErrInvalidCode},
		{"too short", cur[:5], t0, ErrInvalidCode},
		{"too long", cur + "0", t0, ErrInvalidCode},
		{"letters", "12a456", t0, ErrInvalidCode},
		{"non-ASCII digits", "١٢٣٤٥٦", t0, ErrInvalidCode},
		{"later", code(5 * time.Minute), t0.Add(5 * time.Minute), nil},
	} {
		if err := tp.Verify(ctx, "alice", tc.code, tc.now); !errors.Is(err, tc.want) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}

	// A code of an earlier step, unused but within the window, after a later
	// step was used.
	later := t0.Add(10 * time.Minute)
	if err := tp.Verify(ctx, "alice", codeAt(t, e.Secret, later.Add(30*time.Second)), later); err != nil {
		t.Fatal(err)
	}
	if err := tp.Verify(ctx, "alice", codeAt(t, e.Secret, later), later); !errors.Is(err, ErrCodeUsed) {
		t.Fatalf("earlier step after a later one: err = %v, want ErrCodeUsed", err)
	}

	// A sealed secret copied to another user's row does not open there.
	s, err := db.GetTOTPSecret(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutTOTPSecret(ctx, store.TOTPSecret{Username: "mallory", Sealed: s.Sealed, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	err = tp.Verify(ctx, "mallory", codeAt(t, e.Secret, later.Add(time.Minute)), later.Add(time.Minute))
	if err == nil || errors.Is(err, ErrInvalidCode) || strings.Contains(err.Error(), e.Secret) {
		t.Fatalf("Verify with a moved secret: err = %v, want an unseal error without the secret", err)
	}

	if err := tp.Remove(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if ok, err := tp.Enrolled(ctx, "alice"); err != nil || ok {
		t.Fatalf("Enrolled after Remove = %v, %v", ok, err)
	}
	if err := tp.Verify(ctx, "alice", code(time.Hour), t0.Add(time.Hour)); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("Verify after Remove: err = %v, want ErrNotEnrolled", err)
	}
	if err := tp.Remove(ctx, "alice"); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if err := tp.Verify(ctx, "nobody", cur, t0); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("Verify for an unknown user: err = %v, want ErrNotEnrolled", err)
	}
}

func TestTOTPConcurrentVerify(t *testing.T) {
	tp, _ := newTestTOTP(t)
	ctx := context.Background()
	e, err := tp.AdminEnroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	code := codeAt(t, e.Secret, t0)

	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = tp.Verify(ctx, "alice", code, t0)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrCodeUsed):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one code succeeded, want exactly 1", ok, n)
	}
}

func TestTerminalQR(t *testing.T) {
	uri := "otpauth://totp/auth.example.com:alice?algorithm=SHA1&digits=6&issuer=auth.example.com&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	out := TerminalQR(uri)
	code, err := qrCode(uri)
	if err != nil {
		t.Fatal(err)
	}
	n := code.Bounds().Dx()
	w := n + 2*terminalQuietZone

	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != (w+1)/2 {
		t.Fatalf("%d lines, want %d", len(lines), (w+1)/2)
	}
	// Decode the half blocks back into modules and compare with the code.
	for i, line := range lines {
		runes := []rune(line)
		if len(runes) != w {
			t.Fatalf("line %d has %d columns, want %d", i, len(runes), w)
		}
		for x, r := range runes {
			var top, bottom bool
			switch r {
			case '█':
				top, bottom = true, true
			case '▀':
				top = true
			case '▄':
				bottom = true
			case ' ':
			default:
				t.Fatalf("line %d: unexpected %q", i, r)
			}
			for dy, lightGot := range []bool{top, bottom} {
				y := 2*i + dy
				var want bool
				switch mx, my := x-terminalQuietZone, y-terminalQuietZone; {
				case y >= w:
					want = false // below the code: terminal background
				case mx < 0 || my < 0 || mx >= n || my >= n:
					want = true // quiet zone
				default:
					want = !isDark(code, mx, my)
				}
				if lightGot != want {
					t.Fatalf("module (%d, %d): light = %v, want %v", x, y, lightGot, want)
				}
			}
		}
	}
	if TerminalQR(strings.Repeat("x", 5000)) != "" {
		t.Error("an URI too long for a QR code gave output")
	}
}

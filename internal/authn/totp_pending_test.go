package authn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestTOTPPendingEnrollment(t *testing.T) {
	tp, _ := newTestTOTP(t)
	ctx := context.Background()
	first, err := tp.Enroll(ctx, "alice")
	if err != nil || first.Proof == "" {
		t.Fatalf("Enroll: %+v %v", first, err)
	}
	again, ok, err := tp.PendingEnrollment(ctx, "alice", first.Proof)
	if err != nil || !ok || again.Secret != first.Secret || again.URI != first.URI || len(again.QRPNG) == 0 {
		t.Fatalf("PendingEnrollment with the proof: ok=%v err=%v, secret same=%v uri same=%v", ok, err, again.Secret == first.Secret, again.URI == first.URI)
	}
	// Another proof: the same but for its last character (changed, whatever
	// it was: a fixed "A" is the same proof once in 64 runs).
	last := "A"
	if strings.HasSuffix(first.Proof, last) {
		last = "B"
	}
	for name, tc := range map[string]struct{ user, proof string }{
		"no proof":      {"alice", ""},
		"another proof": {"alice", first.Proof[:len(first.Proof)-1] + last},
		"another user":  {"bob", first.Proof},
	} {
		if e, ok, err := tp.PendingEnrollment(ctx, tc.user, tc.proof); ok || err != nil || e.Secret != "" {
			t.Errorf("%s: ok=%v err=%v secret shown=%v", name, ok, err, e.Secret != "")
		}
	}
	// A new enrolment replaces the key: the old proof shows nothing.
	second, err := tp.Enroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := tp.PendingEnrollment(ctx, "alice", first.Proof); ok {
		t.Error("the proof of a replaced key still shows a key")
	}
	// Once confirmed, the key is never shown again.
	code, err := totp.GenerateCodeCustom(second.Secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Confirm(ctx, "alice", code, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := tp.PendingEnrollment(ctx, "alice", second.Proof); ok {
		t.Error("a confirmed key is shown again")
	}
}

package authn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestTOTPAdminImport(t *testing.T) {
	tp, _ := newTestTOTP(t)
	ctx := context.Background()
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	// As a person might paste it: lower case, grouped, padded.
	e, err := tp.AdminImport(ctx, "alice", strings.ToLower("JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Secret != secret || !strings.Contains(e.URI, "secret="+secret) || len(e.QRPNG) == 0 {
		t.Errorf("enrollment %q %q", e.Secret, e.URI)
	}
	now := time.Now()
	code, err := totp.GenerateCodeCustom(secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Verify(ctx, "alice", code, now); err != nil {
		t.Errorf("a code of the imported secret: %v", err)
	}
	for _, bad := range []string{"not base32!", "JBSWY3DP"} {
		if _, err := tp.AdminImport(ctx, "bob", bad); err == nil {
			t.Errorf("imported %q", bad)
		}
	}
	if err := CheckTOTPParameters("sha1", 6, 30); err != nil {
		t.Error(err)
	}
	if err := CheckTOTPParameters("", 0, 0); err != nil {
		t.Error(err)
	}
	for _, p := range []struct {
		alg         string
		digits, per int
	}{{"SHA256", 6, 30}, {"SHA1", 8, 30}, {"SHA1", 6, 60}} {
		if err := CheckTOTPParameters(p.alg, p.digits, p.per); err == nil || !strings.Contains(err.Error(), "enrol again") {
			t.Errorf("%v: %v", p, err)
		}
	}
}

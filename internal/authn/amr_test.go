package authn

import (
	"slices"
	"testing"
)

func TestWithMFA(t *testing.T) {
	cases := []struct {
		amr, want []string
	}{
		{nil, nil},
		{[]string{"pwd"}, []string{"pwd"}},
		{[]string{"hwk"}, []string{"hwk"}}, // a security key without user verification: one factor
		{[]string{"hwk", "user"}, []string{"hwk", "user", "mfa"}},        // passwordless passkey, user verified
		{[]string{"pwd", "otp"}, []string{"pwd", "otp", "mfa"}},          // password and authenticator app
		{[]string{"pwd", "hwk"}, []string{"pwd", "hwk", "mfa"}},          // password and passkey as second factor
		{[]string{"pwd", "hwk", "mfa"}, []string{"pwd", "hwk", "mfa"}},   // already there: not twice
		{[]string{"hwk", "user", "mfa"}, []string{"hwk", "user", "mfa"}}, // as new passkey sessions store it
		{[]string{"otp"}, []string{"otp"}},                               // a code alone is one factor
	}
	for _, tc := range cases {
		in := slices.Clone(tc.amr)
		got := WithMFA(tc.amr)
		if !slices.Equal(got, tc.want) {
			t.Errorf("WithMFA(%v) = %v, want %v", tc.amr, got, tc.want)
		}
		if !slices.Equal(tc.amr, in) {
			t.Errorf("WithMFA modified its argument: %v became %v", in, tc.amr)
		}
		// amr and acr agree: "mfa" in amr exactly when two factors.
		if slices.Contains(got, "mfa") != IsTwoFactor(got) {
			t.Errorf("WithMFA(%v) = %v: mfa and IsTwoFactor disagree", tc.amr, got)
		}
	}
}

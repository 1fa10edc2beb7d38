package authn

import "slices"

// WithMFA returns amr with "mfa" added when it shows two factors
// ([IsTwoFactor]) and lacks it, so that the amr claim and the acr claim
// ("2" exactly for two factors) always agree: a relying party that looks
// for "mfa" in amr sees a passwordless sign-in with a user-verifying
// passkey (hwk and user) as the multi-factor sign-in it is. Login sessions
// stored before the passkey sign-in recorded "mfa" itself get it here too.
// amr itself is never modified.
func WithMFA(amr []string) []string {
	if !IsTwoFactor(amr) || slices.Contains(amr, "mfa") {
		return amr
	}
	return append(slices.Clone(amr), "mfa")
}

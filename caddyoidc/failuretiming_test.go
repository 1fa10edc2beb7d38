package caddyoidc_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers/ldaptest"
)

// TestBanTimingLooksLikeWrongPassword compares the answer times of banned
// attempts, wrong passwords and unknown users on the login page: a ban used
// to answer in about half the time (it skips recording the attempt), which
// told a ban, and so a real account, apart. Many samples of each kind are
// interleaved and their medians compared with a tolerance.
func TestBanTimingLooksLikeWrongPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical timing test")
	}
	t.Run("file", func(t *testing.T) {
		e := newEnv(t, ldapClients)
		e.extra = banRegulation
		e.start()
		banTiming(t, e, testPassword, testPassword)
	})
	t.Run("ldap", func(t *testing.T) {
		e, _ := ldapEnv(t, banRegulation)
		banTiming(t, e, ldaptest.AlicePassword, ldaptest.BobPassword)
	})
}

const banRegulation = "\t\tregulation {\n\t\t\tmax_retries 3\n\t\t\tban_time 1h\n\t\t}\n"

func banTiming(t *testing.T, e *env, alicePassword, bobPassword string) {
	r := newRP(t, e.issuer, "ldap-app", "s3cret-ldap", oauth2.AuthStyleInHeader)
	authURL := r.config.AuthCodeURL("st4te-value")
	attempt := func(user, password string) (time.Duration, int) {
		b := newBrowser(t, e.issuer)
		p := b.get(authURL)
		form := p.formFields()
		form.Set("username", user)
		form.Set("password", password)
		start := time.Now()
		res := b.post(p.formAction(e.issuer), form)
		return time.Since(start), res.status
	}
	for range 3 { // ban bob
		attempt("bob", "wrong")
	}
	const rounds = 40
	var banned, wrong, unknown []time.Duration
	for i := range rounds + 4 {
		db, sb := attempt("bob", bobPassword) // banned: refused even with the right password
		dw, sw := attempt("alice", "wrong")
		du, su := attempt("nobody"+strings.Repeat("x", i%5), "wrong")
		if sb != http.StatusUnauthorized || sw != http.StatusUnauthorized || su != http.StatusUnauthorized {
			t.Fatalf("round %d: statuses banned %d wrong %d unknown %d, want 401", i, sb, sw, su)
		}
		// A success resets the address's count, so that the address itself
		// is never banned by the samples.
		if _, s := attempt("alice", alicePassword); s != http.StatusSeeOther && s != http.StatusFound {
			t.Fatalf("round %d: alice's sign-in: %d", i, s)
		}
		if i >= 4 { // warm-up rounds are not counted
			banned, wrong, unknown = append(banned, db), append(wrong, dw), append(unknown, du)
		}
	}
	median := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	mb, mw, mu := median(banned), median(wrong), median(unknown)
	t.Logf("medians over %d samples: banned %v, wrong password %v, unknown user %v", rounds, mb, mw, mu)
	within := func(a, b time.Duration) bool {
		ra := float64(a) / float64(b)
		return ra > 0.8 && ra < 1.25
	}
	if !within(mb, mw) {
		t.Errorf("banned attempts answer in %v, wrong passwords in %v: a ban can be told apart", mb, mw)
	}
	if !within(mu, mw) {
		t.Errorf("unknown users answer in %v, wrong passwords in %v: usernames can be probed", mu, mw)
	}
}

package clients

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"
)

// A client_secret_jwt assertion is checked against the authenticator's
// clock: valid until its exp (plus the leeway), used once. The clock
// moves; nothing sleeps.
func TestAssertionExpiryAndReplay(t *testing.T) {
	secret := strings.Repeat("k", 32)
	var shift time.Duration
	now := func() time.Time { return time.Now().Add(shift) }
	a := newTestAuth(t, now, Config{ID: "jwt-app", Secret: secret, TokenEndpointAuthMethod: AuthMethodSecretJWT, GrantTypes: []string{"client_credentials"}})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertion := func(jti string, exp time.Time) url.Values {
		tok, err := jwt.Signed(signer).Claims(jwt.Claims{
			Issuer: "jwt-app", Subject: "jwt-app", Audience: jwt.Audience{testIssuer + "/api/oidc/token"},
			ID: jti, Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now()),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return url.Values{"client_assertion_type": {clientAssertionType}, "client_assertion": {tok}}
	}
	auth := func(form url.Values) error {
		r := basicRequest("", "", form)
		r.Header.Del("Authorization")
		_, err := a.Authenticate(context.Background(), r, form)
		return err
	}
	hint := func(err error) string { return fosite.ErrorToRFC6749Error(err).HintField }

	fresh := assertion("a", now().Add(5*time.Minute))
	if err := auth(fresh); err != nil {
		t.Fatalf("fresh assertion: %v (%s)", err, hint(err))
	}
	if err := auth(fresh); err == nil || !strings.Contains(hint(err), "already used") {
		t.Errorf("replayed assertion: %v (%s)", err, hint(err))
	}
	late := assertion("b", now().Add(5*time.Minute))
	shift += 5*time.Minute + assertionLeeway + time.Second
	if err := auth(late); err == nil || !strings.Contains(hint(err), "expired") {
		t.Errorf("assertion past exp and leeway: %v (%s)", err, hint(err))
	}
	if err := auth(assertion("c", now().Add(2*assertionMaxLifetime))); err == nil || !strings.Contains(hint(err), "short-lived") {
		t.Errorf("assertion expiring too far ahead: %v (%s)", err, hint(err))
	}
}

package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// MaxKeyLength is the longest text, in characters, that every backend
// accepts in a key or indexed column such as a username or client ID (on
// MySQL these are VARCHAR(255)).
const MaxKeyLength = 255

// testLongValues stores the longest values the store promises to accept on
// every backend: keys of MaxKeyLength characters outside ASCII (four bytes
// each in UTF-8) and a WebAuthn credential ID of the largest size (1023
// bytes, 1364 characters base64url-encoded), and checks they compare
// exactly (case and trailing spaces matter).
func testLongValues(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now()
	user := strings.Repeat("😀", MaxKeyLength)
	sector := strings.Repeat("s", MaxKeyLength)
	if err := db.CreateLoginSession(ctx, store.LoginSession{ID: "long", Username: user, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if s, err := db.GetLoginSession(ctx, "long", now); err != nil || s.Username != user {
		t.Fatalf("long username: %v", err)
	}
	sub, err := db.Subject(ctx, user, sector)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutTOTPSecret(ctx, store.TOTPSecret{Username: user, Sealed: strings.Repeat("x", 100000)}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutConsent(ctx, store.Consent{Username: user, ClientID: sector, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordAttempt(ctx, store.Attempt{Username: user, RemoteIP: "2001:db8::/64", Factor: "password", At: now}); err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("A", 1364)
	if err := db.CreateWebAuthnCredential(ctx, store.WebAuthnCredential{ID: id, Username: user, Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if c, err := db.WebAuthnCredential(ctx, id); err != nil || c.Username != user {
		t.Fatalf("long credential id: %v", err)
	}

	// Keys compare byte for byte.
	for _, other := range []string{"ALICE", "alice ", "alicé"} {
		if s, err := db.Subject(ctx, "alice", ""); err != nil {
			t.Fatal(err)
		} else if o, err := db.Subject(ctx, other, ""); err != nil || o == s {
			t.Errorf("%q and %q share a subject (%v)", "alice", other, err)
		}
	}
	if s2, err := db.Subject(ctx, user, sector); err != nil || s2 != sub {
		t.Errorf("subject of the long username changed: %q, %v", s2, err)
	}
	if _, err := db.WebAuthnCredential(ctx, strings.Repeat("a", 1364)); err == nil {
		t.Error("credential IDs compare without case")
	}
}

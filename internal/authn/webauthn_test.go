package authn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/authn/passkeytest"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func newTestPasskeys(t *testing.T, issuer string) (*Passkeys, *store.DB) {
	t.Helper()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "oidc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	rp, err := NewRelyingParty(issuer, "")
	if err != nil {
		t.Fatal(err)
	}
	return NewPasskeys(rp, db), db
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewRelyingParty(t *testing.T) {
	for _, tc := range []struct {
		issuer, display, rpID, origin, name string
		err                                 error
	}{
		{"https://auth.example.com", "", "auth.example.com", "https://auth.example.com", "auth.example.com", nil},
		{"https://auth.example.com:8443/idp", "", "auth.example.com", "https://auth.example.com:8443", "auth.example.com", nil},
		{"http://localhost:9080", "", "localhost", "http://localhost:9080", "localhost", nil},
		{"https://auth.example.com", "Example Sign-in", "auth.example.com", "https://auth.example.com", "Example Sign-in", nil},
		{"http://127.0.0.1:9080", "", "", "", "", ErrPasskeyUnavailable},
		{"https://[::1]:8443", "Named", "", "", "", ErrPasskeyUnavailable},
	} {
		rp, err := NewRelyingParty(tc.issuer, tc.display)
		if !errors.Is(err, tc.err) || (tc.err == nil) != (rp != nil) {
			t.Errorf("%s: err = %v, want %v", tc.issuer, err, tc.err)
			continue
		}
		if rp != nil && (rp.Config.RPID != tc.rpID || len(rp.Config.RPOrigins) != 1 || rp.Config.RPOrigins[0] != tc.origin || rp.Config.RPDisplayName != tc.name) {
			t.Errorf("%s: rp id %q origins %v name %q", tc.issuer, rp.Config.RPID, rp.Config.RPOrigins, rp.Config.RPDisplayName)
		}
	}
	if _, err := NewRelyingParty("not a url", ""); err == nil {
		t.Error("a relative issuer: want an error")
	}
}

func TestPasskeyCeremonies(t *testing.T) {
	const issuer = "https://auth.example.com"
	k, db := newTestPasskeys(t, issuer)
	ctx := context.Background()
	auth := passkeytest.New(issuer)

	// Registration.
	opts, id, err := k.BeginRegistration(ctx, "alice", "Alice Example")
	if err != nil {
		t.Fatal(err)
	}
	if opts.RelyingParty.ID != "auth.example.com" || opts.User.Name != "alice" || opts.User.DisplayName != "Alice Example" ||
		opts.AuthenticatorSelection.ResidentKey != "preferred" || opts.AuthenticatorSelection.UserVerification != "preferred" ||
		opts.Attestation != "none" || len(opts.CredentialExcludeList) != 0 {
		t.Errorf("creation options: %+v", opts)
	}
	handle, _ := db.WebAuthnUserHandle(ctx, "alice")
	if got := mustJSON(t, opts.User.ID); string(got) != `"`+b64(handle)+`"` {
		t.Errorf("user.id = %s, want the stored random handle", got)
	}
	resp, _, err := auth.Create(mustJSON(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.FinishRegistration(ctx, "bob", id, "x", resp); !errors.Is(err, ErrPasskeyCeremony) {
		t.Errorf("finish as another user: err = %v, want ErrPasskeyCeremony", err)
	}
	// That attempt consumed the ceremony: begin again, with an authenticator
	// that forgot the credential it made for it. cred is the one registered.
	opts, id, err = k.BeginRegistration(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	auth.Credentials = nil
	resp, cred, err := auth.Create(mustJSON(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := k.FinishRegistration(ctx, "alice", id, "Laptop", resp)
	if err != nil {
		t.Fatal(err)
	}
	if pk.Name != "Laptop" || !pk.Discoverable || pk.ID != b64(cred.ID) || pk.CreatedAt.IsZero() {
		t.Errorf("registered %+v", pk)
	}
	if _, err := k.FinishRegistration(ctx, "alice", id, "Laptop", resp); !errors.Is(err, ErrPasskeyCeremony) {
		t.Errorf("replayed registration: err = %v, want ErrPasskeyCeremony", err)
	}
	// The next registration excludes it.
	opts, _, _ = k.BeginRegistration(ctx, "alice", "")
	if len(opts.CredentialExcludeList) != 1 || b64(opts.CredentialExcludeList[0].CredentialID) != pk.ID {
		t.Errorf("excludeCredentials = %+v", opts.CredentialExcludeList)
	}
	if _, _, err := auth.Create(mustJSON(t, opts)); err == nil {
		t.Error("the authenticator registered an excluded credential twice")
	}

	// Passwordless login.
	login := func() (*PasskeyResult, error) {
		t.Helper()
		o, id, err := k.BeginLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.AllowedCredentials) != 0 || o.UserVerification != "required" || o.RelyingPartyID != "auth.example.com" {
			t.Errorf("login options: %+v", o)
		}
		resp, err := auth.Get(mustJSON(t, o))
		if err != nil {
			t.Fatal(err)
		}
		return k.FinishLogin(ctx, id, resp)
	}
	res, err := login()
	if err != nil {
		t.Fatal(err)
	}
	if res.Username != "alice" || !res.UserVerified || res.CredentialID != pk.ID {
		t.Errorf("login result %+v", res)
	}
	list, _ := k.List(ctx, "alice")
	if len(list) != 1 || list[0].LastUsedAt.IsZero() || !list[0].Discoverable {
		t.Errorf("after login: %+v", list)
	}

	// Passwordless login needs user verification.
	auth.UV = false
	if _, err := login(); !errors.Is(err, ErrPasskeyRefused) {
		t.Errorf("login without UV: err = %v, want ErrPasskeyRefused", err)
	}
	auth.UV = true

	// Wrong origin.
	auth.Origin = "https://evil.example.com"
	if _, err := login(); !errors.Is(err, ErrPasskeyRefused) {
		t.Errorf("login from another origin: err = %v, want ErrPasskeyRefused", err)
	}
	auth.Origin = issuer

	// Replay: the same answer to a used ceremony, and the same answer to a
	// new ceremony (wrong challenge).
	o, id, _ := k.BeginLogin(ctx)
	resp, _ = auth.Get(mustJSON(t, o))
	if _, err := k.FinishLogin(ctx, id, resp); err != nil {
		t.Fatal(err)
	}
	if _, err := k.FinishLogin(ctx, id, resp); !errors.Is(err, ErrPasskeyCeremony) {
		t.Errorf("replayed ceremony: err = %v, want ErrPasskeyCeremony", err)
	}
	_, id2, _ := k.BeginLogin(ctx)
	if _, err := k.FinishLogin(ctx, id2, resp); !errors.Is(err, ErrPasskeyRefused) {
		t.Errorf("replayed answer: err = %v, want ErrPasskeyRefused", err)
	}

	// A ceremony finishes only for its purpose.
	_, id2, _ = k.BeginLogin(ctx)
	if _, err := k.FinishSecondFactor(ctx, "alice", id2, resp); !errors.Is(err, ErrPasskeyCeremony) {
		t.Errorf("login ceremony finished as 2fa: err = %v", err)
	}

	// Malformed answers.
	_, id2, _ = k.BeginLogin(ctx)
	if _, err := k.FinishLogin(ctx, id2, []byte(`{"id":"x"}`)); !errors.Is(err, ErrPasskeyMalformed) {
		t.Errorf("malformed: err = %v, want ErrPasskeyMalformed", err)
	}

	// Expired ceremony.
	o, id2, _ = k.BeginLogin(ctx)
	resp, _ = auth.Get(mustJSON(t, o))
	k.now = func() time.Time { return time.Now().Add(PasskeyCeremonyLifetime + time.Second) }
	if _, err := k.FinishLogin(ctx, id2, resp); !errors.Is(err, ErrPasskeyCeremony) {
		t.Errorf("expired ceremony: err = %v, want ErrPasskeyCeremony", err)
	}
	k.now = time.Now

	// Second factor.
	if _, _, err := k.BeginSecondFactor(ctx, "bob"); !errors.Is(err, ErrNoPasskeys) {
		t.Errorf("2fa for a user without passkeys: err = %v", err)
	}
	o, id2, err = k.BeginSecondFactor(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.AllowedCredentials) != 1 || b64(o.AllowedCredentials[0].CredentialID) != pk.ID {
		t.Errorf("2fa allowCredentials = %+v", o.AllowedCredentials)
	}
	resp, _ = auth.Get(mustJSON(t, o))
	if _, err := k.FinishSecondFactor(ctx, "bob", id2, resp); !errors.Is(err, ErrPasskeyCeremony) {
		t.Errorf("alice's 2fa ceremony finished by bob: err = %v", err)
	}
	o, id2, _ = k.BeginSecondFactor(ctx, "alice")
	resp, _ = auth.Get(mustJSON(t, o))
	if res, err := k.FinishSecondFactor(ctx, "alice", id2, resp); err != nil || res.Username != "alice" {
		t.Fatalf("2fa: %+v, %v", res, err)
	}

	// A cloned authenticator: the counter goes backwards.
	cred.SignCount = 0
	if _, err := login(); !errors.Is(err, ErrPasskeyCloned) {
		t.Errorf("counter went backwards: err = %v, want ErrPasskeyCloned", err)
	}
	cred.SignCount = 100
	if _, err := login(); err != nil {
		t.Errorf("counter moved on: %v", err)
	}

	// A credential the provider does not know.
	other := passkeytest.New(issuer)
	opts2, _, _ := k.BeginRegistration(ctx, "carol", "")
	if _, _, err := other.Create(mustJSON(t, opts2)); err != nil {
		t.Fatal(err)
	}
	o, id2, _ = k.BeginLogin(ctx)
	resp, _ = other.Get(mustJSON(t, o))
	if _, err := k.FinishLogin(ctx, id2, resp); !errors.Is(err, ErrPasskeyRefused) {
		t.Errorf("unknown credential: err = %v, want ErrPasskeyRefused", err)
	}

	// Delete.
	if err := k.Delete(ctx, "bob", pk.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob deleting alice's passkey: err = %v", err)
	}
	if err := k.Delete(ctx, "alice", pk.ID); err != nil {
		t.Fatal(err)
	}
	if has, err := k.Has(ctx, "alice"); err != nil || has {
		t.Errorf("Has after delete = %v, %v", has, err)
	}
	if _, err := login(); !errors.Is(err, ErrPasskeyRefused) {
		t.Errorf("deleted credential: err = %v, want ErrPasskeyRefused", err)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

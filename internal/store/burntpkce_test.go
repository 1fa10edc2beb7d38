package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// authorizeWithPKCE stores code sig as an authorization does
// (WithCodeBundle): the code and its PKCE request in one row, kept by f
// once committed.
func authorizeWithPKCE(t *testing.T, f *store.Fosite, sig, challenge string) {
	t.Helper()
	r := storetest.NewRequest("req-" + sig)
	r.Form = url.Values{"code_challenge": {challenge}, "code_challenge_method": {"plain"}}
	tx, err := f.BeginTX(store.WithCodeBundle(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CreateAuthorizeCodeSession(tx, sig, r); err != nil {
		t.Fatal(err)
	}
	if err := f.CreatePKCERequestSession(tx, sig, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if codes, _ := store.KeptRows(f); codes != 1 {
		t.Fatalf("%d codes kept after the authorization, want 1", codes)
	}
}

// failedPKCEExchange runs the storage calls of a code exchange whose
// code_verifier is wrong: the code's PKCE request is burnt.
func failedPKCEExchange(t *testing.T, f *store.Fosite, sig string) {
	t.Helper()
	if err := exchangeWithPKCE(f, sig, false); !errors.Is(err, fosite.ErrInvalidGrant) {
		t.Fatalf("failed exchange: %v", err)
	}
}

// pkceAfterBurn reads the code and its PKCE request as an exchange does,
// and returns the first error.
func pkceAfterBurn(t *testing.T, f *store.Fosite, ctx context.Context, sig string) error {
	t.Helper()
	if _, err := f.GetAuthorizeCodeSession(ctx, sig, storetest.NewRequest("x").GetSession()); err != nil {
		return err
	}
	_, err := f.GetPKCERequestSession(ctx, sig, storetest.NewRequest("x").GetSession())
	return err
}

// TestBurntPKCERetiresKeptCode: a code's row changes in more than its
// active flag when an exchange fails on a wrong code_verifier: that burns
// the code's bundled PKCE request. The instance that issued the code keeps
// the row as written, PKCE request included (recentrows.go), and its token
// endpoint takes it from there, so the burn must retire the code too: the
// exchange's conditional invalidation then fails on every instance, as it
// does for a code used elsewhere. Found by review: the kept PKCE request
// let the issuing instance exchange a burnt code.
func TestBurntPKCERetiresKeptCode(t *testing.T) {
	t.Parallel()
	// exchangeAfterBurn runs what the issuing instance's token endpoint
	// does with a kept code: its PKCE request is still found there, and
	// the exchange must fail at the code's invalidation.
	exchangeAfterBurn := func(t *testing.T, f *store.Fosite, sig string) {
		t.Helper()
		ctx := store.WithDeferredDeletes(context.Background())
		// The kept code and its PKCE request are still found here (the
		// database would answer that the code is invalidated).
		if err := pkceAfterBurn(t, f, ctx, sig); err != nil {
			if !errors.Is(err, fosite.ErrNotFound) && !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
				t.Fatalf("code and PKCE request after the burn: %v", err)
			}
			return
		}
		err := commitSteps(ctx, f, func(tx context.Context) error { return f.InvalidateAuthorizeCodeSession(tx, sig) })
		if !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Errorf("the exchange of a code whose PKCE request was burnt: %v, want fosite.ErrInvalidatedAuthorizeCode", err)
		}
	}
	run := func(t *testing.T, issuer, other *store.DB) {
		f := store.NewFosite(issuer, storetest.Clients("c"))
		g := store.NewFosite(other, storetest.Clients("c"))
		const sig = "code-burnt"
		authorizeWithPKCE(t, f, sig, "challenge-0123456789-0123456789-0123456789-0123")
		failedPKCEExchange(t, g, sig) // on another instance or process
		// What the database says: the PKCE request is gone (read through
		// the other instance, which keeps nothing of this code).
		if err := pkceAfterBurn(t, g, store.WithDeferredDeletes(context.Background()), sig); !errors.Is(err, fosite.ErrNotFound) &&
			!errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("PKCE request after the failed exchange, read from the database: %v, want it gone", err)
		}
		exchangeAfterBurn(t, f, sig)
	}
	onTwoInstances(t, []string{"sqlite", "postgres"}, run)
	t.Run("one instance", func(t *testing.T) {
		// A failed exchange on the issuing instance itself, and a PKCE
		// request deleted outside the token endpoint's context.
		t.Parallel()
		db := openSQLite(t)
		f := store.NewFosite(db, storetest.Clients("c"))
		authorizeWithPKCE(t, f, "code-burnt-1", "challenge-0123456789-0123456789-0123456789-0123")
		failedPKCEExchange(t, f, "code-burnt-1")
		exchangeAfterBurn(t, f, "code-burnt-1")
		authorizeWithPKCE(t, f, "code-burnt-2", "challenge-0123456789-0123456789-0123456789-0123")
		if err := f.DeletePKCERequestSession(context.Background(), "code-burnt-2"); err != nil {
			t.Fatal(err)
		}
		exchangeAfterBurn(t, f, "code-burnt-2")
	})
}

// TestBurntPKCERetiresOldCode: the same for a code whose PKCE request is in
// a table of its own (written without WithCodeBundle, as older versions
// did): a failed exchange deletes the request and retires the code, so that
// an exchange without a code_verifier cannot follow (fosite's PKCE check
// then finds no challenge, and a client that need not use PKCE passes).
func TestBurntPKCERetiresOldCode(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	f := store.NewFosite(db, storetest.Clients("c"))
	const sig = "code-old-burnt"
	r := storetest.NewRequest("req-" + sig)
	r.Form = url.Values{"code_challenge": {"challenge-0123456789-0123456789-0123456789-0123"}, "code_challenge_method": {"plain"}}
	bg := context.Background()
	if err := f.CreateAuthorizeCodeSession(bg, sig, r); err != nil {
		t.Fatal(err)
	}
	if err := f.CreatePKCERequestSession(bg, sig, r); err != nil {
		t.Fatal(err)
	}
	failedPKCEExchange(t, f, sig)
	ctx := store.WithDeferredDeletes(bg)
	if _, err := f.GetAuthorizeCodeSession(ctx, sig, storetest.NewRequest("x").GetSession()); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		t.Errorf("the code after its PKCE request was burnt: %v, want fosite.ErrInvalidatedAuthorizeCode", err)
	}

	// A successful exchange of such a code deletes its PKCE request and
	// invalidates it once, in its own transaction.
	const ok = "code-old-used"
	r = storetest.NewRequest("req-" + ok)
	r.Form = url.Values{"code_challenge": {"challenge-0123456789-0123456789-0123456789-0123"}, "code_challenge_method": {"plain"}}
	if err := f.CreateAuthorizeCodeSession(bg, ok, r); err != nil {
		t.Fatal(err)
	}
	if err := f.CreatePKCERequestSession(bg, ok, r); err != nil {
		t.Fatal(err)
	}
	ctx = store.WithDeferredDeletes(bg)
	if _, err := f.GetAuthorizeCodeSession(ctx, ok, storetest.NewRequest("x").GetSession()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetPKCERequestSession(ctx, ok, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.DeletePKCERequestSession(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if err := commitSteps(ctx, f, func(tx context.Context) error { return f.InvalidateAuthorizeCodeSession(tx, ok) }); err != nil {
		t.Fatalf("the exchange of a code with its PKCE request in its own table: %v", err)
	}
	if _, err := f.GetPKCERequestSession(bg, ok, nil); !errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("its PKCE request after the exchange: %v, want fosite.ErrNotFound", err)
	}
}

// exchangeWithPKCE runs the storage calls of a code exchange in fosite's
// order (the explicit handler reads the code, the PKCE handler reads and
// deletes the PKCE request, then the explicit handler's transaction
// invalidates the code and stores the access token), then FlushDeferred as
// the token endpoint does; verifierOK says whether the PKCE check passes.
func exchangeWithPKCE(f *store.Fosite, sig string, verifierOK bool) error {
	ctx := store.WithDeferredDeletes(context.Background())
	defer func() { _ = f.FlushDeferred(ctx) }()
	if _, err := f.GetAuthorizeCodeSession(ctx, sig, storetest.NewRequest("x").GetSession()); err != nil {
		return err
	}
	if _, err := f.GetPKCERequestSession(ctx, sig, storetest.NewRequest("x").GetSession()); err != nil {
		return err
	}
	if err := f.DeletePKCERequestSession(ctx, sig); err != nil {
		return err
	}
	if !verifierOK {
		return fosite.ErrInvalidGrant
	}
	at := storetest.NewRequest("req-" + sig)
	at.Session.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
	return commitSteps(ctx, f,
		func(tx context.Context) error { return f.InvalidateAuthorizeCodeSession(tx, sig) },
		func(tx context.Context) error { return f.CreateAccessTokenSession(tx, "at-"+sig, at) },
	)
}

// codeWithPKCE stores code sig with a PKCE request as an authorization
// does: in the code's row, or (bundled false) in its own table, as a
// hybrid flow's authorization does, whose access token makes the PKCE
// request's session differ from the code's.
func codeWithPKCE(t *testing.T, f *store.Fosite, sig string, bundled bool) {
	t.Helper()
	r := storetest.NewRequest("req-" + sig)
	r.Form = url.Values{"code_challenge": {"challenge-0123456789-0123456789-0123456789-0123"}, "code_challenge_method": {"plain"}}
	r.Session.SetExpiresAt(fosite.AuthorizeCode, time.Now().Add(time.Minute))
	tx, err := f.BeginTX(store.WithCodeBundle(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CreateAuthorizeCodeSession(tx, sig, r); err != nil {
		t.Fatal(err)
	}
	if !bundled {
		r.Session.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
		if err := f.CreateAccessTokenSession(tx, "hybrid-at-"+sig, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.CreatePKCERequestSession(tx, sig, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(tx); err != nil {
		t.Fatal(err)
	}
}

// TestPKCEExchangeOutcomes runs code exchanges on every backend, on the
// instance that issued (and keeps) the code and on another one, with the
// PKCE request in the code's row and in its own table: a passing exchange
// succeeds once, and after a failed PKCE check no instance exchanges the
// code, even with the right verifier. (Written by a review of the caches.)
func TestPKCEExchangeOutcomes(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, issuer, other *store.DB) {
		f := store.NewFosite(issuer, storetest.Clients("c"))
		g := store.NewFosite(other, storetest.Clients("c"))
		for _, bundled := range []bool{true, false} {
			where := map[bool]string{true: "bundled", false: "own table"}[bundled]
			for i, ex := range []*store.Fosite{f, g} { // kept code, code read
				sig := fmt.Sprintf("%s-ok-%d", where, i)
				codeWithPKCE(t, f, sig, bundled)
				if err := exchangeWithPKCE(ex, sig, true); err != nil {
					t.Errorf("%s, instance %d: exchange: %v", where, i, err)
				}
				if err := exchangeWithPKCE(ex, sig, true); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) && !errors.Is(err, fosite.ErrNotFound) {
					t.Errorf("%s, instance %d: second exchange: %v, want the code used", where, i, err)
				}
				sig = fmt.Sprintf("%s-burnt-%d", where, i)
				codeWithPKCE(t, f, sig, bundled)
				if err := exchangeWithPKCE(ex, sig, false); !errors.Is(err, fosite.ErrInvalidGrant) {
					t.Fatalf("%s: failed exchange: %v", where, err)
				}
				for j, again := range []*store.Fosite{f, g} {
					if err := exchangeWithPKCE(again, sig, true); err == nil {
						t.Errorf("%s, failed on instance %d: instance %d exchanged the code after all", where, i, j)
					}
				}
			}
		}
	}
	onTwoInstances(t, []string{"sqlite", "postgres", "mysql"}, run)
}

// onTwoInstances runs run, in a parallel subtest per backend, with two
// handles on one fresh database: on SQLite two on one file, as two
// processes would have; on PostgreSQL two instances, each with its
// listener; on MySQL two pools.
func onTwoInstances(t *testing.T, backends []string, run func(t *testing.T, a, b *store.DB)) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			switch backend {
			case "sqlite":
				path := filepath.Join(t.TempDir(), "oidc.db")
				run(t, openSQLiteFile(t, path, store.SQLiteOptions{}), openSQLiteFile(t, path, store.SQLiteOptions{}))
			case "postgres":
				dbs, _ := openInstances(t, 2)
				run(t, dbs[0], dbs[1])
			case "mysql":
				open := storetest.MySQL(t).Database(t)
				a, err := open()
				if err != nil {
					t.Fatal(err)
				}
				b, err := open()
				if err != nil {
					t.Fatal(err)
				}
				run(t, a, b)
			default:
				t.Fatalf("no backend %q", backend)
			}
		})
	}
}

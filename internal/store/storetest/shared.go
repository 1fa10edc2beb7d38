package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// raceRounds is how many rounds each race runs.
const raceRounds = 50

// race runs rounds of 2 to 8 goroutines, alternately on a and b, released at
// once. setup prepares round r; try is one contender's attempt and reports
// whether it won; an error that is not a loss fails the test. Every round
// must have exactly one winner.
func race(t *testing.T, a, b *store.DB, rounds int, setup func(r int), try func(db *store.DB, r, g int) (bool, error)) {
	t.Helper()
	for r := range rounds {
		setup(r)
		n := 2 + r%7
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			wins  = make([]bool, n)
			errs  = make([]error, n)
		)
		for g := range n {
			db := a
			if g%2 == 1 {
				db = b
			}
			wg.Go(func() {
				<-start
				wins[g], errs[g] = try(db, r, g)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for g := range n {
			if errs[g] != nil {
				t.Fatalf("round %d, contender %d of %d: %v", r, g, n, errs[g])
			}
			if wins[g] {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d contenders won, want exactly 1", r, won, n)
		}
	}
}

// lost maps the error of a contender: nil wins, an error matching want
// loses, anything else is an error.
func lost(err error, want ...error) (bool, error) {
	if err == nil {
		return true, nil
	}
	for _, w := range want {
		if errors.Is(err, w) {
			return false, nil
		}
	}
	return false, err
}

func testConcurrentStart(t *testing.T, open func() (*store.DB, error)) {
	const n = 4
	dbs := make([]*store.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = open() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	ms := store.Migrations()
	var count, newest int64
	if err := dbs[0].QueryRowContext(context.Background(), `SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&count, &newest); err != nil {
		t.Fatal(err)
	}
	if count != int64(len(ms)) || newest != ms[len(ms)-1].Version {
		t.Errorf("schema_version: %d rows up to %d, want %d up to %d", count, newest, len(ms), ms[len(ms)-1].Version)
	}
	// Every instance works.
	for i, db := range dbs {
		if _, err := db.Subject(context.Background(), "alice", ""); err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
}

func testNewerSchemaRefused(t *testing.T, open func() (*store.DB, error)) {
	a, err := open()
	if err != nil {
		t.Fatal(err)
	}
	ms := store.Migrations()
	latest := ms[len(ms)-1].Version
	if _, err := a.ExecContext(context.Background(), `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, latest+1, 0); err != nil {
		t.Fatal(err)
	}
	b, err := open()
	if err == nil {
		t.Fatal("opened a database migrated by a newer build")
	}
	_ = b
	want := fmt.Sprintf("database schema version %d is newer than this build supports (%d); upgrade caddy-oidc", latest+1, latest)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
}

func testPersistence(t *testing.T, open func() (*store.DB, error)) {
	ctx := context.Background()
	a, err := open()
	if err != nil {
		t.Fatal(err)
	}
	want := newTestRequest("persist")
	if err := store.NewFosite(a, Clients("c")).CreateRefreshTokenSession(ctx, "rt", "at", want); err != nil {
		t.Fatal(err)
	}
	sub, err := a.Subject(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.NewFosite(b, Clients("c")).GetRefreshTokenSession(ctx, "rt", newSession())
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, got, want)
	if sub2, err := b.Subject(ctx, "alice", ""); err != nil || sub2 != sub {
		t.Errorf("subject after reopen = %q, %v; want %q", sub2, err, sub)
	}
}

func testVisibility(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	ctx := context.Background()
	now := time.Now()
	s := store.LoginSession{ID: "cookie-shared-0123456789", Username: "alice", AMR: []string{"pwd"}, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetLoginSession(ctx, s.ID, now); err != nil || got.Username != "alice" {
		t.Fatalf("created on one, read on the other: %+v, %v", got, err)
	}
	s.AMR = []string{"pwd", "otp"}
	if err := b.UpdateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err := a.GetLoginSession(ctx, s.ID, now); err != nil || len(got.AMR) != 2 {
		t.Fatalf("updated on one, read on the other: %+v, %v", got, err)
	}
	if err := a.DeleteLoginSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetLoginSession(ctx, s.ID, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted on one, read on the other: err = %v, want ErrNotFound", err)
	}
	// Inside a transaction too, what the other instance committed is seen
	// (READ COMMITTED). Not on SQLite, whose transactions hold the write
	// lock: the other instance could not write meanwhile.
	if b.Backend() == "sqlite" {
		return
	}
	tx, err := b.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback(tx) //nolint:errcheck
	if _, err := b.GetLoginSession(tx, "nope", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	s.ID = "cookie-shared-created-during-tx"
	if err := a.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetLoginSession(tx, s.ID, now); err != nil {
		t.Errorf("a session committed by the other instance is not seen in a transaction begun before: %v", err)
	}
}

// testSharedCodeRace exchanges one authorization code on several instances
// at once, as fosite does (invalidate the code and issue a token in one
// transaction): exactly one exchange may succeed.
func testSharedCodeRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	fa, fb := store.NewFosite(a, Clients("c")), store.NewFosite(b, Clients("c"))
	ctx := context.Background()
	race(t, a, b, raceRounds, func(r int) {
		if err := fa.CreateAuthorizeCodeSession(ctx, fmt.Sprint("code-", r), newTestRequest(fmt.Sprint("grant-", r))); err != nil {
			t.Fatal(err)
		}
	}, func(db *store.DB, r, g int) (bool, error) {
		f := fa
		if db == b {
			f = fb
		}
		tx, err := f.BeginTX(ctx)
		if err != nil {
			return false, err
		}
		err = f.InvalidateAuthorizeCodeSession(tx, fmt.Sprint("code-", r))
		if err == nil {
			err = f.CreateAccessTokenSession(tx, fmt.Sprintf("at-%d-%d", r, g), newTestRequest(fmt.Sprint("grant-", r)))
		}
		if err != nil {
			_ = f.Rollback(tx)
			return lost(err, fosite.ErrInvalidatedAuthorizeCode)
		}
		// On PostgreSQL the invalidation is sent with the commit
		// (pipelined), so a lost race shows there.
		return lost(f.Commit(tx), fosite.ErrInvalidatedAuthorizeCode)
	})
}

// testSharedRefreshRace runs fosite's refresh sequence (read outside a
// transaction, then rotate and issue inside one) with one token on several
// instances at once: exactly one may succeed.
func testSharedRefreshRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	fa, fb := store.NewFosite(a, Clients("c")), store.NewFosite(b, Clients("c"))
	ctx := context.Background()
	race(t, a, b, raceRounds, func(r int) {
		grant := fmt.Sprint("grant-", r)
		if err := fa.CreateRefreshTokenSession(ctx, "rt-"+grant, "at-"+grant, newTestRequest(grant)); err != nil {
			t.Fatal(err)
		}
	}, func(db *store.DB, r, g int) (bool, error) {
		f := fa
		if db == b {
			f = fb
		}
		grant := fmt.Sprint("grant-", r)
		req, err := f.GetRefreshTokenSession(ctx, "rt-"+grant, newSession())
		if err != nil {
			// A contender that reads after the winner committed sees an
			// inactive token: fosite then treats it as reuse.
			return lost(err, fosite.ErrInactiveToken)
		}
		tx, err := f.BeginTX(ctx)
		if err != nil {
			return false, err
		}
		suffix := fmt.Sprintf("%s-%d", grant, g)
		err = f.RotateRefreshToken(tx, req.GetID(), "rt-"+grant)
		if err == nil {
			err = f.CreateAccessTokenSession(tx, "at-"+suffix, req)
		}
		if err == nil {
			err = f.CreateRefreshTokenSession(tx, "rt-"+suffix, "at-"+suffix, req)
		}
		if err != nil {
			_ = f.Rollback(tx)
			return lost(err, fosite.ErrSerializationFailure)
		}
		// On PostgreSQL the rotation is sent with the commit (pipelined),
		// so a lost race may show there, as fosite allows.
		return lost(f.Commit(tx), fosite.ErrSerializationFailure)
	})
}

func testSharedTOTPRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	ctx := context.Background()
	race(t, a, b, raceRounds, func(r int) {
		if err := a.PutTOTPSecret(ctx, store.TOTPSecret{Username: fmt.Sprint("user-", r), Sealed: "s", Confirmed: true, LastStep: 99}); err != nil {
			t.Fatal(err)
		}
	}, func(db *store.DB, r, g int) (bool, error) {
		return db.AdvanceTOTPStep(ctx, fmt.Sprint("user-", r), 100)
	})
}

func testSharedCeremonyRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	ctx := context.Background()
	now := time.Now()
	race(t, a, b, raceRounds, func(r int) {
		if err := a.PutWebAuthnCeremony(ctx, fmt.Sprint("ceremony-", r), []byte(`{}`), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}, func(db *store.DB, r, g int) (bool, error) {
		_, err := db.TakeWebAuthnCeremony(ctx, fmt.Sprint("ceremony-", r), now)
		return lost(err, store.ErrNotFound)
	})
}

func testSharedPARRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	fa, fb := store.NewFosite(a, Clients("c")), store.NewFosite(b, Clients("c"))
	ctx := context.Background()
	race(t, a, b, raceRounds, func(r int) {
		if err := fa.CreatePARSession(ctx, fmt.Sprint("urn:par:", r), newTestAuthorizeRequest(fmt.Sprint("par-", r))); err != nil {
			t.Fatal(err)
		}
	}, func(db *store.DB, r, g int) (bool, error) {
		f := fa
		if db == b {
			f = fb
		}
		return lost(f.DeletePARSession(ctx, fmt.Sprint("urn:par:", r)), fosite.ErrNotFound)
	})
}

func testSharedJTIRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	fa, fb := store.NewFosite(a, Clients("c")), store.NewFosite(b, Clients("c"))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	race(t, a, b, raceRounds, func(int) {}, func(db *store.DB, r, g int) (bool, error) {
		f := fa
		if db == b {
			f = fb
		}
		return lost(f.SetClientAssertionJWT(ctx, fmt.Sprint("jti-", r), exp), fosite.ErrJTIKnown)
	})
}

// testSharedSubjectRace checks that concurrent first uses on several
// instances agree on one subject.
func testSharedSubjectRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	ctx := context.Background()
	for r := range 20 {
		n := 2 + r%7
		subs := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range n {
			db := a
			if g%2 == 1 {
				db = b
			}
			wg.Go(func() { <-start; subs[g], errs[g] = db.Subject(ctx, fmt.Sprint("user-", r), "sector") })
		}
		close(start)
		wg.Wait()
		for g := range n {
			if errs[g] != nil {
				t.Fatalf("round %d: %v", r, errs[g])
			}
			if subs[g] != subs[0] {
				t.Fatalf("round %d: instances disagree: %q vs %q", r, subs[g], subs[0])
			}
		}
	}
}

// testSharedConsentRace checks that concurrent PutConsent calls for one
// user and client (an upsert) all succeed and leave one consent.
func testSharedConsentRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	ctx := context.Background()
	now := time.Now()
	for r := range 20 {
		n := 2 + r%7
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range n {
			db := a
			if g%2 == 1 {
				db = b
			}
			wg.Go(func() {
				<-start
				errs[g] = db.PutConsent(ctx, store.Consent{Username: fmt.Sprint("user-", r), ClientID: "app",
					Scopes: []string{"openid", fmt.Sprint("s", g)}, GrantedAt: now, ExpiresAt: now.Add(time.Hour)})
			})
		}
		close(start)
		wg.Wait()
		for g := range n {
			if errs[g] != nil {
				t.Fatalf("round %d, contender %d: %v", r, g, errs[g])
			}
		}
		list, err := b.ListConsents(ctx, fmt.Sprint("user-", r), now)
		if err != nil || len(list) != 1 {
			t.Fatalf("round %d: consents %+v, %v; want one", r, list, err)
		}
	}
}

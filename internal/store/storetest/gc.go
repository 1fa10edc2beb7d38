package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// count returns the number of rows of table.
func count(t *testing.T, db *store.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// withExpiry is a request whose session expires at exp for tt.
func withExpiry(id string, tt fosite.TokenType, exp time.Time) *fosite.Request {
	r := newTestRequest(id)
	r.Session.SetExpiresAt(tt, exp)
	return r
}

// testCollectGarbage checks what CollectGarbage deletes: every expired row
// of every table, in several batches, and old attempts; nothing else.
func testCollectGarbage(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	now := time.Now()
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const perTable = 12 // more than two batches of 5
	for i := range perTable {
		k := fmt.Sprint(i)
		must(f.CreateAuthorizeCodeSession(ctx, "code-"+k, withExpiry("c"+k, fosite.AuthorizeCode, past)))
		must(f.CreateAccessTokenSession(ctx, "at-"+k, withExpiry("a"+k, fosite.AccessToken, past)))
		must(f.CreateRefreshTokenSession(ctx, "rt-"+k, "at-"+k, withExpiry("r"+k, fosite.RefreshToken, past)))
		must(f.CreatePKCERequestSession(ctx, "pkce-"+k, withExpiry("p"+k, fosite.AuthorizeCode, past)))
		must(f.CreateOpenIDConnectSession(ctx, "oidc-"+k, withExpiry("o"+k, fosite.AuthorizeCode, past)))
		must(f.CreatePARSession(ctx, "urn:par:"+k, func() fosite.AuthorizeRequester {
			ar := newTestAuthorizeRequest("par" + k)
			ar.Session.SetExpiresAt(fosite.PushedAuthorizeRequestContext, past)
			return ar
		}()))
		must(db.CreateLoginSession(ctx, store.LoginSession{ID: "ls-old-" + k, Username: "alice", ExpiresAt: past}))
		must(db.PutWebAuthnCeremony(ctx, "wc-"+k, []byte("{}"), past))
		must(db.PutConsent(ctx, store.Consent{Username: "alice", ClientID: "client-" + k, GrantedAt: past, ExpiresAt: past}))
		must(db.RecordAttempt(ctx, store.Attempt{Username: "alice", Factor: "password", At: past.Add(-time.Hour)}))
	}
	// Half the expired refresh tokens rotated: rotated ones are collected too.
	for i := 0; i < perTable; i += 2 {
		must(f.RotateRefreshToken(ctx, fmt.Sprint("r", i), fmt.Sprint("rt-", i)))
	}
	if got := count(t, db, "oauth2_refresh") + count(t, db, "oauth2_refresh_rotated"); got != perTable {
		t.Fatalf("%d refresh tokens after rotation, want %d", got, perTable)
	}
	// JTIs: recording one sweeps the expired ones, so record the expired ones last.
	must(f.SetClientAssertionJWT(ctx, "jti-new", future))
	for i := range perTable {
		must(f.SetClientAssertionJWT(ctx, fmt.Sprint("jti-old-", i), past))
	}
	// Kept: unexpired rows, and recent attempts.
	must(f.CreateAccessTokenSession(ctx, "at-new", withExpiry("new", fosite.AccessToken, future)))
	must(db.CreateLoginSession(ctx, store.LoginSession{ID: "ls-new", Username: "alice", ExpiresAt: future}))
	must(db.RecordAttempt(ctx, store.Attempt{Username: "alice", Factor: "password", At: now}))

	n, ran, err := db.CollectGarbage(ctx, now, now.Add(-time.Minute), "instance-1", time.Minute, 5)
	if err != nil || !ran {
		t.Fatalf("CollectGarbage = %d, %v, %v", n, ran, err)
	}
	// Expired JTIs: only the last (recording one sweeps the others).
	if want := int64(10*perTable + 1); n != want {
		t.Errorf("deleted %d rows, want %d", n, want)
	}
	for table, want := range map[string]int64{
		"oauth2_code": 0, "oauth2_access": 1, "oauth2_refresh": 0, "oauth2_refresh_rotated": 0, "oauth2_pkce": 0, "oauth2_oidc": 0,
		"oauth2_par": 0, "oauth2_jti": 1, "login_session": 1, "webauthn_ceremony": 0, "consent": 0, "auth_attempt": 1,
	} {
		if got := count(t, db, table); got != want {
			t.Errorf("%s: %d rows left, want %d", table, got, want)
		}
	}
	// Nothing left to do; a zero attemptsBefore keeps every attempt.
	if n, ran, err := db.CollectGarbage(ctx, now, time.Time{}, "instance-1", time.Minute, 0); n != 0 || !ran || err != nil {
		t.Errorf("second run = %d, %v, %v; want 0, true, nil", n, ran, err)
	}
	if got := count(t, db, "auth_attempt"); got != 1 {
		t.Errorf("attempts: %d left, want 1", got)
	}
	if _, _, err := db.CollectGarbage(ctx, now, time.Time{}, "", time.Minute, 0); err == nil {
		t.Error("empty holder accepted")
	}
}

// testCollectGarbageUnderChurn runs the collector in small batches while
// writers keep adding expired rows: after each pass, what is left was
// written during that pass, so the table stays bounded; unexpired rows stay.
func testCollectGarbageUnderChurn(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)
	for i := range 10 {
		if err := f.CreateAccessTokenSession(ctx, fmt.Sprint("keep-", i), withExpiry("keep", fosite.AccessToken, time.Now().Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	const writers, perWriter = 4, 100
	var (
		started, written atomic.Int64
		wg               sync.WaitGroup
	)
	req := withExpiry("churn", fosite.AccessToken, past)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				started.Add(1)
				if err := f.CreateAccessTokenSession(ctx, fmt.Sprintf("churn-%d-%d", w, i), req); err != nil {
					t.Error(err)
					return
				}
				written.Add(1)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var deleted int64
	passes := 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		// Rows written before the pass are all deleted by it: what is
		// left was being written during the pass.
		before := written.Load()
		n, ran, err := db.CollectGarbage(ctx, time.Now(), time.Time{}, "collector", time.Minute, 25)
		if err != nil || !ran {
			t.Errorf("CollectGarbage: %v, ran %v", err, ran)
			break
		}
		deleted += n
		passes++
		left := count(t, db, "oauth2_access") - 10
		if during := started.Load() - before; left > during {
			t.Errorf("pass %d: %d expired rows left, but only %d were written during the pass", passes, left, during)
			break
		}
	}
	<-done
	if t.Failed() {
		return
	}
	if deleted != writers*perWriter {
		t.Errorf("deleted %d rows in %d passes, want %d", deleted, passes, writers*perWriter)
	}
	if got := count(t, db, "oauth2_access"); got != 10 {
		t.Errorf("%d rows left, want the 10 unexpired", got)
	}
}

// testGCLease checks the lease: held for its period by one holder, renewed
// by it, passed on when it expires.
func testGCLease(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const lease = time.Hour
	for _, step := range []struct {
		db     *store.DB
		holder string
		at     time.Duration
		ran    bool
	}{
		{a, "a", 0, true},                            // free: taken until t0+1h
		{b, "b", time.Minute, false},                 // held by a
		{a, "a", time.Minute, true},                  // renewed until t0+1h1m
		{b, "b", lease + time.Minute - 1, false},     // a nanosecond before it expires
		{b, "b", lease + time.Minute, true},          // expired: passes on, until t0+2h1m
		{a, "a", lease + 2*time.Minute, false},       // now b's
		{a, "a", 2*lease + 2*time.Minute, true},      // expired again
		{b, "b", 2*lease + 2*time.Minute + 1, false}, // a's
	} {
		_, ran, err := step.db.CollectGarbage(ctx, t0.Add(step.at), time.Time{}, step.holder, lease, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ran != step.ran {
			t.Errorf("holder %s at t0+%v: ran = %v, want %v", step.holder, step.at, ran, step.ran)
		}
	}
}

// testGCLeaseRace checks that of holders racing for the lease in one period
// exactly one runs.
func testGCLeaseRace(t *testing.T, open func() (*store.DB, error)) {
	a, b := two(t, open)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const lease = time.Minute
	race(t, a, b, raceRounds, func(int) {}, func(db *store.DB, r, g int) (bool, error) {
		_, ran, err := db.CollectGarbage(ctx, t0.Add(time.Duration(r)*2*lease), time.Time{}, fmt.Sprint("holder-", g), lease, 0)
		return ran, err
	})
}

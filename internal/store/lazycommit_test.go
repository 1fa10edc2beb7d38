package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// cancelAtErr is a request context that is cancelled during its at-th
// Err call, which still reports it live; it then waits for the
// cancellation's consequences (context.AfterFunc) to have run.
type cancelAtErr struct {
	context.Context
	cancel context.CancelFunc
	calls  atomic.Int32
	at     int32
}

func (c *cancelAtErr) Err() error {
	if c.calls.Add(1) == c.at {
		err := c.Context.Err()
		c.cancel()
		time.Sleep(50 * time.Millisecond)
		return err
	}
	return c.Context.Err()
}

// TestLazyMemberCommitMatchesWrite: an authorization's transaction on
// SQLite that ran no statement hands its code's INSERT to the group commit
// at Commit. Whenever the request's context ends (the client went away),
// Commit must tell the truth: it fails and no code is written, or it
// succeeds and the code is there. Found by review: cancelled after the
// group commit's check of the queued write, Commit failed although the
// code was committed.
func TestLazyMemberCommitMatchesWrite(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	f := store.NewFosite(db, storetest.Clients("c"))
	for at := int32(1); at <= 4; at++ {
		inner, cancel := context.WithCancel(context.Background())
		req := &cancelAtErr{Context: inner, cancel: cancel, at: at}
		tx, err := f.BeginTX(store.WithCodeBundle(req))
		if err != nil {
			t.Fatal(err)
		}
		sig := fmt.Sprintf("code-lazy-%d", at)
		if err := f.CreateAuthorizeCodeSession(tx, sig, storetest.NewRequest("req-"+sig)); err != nil {
			t.Fatal(err)
		}
		commitErr := f.Commit(tx)
		if commitErr != nil {
			_ = f.Rollback(tx)
		}
		cancel()
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM oauth2_code WHERE signature = ?`, sig).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (commitErr == nil) != (n == 1) {
			t.Errorf("cancelled at the context's check %d: Commit %v, %d code rows", at, commitErr, n)
		}
	}
}

package storetest

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func testRequestStorage(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()

	for _, k := range storageKinds(f) {
		t.Run(k.name, func(t *testing.T) {
			want := newTestRequest("req-" + k.name)
			key := "sig-" + k.name
			if err := k.create(ctx, key, want); err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Run("round trip", func(t *testing.T) {
				got, err := k.get(ctx, key, newSession())
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				checkRequest(t, got, want)
			})
			t.Run("nil session", func(t *testing.T) {
				got, err := k.get(ctx, key, nil)
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				checkRequest(t, got, want)
			})
			t.Run("duplicate key", func(t *testing.T) {
				if err := k.create(ctx, key, want); err == nil {
					t.Error("second create with the same key succeeded")
				}
			})
			t.Run("unknown", func(t *testing.T) {
				if r, err := k.get(ctx, "nope", newSession()); !isNotFound(err) || r != nil {
					t.Errorf("get unknown = %v, %v; want nil, not found", r, err)
				}
			})
			t.Run("client gone after reload", func(t *testing.T) {
				reloaded := store.NewFosite(db, Clients("other"))
				kinds := storageKinds(reloaded)
				for _, rk := range kinds {
					if rk.name == k.name {
						if _, err := rk.get(ctx, key, newSession()); !errors.Is(err, fosite.ErrNotFound) {
							t.Errorf("err = %v, want fosite.ErrNotFound", err)
						}
					}
				}
			})
			if k.del == nil {
				return
			}
			t.Run("delete", func(t *testing.T) {
				if err := k.del(ctx, key); err != nil {
					t.Fatalf("delete: %v", err)
				}
				if _, err := k.get(ctx, key, newSession()); !isNotFound(err) {
					t.Errorf("get after delete: %v, want not found", err)
				}
				if err := k.del(ctx, key); !errors.Is(err, fosite.ErrNotFound) {
					t.Errorf("second delete: %v, want fosite.ErrNotFound", err)
				}
			})
		})
	}
}

func testFormSecretsNotStored(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	for _, k := range storageKinds(f) {
		if err := k.create(ctx, "secret-check", newTestRequest("r")); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.CreatePARSession(ctx, "urn:par:secret-check", newTestAuthorizeRequest("r")); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"oauth2_code", "oauth2_access", "oauth2_refresh", "oauth2_pkce", "oauth2_oidc", "oauth2_par"} {
		t.Run(table, func(t *testing.T) {
			var raw string
			if err := db.QueryRowContext(context.Background(), "SELECT form FROM "+table).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			form, err := url.ParseQuery(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"password", "client_secret", "code_verifier"} {
				if form.Has(k) {
					t.Errorf("stored form keeps %q: %s", k, raw)
				}
			}
			if !form.Has("redirect_uri") || !form.Has("nonce") || !form.Has("code_challenge") {
				t.Errorf("stored form lost what fosite needs: %s", raw)
			}
		})
	}
	t.Run("caller's form untouched", func(t *testing.T) {
		r := newTestRequest("r2")
		if err := f.CreateAccessTokenSession(ctx, "untouched", r); err != nil {
			t.Fatal(err)
		}
		if !r.Form.Has("password") {
			t.Error("encoding the form modified the caller's request")
		}
	})
}

func testAuthorizeCodeInvalidation(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	want := newTestRequest("req-code")
	if err := f.CreateAuthorizeCodeSession(ctx, "code", want); err != nil {
		t.Fatal(err)
	}
	if err := f.InvalidateAuthorizeCodeSession(ctx, "code"); err != nil {
		t.Fatalf("invalidate: %v", err)
	}
	for _, tc := range []struct {
		name    string
		do      func() (fosite.Requester, error)
		wantErr error
		wantReq bool
	}{
		{"get invalidated returns requester", func() (fosite.Requester, error) {
			return f.GetAuthorizeCodeSession(ctx, "code", newSession())
		}, fosite.ErrInvalidatedAuthorizeCode, true},
		{"invalidate twice (concurrent exchange)", func() (fosite.Requester, error) {
			return nil, f.InvalidateAuthorizeCodeSession(ctx, "code")
		}, fosite.ErrInvalidatedAuthorizeCode, false},
		{"invalidate unknown", func() (fosite.Requester, error) {
			return nil, f.InvalidateAuthorizeCodeSession(ctx, "unknown")
		}, fosite.ErrNotFound, false},
		{"get unknown", func() (fosite.Requester, error) {
			return f.GetAuthorizeCodeSession(ctx, "unknown", newSession())
		}, fosite.ErrNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.do()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantReq {
				checkRequest(t, r, want)
			} else if r != nil {
				t.Errorf("requester = %v, want nil", r)
			}
		})
	}
}

func testRefreshRotation(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	req := newTestRequest("grant-1")
	must(f.CreateAccessTokenSession(ctx, "at1", req))
	must(f.CreateRefreshTokenSession(ctx, "rt1", "at1", req))
	other := newTestRequest("grant-2")
	must(f.CreateAccessTokenSession(ctx, "other-at", other))
	must(f.CreateRefreshTokenSession(ctx, "other-rt", "other-at", other))

	must(f.RotateRefreshToken(ctx, "grant-1", "rt1"))
	must(f.CreateAccessTokenSession(ctx, "at2", req))
	must(f.CreateRefreshTokenSession(ctx, "rt2", "at2", req))

	for _, tc := range []struct {
		name    string
		get     func() (fosite.Requester, error)
		wantErr error // nil: active
	}{
		{"old refresh token inactive, with requester", func() (fosite.Requester, error) {
			return f.GetRefreshTokenSession(ctx, "rt1", newSession())
		}, fosite.ErrInactiveToken},
		{"old access token deleted", func() (fosite.Requester, error) {
			return f.GetAccessTokenSession(ctx, "at1", newSession())
		}, fosite.ErrNotFound},
		{"new refresh token active", func() (fosite.Requester, error) {
			return f.GetRefreshTokenSession(ctx, "rt2", newSession())
		}, nil},
		{"new access token", func() (fosite.Requester, error) {
			return f.GetAccessTokenSession(ctx, "at2", newSession())
		}, nil},
		{"other grant's refresh untouched", func() (fosite.Requester, error) {
			return f.GetRefreshTokenSession(ctx, "other-rt", newSession())
		}, nil},
		{"other grant's access untouched", func() (fosite.Requester, error) {
			return f.GetAccessTokenSession(ctx, "other-at", newSession())
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.get()
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil || errors.Is(tc.wantErr, fosite.ErrInactiveToken) {
				if r == nil {
					t.Fatal("no requester")
				}
				switch {
				case tc.wantErr != nil:
					// Reuse detection reads the grant's request ID and
					// client (a rotated token may keep nothing else).
					if r.GetID() != req.GetID() || r.GetClient() == nil || r.GetClient().GetID() != req.GetClient().GetID() {
						t.Errorf("inactive token's request ID/client = %q/%v, want %q/%q", r.GetID(), r.GetClient(), req.GetID(), req.GetClient().GetID())
					}
				case tc.name != "other grant's refresh untouched" && tc.name != "other grant's access untouched":
					checkRequest(t, r, req)
				}
			}
		})
	}

	t.Run("rotating a rotated token", func(t *testing.T) {
		if err := f.RotateRefreshToken(ctx, "grant-1", "rt1"); !errors.Is(err, fosite.ErrSerializationFailure) {
			t.Fatalf("err = %v, want fosite.ErrSerializationFailure", err)
		}
		// The failed rotation ran in its own transaction and changed nothing.
		if _, err := f.GetRefreshTokenSession(ctx, "rt2", newSession()); err != nil {
			t.Errorf("rt2 after failed rotation: %v", err)
		}
		if _, err := f.GetRefreshTokenSession(ctx, "rt1", newSession()); !errors.Is(err, fosite.ErrInactiveToken) {
			t.Errorf("rt1 after failed rotation: %v, want fosite.ErrInactiveToken", err)
		}
	})

	// fosite deletes a reused token before revoking its grant.
	t.Run("deleting a rotated token", func(t *testing.T) {
		if err := f.DeleteRefreshTokenSession(ctx, "rt1"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := f.GetRefreshTokenSession(ctx, "rt1", newSession()); !errors.Is(err, fosite.ErrNotFound) {
			t.Errorf("after delete: %v, want fosite.ErrNotFound", err)
		}
		if err := f.DeleteRefreshTokenSession(ctx, "rt1"); !errors.Is(err, fosite.ErrNotFound) {
			t.Errorf("second delete: %v, want fosite.ErrNotFound", err)
		}
	})
}

// TestRefreshRotationRace runs fosite's refresh sequence (read outside a
// transaction, then rotate and issue inside one) in two goroutines with the
// same token: exactly one may win.
func testRefreshRotationRace(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()

	for i := range 10 {
		grant := "race-" + strconv.Itoa(i)
		rt := "rt-" + grant
		req := newTestRequest(grant)
		if err := f.CreateRefreshTokenSession(ctx, rt, "at-"+grant, req); err != nil {
			t.Fatal(err)
		}
		var read sync.WaitGroup
		read.Add(2)
		results := make(chan error, 2)
		for g := range 2 {
			go func() {
				_, err := f.GetRefreshTokenSession(ctx, rt, newSession())
				read.Done()
				if err != nil {
					results <- err
					return
				}
				read.Wait() // both have read the active token
				tx, err := f.BeginTX(ctx)
				if err != nil {
					results <- err
					return
				}
				suffix := grant + "-" + strconv.Itoa(g)
				err = f.RotateRefreshToken(tx, grant, rt)
				if err == nil {
					err = f.CreateAccessTokenSession(tx, "at-"+suffix, req)
				}
				if err == nil {
					err = f.CreateRefreshTokenSession(tx, "rt-"+suffix, "at-"+suffix, req)
				}
				if err != nil {
					_ = f.Rollback(tx)
					results <- err
					return
				}
				results <- f.Commit(tx)
			}()
		}
		var ok, lost int
		for range 2 {
			switch err := <-results; {
			case err == nil:
				ok++
			case errors.Is(err, fosite.ErrSerializationFailure):
				lost++
			default:
				t.Errorf("round %d: unexpected error: %v", i, err)
			}
		}
		if ok != 1 || lost != 1 {
			t.Errorf("round %d: %d succeeded and %d lost, want 1 and 1", i, ok, lost)
		}
	}
}

func testRevokeByRequestID(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	for _, grant := range []string{"g1", "g2"} {
		r := newTestRequest(grant)
		for _, n := range []string{"a", "b"} {
			if err := f.CreateAccessTokenSession(ctx, "at-"+grant+n, r); err != nil {
				t.Fatal(err)
			}
			if err := f.CreateRefreshTokenSession(ctx, "rt-"+grant+n, "at-"+grant+n, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.RevokeRefreshToken(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	if err := f.RevokeAccessToken(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig     string
		refresh bool
		wantErr error
	}{
		{"rt-g1a", true, fosite.ErrInactiveToken},
		{"rt-g1b", true, fosite.ErrInactiveToken},
		{"at-g1a", false, fosite.ErrNotFound},
		{"at-g1b", false, fosite.ErrNotFound},
		{"rt-g2a", true, nil},
		{"at-g2b", false, nil},
	} {
		t.Run(tc.sig, func(t *testing.T) {
			var err error
			if tc.refresh {
				_, err = f.GetRefreshTokenSession(ctx, tc.sig, newSession())
			} else {
				_, err = f.GetAccessTokenSession(ctx, tc.sig, newSession())
			}
			if (tc.wantErr == nil && err != nil) || !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	t.Run("unknown request is not an error", func(t *testing.T) {
		if err := f.RevokeRefreshToken(ctx, "nope"); err != nil {
			t.Error(err)
		}
		if err := f.RevokeAccessToken(ctx, "nope"); err != nil {
			t.Error(err)
		}
	})
}

func testPARStorage(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()

	t.Run("round trip and single use", func(t *testing.T) {
		want := newTestAuthorizeRequest("par-1")
		if err := f.CreatePARSession(ctx, "urn:par:1", want); err != nil {
			t.Fatal(err)
		}
		got, err := f.GetPARSession(ctx, "urn:par:1")
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, got, &want.Request)
		if got.GetRedirectURI() == nil || got.GetRedirectURI().String() != want.RedirectURI.String() {
			t.Errorf("redirect uri = %v, want %v", got.GetRedirectURI(), want.RedirectURI)
		}
		if got.GetState() != want.State || got.GetResponseMode() != want.ResponseMode ||
			got.GetDefaultResponseMode() != want.DefaultResponseMode || !slices.Equal(got.GetResponseTypes(), want.ResponseTypes) {
			t.Errorf("got state %q mode %q/%q types %v", got.GetState(), got.GetResponseMode(), got.GetDefaultResponseMode(), got.GetResponseTypes())
		}
		if err := f.DeletePARSession(ctx, "urn:par:1"); err != nil {
			t.Fatal(err)
		}
		if err := f.DeletePARSession(ctx, "urn:par:1"); !errors.Is(err, fosite.ErrNotFound) {
			t.Errorf("second delete: %v, want fosite.ErrNotFound", err)
		}
		if _, err := f.GetPARSession(ctx, "urn:par:1"); !errors.Is(err, fosite.ErrNotFound) {
			t.Errorf("get after delete: %v", err)
		}
	})

	for _, tc := range []struct {
		name    string
		expiry  time.Time // session's PAR expiry; zero: none
		wantErr error
	}{
		{"expired", time.Now().Add(-time.Second), fosite.ErrNotFound},
		{"not yet expired", time.Now().Add(time.Minute), nil},
		{"no expiry in session: default lifespan", time.Time{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar := newTestAuthorizeRequest("par-" + tc.name)
			sess := defaultSession(t, ar.Session)
			if tc.expiry.IsZero() {
				delete(sess.ExpiresAt, fosite.PushedAuthorizeRequestContext)
			} else {
				sess.SetExpiresAt(fosite.PushedAuthorizeRequestContext, tc.expiry)
			}
			uri := "urn:par:" + tc.name
			if err := f.CreatePARSession(ctx, uri, ar); err != nil {
				t.Fatal(err)
			}
			_, err := f.GetPARSession(ctx, uri)
			if (tc.wantErr == nil && err != nil) || !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.expiry.IsZero() {
				var exp int64
				if err := db.QueryRowContext(context.Background(), "SELECT expires_at FROM oauth2_par WHERE signature = ?", HashKey(uri)).Scan(&exp); err != nil {
					t.Fatal(err)
				}
				if d := time.Until(time.Unix(0, exp)); d < store.DefaultPARLifespan-time.Minute || d > store.DefaultPARLifespan {
					t.Errorf("default expiry in %v, want about %v", d, store.DefaultPARLifespan)
				}
			}
		})
	}

	t.Run("request uri stored hashed", func(t *testing.T) {
		var n int
		if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM oauth2_par WHERE signature LIKE 'urn:%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d request URIs stored in clear", n)
		}
	})
}

func testGetClient(t *testing.T, db *store.DB) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		clients func(context.Context, string) (fosite.Client, error)
		id      string
		wantErr error
	}{
		{"known", Clients("c"), "c", nil},
		{"unknown", Clients("c"), "d", fosite.ErrNotFound},
		{"nil client is not found", func(context.Context, string) (fosite.Client, error) { return nil, nil }, "c", fosite.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := store.NewFosite(db, tc.clients).GetClient(ctx, tc.id)
			if tc.wantErr == nil {
				if err != nil || c.GetID() != tc.id {
					t.Errorf("GetClient = %v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func testClientAssertionJWT(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	steps := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{"unknown jti is valid", func() error { return f.ClientAssertionJWTValid(ctx, "j1") }, nil},
		{"record", func() error { return f.SetClientAssertionJWT(ctx, "j1", time.Now().Add(time.Hour)) }, nil},
		{"recorded jti is known", func() error { return f.ClientAssertionJWTValid(ctx, "j1") }, fosite.ErrJTIKnown},
		{"recording again fails", func() error { return f.SetClientAssertionJWT(ctx, "j1", time.Now().Add(time.Hour)) }, fosite.ErrJTIKnown},
		{"record expired", func() error { return f.SetClientAssertionJWT(ctx, "j2", time.Now().Add(-time.Second)) }, nil},
		{"expired jti is valid", func() error { return f.ClientAssertionJWTValid(ctx, "j2") }, nil},
		{"expired jti can be recorded again", func() error { return f.SetClientAssertionJWT(ctx, "j2", time.Now().Add(time.Hour)) }, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := s.do()
			if (s.wantErr == nil && err != nil) || !errors.Is(err, s.wantErr) {
				t.Fatalf("err = %v, want %v", err, s.wantErr)
			}
		})
	}
}

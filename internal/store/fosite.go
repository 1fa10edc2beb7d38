package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"
)

// DefaultPARLifespan is how long a pushed authorization request stays usable
// when its session carries no fosite.PushedAuthorizeRequestContext expiry
// (fosite sets one from Config.PushedAuthorizeContextLifespan whenever the
// session is not nil). It equals fosite's own default lifespan.
const DefaultPARLifespan = 5 * time.Minute

// Fosite implements fosite's storage interfaces on a DB for one provider
// configuration: requests and tokens live in the shared DB, which outlives
// configuration reloads, while clients come from the configuration through the
// clients function. It is cheap to create; make one per configuration.
//
// Codes and tokens are stored under the signature fosite passes (an HMAC of
// the token, never the token itself). Keys that are credentials themselves
// (the raw authorization code keying OpenID Connect sessions, PAR request
// URIs, client assertion JTIs) are stored as SHA-256 hashes.
//
// Sessions are stored as JSON and decoded into the session fosite passes, so
// the provider must use one session type throughout (e.g. a
// *openid.DefaultSession or a type embedding it); JSON turns numbers in
// free-form maps (Extra claims) into float64.
type Fosite struct {
	db      *DB
	clients func(ctx context.Context, id string) (fosite.Client, error)

	// NewSession returns an empty session of the provider's session type.
	// It is used where fosite passes no session to decode into
	// (GetPARSession, and token revocation lookups). NewFosite sets it to
	// openid.NewDefaultSession.
	NewSession func() fosite.Session

	// Codes and refresh tokens written here, until their use
	// (recentrows.go).
	codes, refreshes recentRows
}

// NewFosite returns fosite storage over db. clients resolves a client ID from
// the current configuration; it must return an error wrapping
// fosite.ErrNotFound (or a nil client) for an unknown ID. A stored grant whose
// client no longer exists then reads as fosite.ErrNotFound.
func NewFosite(db *DB, clients func(ctx context.Context, id string) (fosite.Client, error)) *Fosite {
	return &Fosite{
		db:         db,
		clients:    clients,
		NewSession: func() fosite.Session { return openid.NewDefaultSession() },
	}
}

// Interface guards.
var (
	_ fosite.Storage                     = (*Fosite)(nil)
	_ fosite.ClientManager               = (*Fosite)(nil)
	_ fosite.PARStorage                  = (*Fosite)(nil)
	_ oauth2.CoreStorage                 = (*Fosite)(nil)
	_ oauth2.TokenRevocationStorage      = (*Fosite)(nil)
	_ pkce.PKCERequestStorage            = (*Fosite)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Fosite)(nil)
	_ storage.Transactional              = (*Fosite)(nil)
	_ storage.Transactional              = (*DB)(nil)
)

// --- storage.Transactional ---

// BeginTX starts a transaction carried by the returned context; see DB.BeginTX.
func (f *Fosite) BeginTX(ctx context.Context) (context.Context, error) { return f.db.BeginTX(ctx) }

// Commit commits the transaction carried by ctx.
// In a context of WithDeferredDeletes it first runs, in the transaction, what
// the context deferred to it.
// In a context of WithCodeBundle it first writes the code it holds. Once
// committed, the code and refresh tokens written are kept for their use
// (recentrows.go).
func (f *Fosite) Commit(ctx context.Context) error {
	if err := f.writeHeldCode(ctx); err != nil {
		return err // the caller rolls back
	}
	if err := f.runDeferred(ctx); err != nil {
		return err // the caller rolls back
	}
	if err := f.db.Commit(ctx); err != nil {
		return err
	}
	f.keepWritten(ctx)
	return nil
}

// Rollback rolls back the transaction carried by ctx, and forgets the code a
// context of WithCodeBundle held for it and the rows it would have kept.
func (f *Fosite) Rollback(ctx context.Context) error {
	f.dropWritten(ctx)
	return f.db.Rollback(ctx)
}

// --- fosite.ClientManager ---

// GetClient returns the configured client with this ID.
func (f *Fosite) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := f.client(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return c, nil
}

// ClientAssertionJWTValid returns fosite.ErrJTIKnown if the JTI of a client
// assertion was already used and has not expired, nil if it is unknown.
func (f *Fosite) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	var one int
	err := f.db.queryRow(ctx, sqlJTIKnown, hashKey(jti), time.Now().UnixNano()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("store: client assertion jti: %w", err)
	default:
		return fosite.ErrJTIKnown
	}
}

// SetClientAssertionJWT records a client assertion JTI until exp, after
// removing expired ones. A JTI that is already recorded and not expired
// yields fosite.ErrJTIKnown, so concurrent replays fail too.
func (f *Fosite) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	if exp.IsZero() {
		return errors.New("store: client assertion jti: no expiry")
	}
	return f.db.inTx(ctx, func(ctx context.Context) error {
		if _, err := f.db.exec(ctx, sqlDeleteExpiredJTI, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("store: client assertion jti: %w", err)
		}
		n, err := f.db.exec(ctx, sqlInsertJTI, hashKey(jti), exp.UnixNano())
		if err != nil {
			return fmt.Errorf("store: client assertion jti: %w", err)
		}
		if n == 0 {
			return fosite.ErrJTIKnown
		}
		return nil
	})
}

// --- oauth2.AuthorizeCodeStorage ---

// CreateAuthorizeCodeSession stores the authorization request under the
// code's signature, active, expiring with the session's authorize code expiry.
// In a transaction of a context of WithCodeBundle it is written at commit.
func (f *Fosite) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	args, err := requestArgs(signature, r, fosite.AuthorizeCode)
	if err != nil {
		return fmt.Errorf("store: create authorize code: %w", err)
	}
	if f.holdCode(ctx, args) {
		return nil
	}
	return f.insert(ctx, "authorize code", sqlInsertCode, args)
}

// GetAuthorizeCodeSession returns the authorization request of a code,
// decoding its session into session. For a code that was already used it
// returns the request together with fosite.ErrInvalidatedAuthorizeCode (fosite
// then revokes the tokens issued for it); an unknown code is fosite.ErrNotFound.
// In a context of WithDeferredDeletes an active code is read once: fosite
// reads it twice per exchange, and its invalidation, conditional on it
// being active, catches a concurrent exchange in between. For the same
// reason a code this instance wrote is not read at all there: it comes as
// written (recentrows.go).
func (f *Fosite) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	kept := readCode(ctx, signature)
	if kept == nil {
		kept = f.takeRecentCode(ctx, signature)
	}
	if kept != nil {
		r, err := f.hydrate(ctx, kept, session)
		if err != nil {
			return nil, fmt.Errorf("store: authorize code: %w", err)
		}
		return r, nil
	}
	var (
		s      storedRequest
		active bool
		extras codeExtras
	)
	if err := f.db.queryRow(ctx, sqlSelectCode, signature).Scan(s.dest(append([]any{&active}, extras.dest()...)...)...); err != nil {
		return nil, notFound("authorize code", err)
	}
	r, err := f.hydrate(ctx, &s, session)
	if err != nil {
		return nil, fmt.Errorf("store: authorize code: %w", err)
	}
	if active {
		keepCode(ctx, signature, &s, extras)
	}
	if !active {
		return r, fmt.Errorf("store: authorize code: %w", fosite.ErrInvalidatedAuthorizeCode)
	}
	return r, nil
}

// InvalidateAuthorizeCodeSession marks a code as used. Invalidating a code
// that is already invalid fails with fosite.ErrInvalidatedAuthorizeCode, so of
// two concurrent exchanges of one code only one can commit; an unknown code is
// fosite.ErrNotFound.
//
// In a pipelined transaction (PostgreSQL) the invalidation is queued like
// the exchange's other writes, so that the exchange, which then only
// writes, commits as a unit of a group commit: one round trip instead of
// two, and no pooled connection held in between. A code that is no longer
// active then fails the transaction's Commit rather than this call, with
// fosite.ErrInvalidatedAuthorizeCode whether it was used or deleted since
// it was read (an exchange reads it first: an unknown code never gets
// here).
func (f *Fosite) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	if f.db.inPipe(ctx) {
		if err := f.db.execQueued(ctx, errCodeNotActive, sqlInvalidateCode, signature); err != nil {
			return fmt.Errorf("store: invalidate authorize code: %w", err)
		}
		usedCodeInTx(ctx, signature)
		return nil
	}
	n, err := f.db.exec(ctx, sqlInvalidateCode, signature)
	if err != nil {
		return fmt.Errorf("store: invalidate authorize code: %w", err)
	}
	if n > 0 {
		usedCodeInTx(ctx, signature)
		return nil
	}
	var active bool
	if err := f.db.queryRow(ctx, sqlCodeActive, signature).Scan(&active); err != nil {
		return notFound("invalidate authorize code", err)
	}
	return fmt.Errorf("store: invalidate authorize code: %w", fosite.ErrInvalidatedAuthorizeCode)
}

// errCodeNotActive fails a queued invalidation of a code that is no longer
// active: a concurrent exchange of the same code won.
var errCodeNotActive = fmt.Errorf("authorize code not active any more: %w", fosite.ErrInvalidatedAuthorizeCode)

// --- oauth2.AccessTokenStorage ---

// CreateAccessTokenSession stores an access token's request under its
// signature. One written at the token endpoint (on PostgreSQL, by a code
// exchange) is kept for its first use (accessrows.go).
func (f *Fosite) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	args, err := requestArgs(signature, r, fosite.AccessToken)
	if err != nil {
		return fmt.Errorf("store: create access token: %w", err)
	}
	keep, query := f.keepsAccess(ctx), sqlInsertAccess
	if keep && f.db.dialect.announcesAccess {
		query, args = sqlInsertAccessAnnounced, append(args, true)
	}
	if err := f.insert(ctx, "access token", query, args); err != nil {
		return err
	}
	if keep {
		f.holdAccess(ctx, args)
	}
	return nil
}

// GetAccessTokenSession returns an access token's request; unknown (or
// revoked) is fosite.ErrNotFound. Expiry is checked by fosite's strategy.
// The first use of one this instance kept (CreateAccessTokenSession) is
// served as written (accessrows.go).
func (f *Fosite) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	if kept := f.takeAccess(ctx, signature); kept != nil {
		return f.hydrateRequester(ctx, "access token", kept, session)
	}
	return f.getRequester(ctx, "access token", sqlSelectAccess, []any{signature}, session)
}

// DeleteAccessTokenSession deletes an access token; unknown is fosite.ErrNotFound.
func (f *Fosite) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	f.db.forgetAccess(signature)
	defer f.db.forgetAccess(signature) // and after (accessrows.go)
	return f.del(ctx, "access token", sqlDeleteAccess, signature)
}

// --- oauth2.RefreshTokenStorage ---

// CreateRefreshTokenSession stores an active refresh token's request, with
// the signature of the access token issued alongside.
func (f *Fosite) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, r fosite.Requester) error {
	args, err := requestArgs(signature, r, fosite.RefreshToken, accessSignature)
	if err != nil {
		return fmt.Errorf("store: create refresh token: %w", err)
	}
	if err := f.insert(ctx, "refresh token", sqlInsertRefresh, args); err != nil {
		return err
	}
	if f.db.txStateFrom(ctx) != nil {
		holdRefresh(ctx, args)
	}
	return nil
}

// GetRefreshTokenSession returns a refresh token's request. For a rotated or
// revoked token it returns the request together with fosite.ErrInactiveToken
// (fosite treats that as reuse and revokes the whole grant); a token rotated
// into oauth2_refresh_rotated comes back as its grant's request ID and
// client only, with an empty session, which is all reuse detection reads.
// Unknown is fosite.ErrNotFound. In the token endpoint's context an active
// token this instance wrote is not read: it comes as written
// (recentrows.go), and its rotation, conditional on it being active,
// catches what happened to it since.
func (f *Fosite) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	if kept := f.takeRecentRefresh(ctx, signature); kept != nil {
		return f.hydrateRequester(ctx, "refresh token", kept, session)
	}
	var active bool
	r, err := f.get(ctx, "refresh token", sqlSelectRefresh, []any{signature}, session, &active)
	if errors.Is(err, fosite.ErrNotFound) {
		return f.getRotatedRefresh(ctx, signature, session, err)
	}
	if err != nil {
		return nil, err
	}
	if !active {
		return r, fmt.Errorf("store: refresh token: %w", fosite.ErrInactiveToken)
	}
	return r, nil
}

// getRotatedRefresh returns the request of a refresh token rotated into
// oauth2_refresh_rotated, with fosite.ErrInactiveToken, or notFound if it
// is not there either.
func (f *Fosite) getRotatedRefresh(ctx context.Context, signature string, session fosite.Session, notFound error) (fosite.Requester, error) {
	var requestID, clientID string
	err := f.db.queryRow(ctx, sqlSelectRotatedRefresh, signature).Scan(&requestID, &clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: rotated refresh token: %w", err)
	}
	client, err := f.client(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("store: rotated refresh token: %w", err)
	}
	if session == nil {
		session = f.NewSession()
	}
	r := fosite.NewRequest()
	r.ID, r.Client, r.Session = requestID, client, session
	return r, fmt.Errorf("store: refresh token: %w", fosite.ErrInactiveToken)
}

// DeleteRefreshTokenSession deletes a refresh token, active or rotated;
// unknown is fosite.ErrNotFound.
func (f *Fosite) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	err := f.del(ctx, "refresh token", sqlDeleteRefresh, signature)
	if errors.Is(err, fosite.ErrNotFound) {
		return f.del(ctx, "refresh token", sqlDeleteRotatedRefresh, signature)
	}
	return err
}

// RotateRefreshToken retires the refresh token being used: it deactivates it
// (on PostgreSQL, moves it to oauth2_refresh_rotated), failing with
// fosite.ErrSerializationFailure if it is no longer active (a concurrent
// refresh with the same token won), deactivates the grant's other refresh
// tokens and deletes its access tokens. It runs in the context's
// transaction, or in its own.
func (f *Fosite) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	return f.db.inTx(ctx, func(ctx context.Context) error {
		retire := f.db.dialect.retireRefresh
		if retire == "" {
			retire = sqlDeactivateRefresh
		}
		if err := f.db.execQueued(ctx, errNotActive, retire, signature); err != nil {
			return fmt.Errorf("store: rotate refresh token: %w", err)
		}
		if err := f.db.execQueued(ctx, nil, sqlDeactivateRefreshOfRequest, requestID); err != nil {
			return fmt.Errorf("store: rotate refresh token: %w", err)
		}
		f.db.forgetAccessOfRequest(requestID)
		defer f.db.forgetAccessOfRequest(requestID) // and after (accessrows.go)
		if err := f.db.execQueued(ctx, nil, sqlDeleteAccessOfRequest, requestID); err != nil {
			return fmt.Errorf("store: rotate refresh token: %w", err)
		}
		return nil
	})
}

// errNotActive fails the deactivation of the refresh token being rotated
// when it deactivates no row: a concurrent refresh with the same token won.
var errNotActive = fmt.Errorf("not active any more: %w", fosite.ErrSerializationFailure)

// --- oauth2.TokenRevocationStorage ---

// RevokeRefreshToken deactivates every refresh token of the grant (they stay
// stored until they expire, so later reuse is still detected).
func (f *Fosite) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if err := f.db.execQueued(ctx, nil, sqlDeactivateRefreshOfRequest, requestID); err != nil {
		return fmt.Errorf("store: revoke refresh tokens: %w", err)
	}
	return nil
}

// RevokeAccessToken deletes every access token of the grant.
func (f *Fosite) RevokeAccessToken(ctx context.Context, requestID string) error {
	f.db.forgetAccessOfRequest(requestID)
	defer f.db.forgetAccessOfRequest(requestID) // and after (accessrows.go)
	if err := f.db.execQueued(ctx, nil, sqlDeleteAccessOfRequest, requestID); err != nil {
		return fmt.Errorf("store: revoke access tokens: %w", err)
	}
	return nil
}

// --- pkce.PKCERequestStorage ---

// CreatePKCERequestSession stores the PKCE challenge of an authorization
// code (in the request form), keyed by the code's signature: in the code's
// row when the code waits for the commit (WithCodeBundle).
func (f *Fosite) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return f.createBundled(ctx, "pkce request", sqlInsertPKCE, signature, "", r)
}

// GetPKCERequestSession returns the PKCE request of a code: from the code
// row read earlier in ctx, else from an active code's row, else from its own
// table; unknown is fosite.ErrNotFound.
//
// Its session is decoded into a new one, never into the session argument,
// as fosite's own storage ignores it too. fosite passes the token request's
// session, which the code's exchange has by then read and given the new
// tokens' expiry times; decoding the stored session into it again put back
// the expiry of a token the authorization response had issued: a hybrid
// flow's access token from the exchange then expired as early as the one
// from the authorization (TestHybridExchangeTokenLifespan).
func (f *Fosite) GetPKCERequestSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	if s := bundledPKCE(ctx, signature); s != nil {
		return f.hydrateRequester(ctx, "pkce request", s, nil)
	}
	if r, found, err := f.getBundled(ctx, "pkce request", sqlSelectCodePKCE, []any{signature}, nil); found || err != nil {
		return r, err
	}
	return f.getRequester(ctx, "pkce request", sqlSelectPKCE, []any{signature}, nil)
}

// DeletePKCERequestSession deletes the PKCE request of a code; unknown is
// fosite.ErrNotFound, so only one of two concurrent exchanges gets past it.
// In a context of WithDeferredDeletes it only queues the deletion (the
// code's invalidation then keeps the exchange single-use).
// A PKCE request in the code row read earlier in ctx is cleared from it
// only when the exchange fails (a wrong code_verifier burns it, as a
// deletion did), and the code is retired with it (sqlBurnCodePKCE), so
// that no instance can exchange it from the row it keeps: when the
// exchange succeeds, the code's invalidation makes it single-use, and the
// row stays as it is. Outside a code exchange's context (no caller in the
// provider) the record is deleted and this instance drops the code it
// keeps.
func (f *Fosite) DeletePKCERequestSession(ctx context.Context, signature string) error {
	if bundledPKCE(ctx, signature) != nil && f.deferDeleteUnlessUsed(ctx, "pkce request", sqlBurnCodePKCE, signature, signature) {
		return nil
	}
	if f.deferDelete(ctx, "pkce request", sqlDeletePKCE, signature) {
		// A code whose PKCE request is in a table of its own (a hybrid
		// flow's, whose session differs from the code's, or a code
		// written by an older version): burning the request retires the
		// code too, unless this exchange uses it.
		f.deferDeleteUnlessUsed(ctx, "authorize code", sqlInvalidateCode, signature, signature)
		return nil
	}
	f.codes.forget(signature)
	return f.delBundled(ctx, "pkce request", sqlClearCodePKCE, sqlDeletePKCE, signature)
}

// --- openid.OpenIDConnectRequestStorage ---

// CreateOpenIDConnectSession stores the OpenID Connect request of an
// authorization code. fosite passes the raw code; only its hash is stored,
// in the code's row when the code waits for the commit (WithCodeBundle).
func (f *Fosite) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	key := hashKey(code)
	return f.createBundled(ctx, "openid connect session", sqlInsertOIDC, key, key, r)
}

// GetOpenIDConnectSession returns the OpenID Connect request of a code,
// decoding its session into requester's session; unknown is
// fosite.ErrNotFound (openid.ErrNoSessionFound). In a context of
// WithDeferredDeletes it returns what the code's transaction took, if it
// did (TakeOpenIDConnectSession).
func (f *Fosite) GetOpenIDConnectSession(ctx context.Context, code string, requester fosite.Requester) (fosite.Requester, error) {
	var session fosite.Session
	if requester != nil {
		session = requester.GetSession()
	}
	key := hashKey(code)
	if s := bundledOIDC(ctx, key); s != nil {
		return f.hydrateRequester(ctx, "openid connect session", s, session)
	}
	if s := takenOIDC(ctx, key); s != nil {
		return f.hydrateRequester(ctx, "openid connect session", s, session)
	}
	if requester != nil && requester.GetID() != "" {
		// In the row of the code of the same request (indexed by request ID).
		if r, found, err := f.getBundled(ctx, "openid connect session", sqlSelectCodeOIDC, []any{requester.GetID(), key}, session); found || err != nil {
			return r, err
		}
	}
	return f.getRequester(ctx, "openid connect session", sqlSelectOIDC, []any{key}, session)
}

// DeleteOpenIDConnectSession deletes the OpenID Connect request of a code;
// unknown is fosite.ErrNotFound. In a context of WithDeferredDeletes it only
// queues the deletion, or does nothing when the code's transaction took the
// record.
// A record in the code row read earlier in ctx stays there, as the PKCE
// request does.
func (f *Fosite) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	key := hashKey(code)
	if bundledOIDC(ctx, key) != nil {
		return nil
	}
	if takenOIDC(ctx, key) != nil {
		return nil // the code's transaction deleted it
	}
	if f.deferDelete(ctx, "openid connect session", sqlDeleteOIDC, key) {
		return nil
	}
	// Outside a code exchange's context (never on the token endpoint's
	// path): a record in a code's row is found without an index, in a
	// table that holds only codes not yet expired.
	return f.delBundled(ctx, "openid connect session", sqlClearCodeOIDC, sqlDeleteOIDC, key)
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
)

// --- fosite.PARStorage ---

// CreatePARSession stores a pushed authorization request under (the hash of)
// its request URI. It expires with the session's
// fosite.PushedAuthorizeRequestContext expiry, or DefaultPARLifespan from now
// when the session has none.
func (f *Fosite) CreatePARSession(ctx context.Context, requestURI string, ar fosite.AuthorizeRequester) error {
	responseTypes, err := encodeList(ar.GetResponseTypes())
	if err != nil {
		return fmt.Errorf("store: create pushed authorization request: %w", err)
	}
	var redirectURI string
	if u := ar.GetRedirectURI(); u != nil {
		redirectURI = u.String()
	}
	args, err := requestArgs(hashKey(requestURI), ar, fosite.PushedAuthorizeRequestContext,
		responseTypes, redirectURI, ar.GetState(), string(ar.GetResponseMode()), string(ar.GetDefaultResponseMode()))
	if err != nil {
		return fmt.Errorf("store: create pushed authorization request: %w", err)
	}
	if exp, ok := args[argExpires].(sql.NullInt64); !ok || !exp.Valid {
		args[argExpires] = nanos(time.Now().Add(DefaultPARLifespan))
	}
	if _, err := f.db.exec(ctx, sqlInsertPAR, args...); err != nil {
		return fmt.Errorf("store: create pushed authorization request: %w", err)
	}
	return nil
}

// GetPARSession returns the pushed authorization request of a request URI,
// with its session decoded into f.NewSession(). Unknown or expired is
// fosite.ErrNotFound (fosite does not check PAR expiry itself).
func (f *Fosite) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	var (
		responseTypes, redirectURI, state, responseMode, defaultResponseMode string
	)
	r, err := f.get(ctx, "pushed authorization request", sqlSelectPAR,
		[]any{hashKey(requestURI), time.Now().UnixNano()}, nil,
		&responseTypes, &redirectURI, &state, &responseMode, &defaultResponseMode)
	if err != nil {
		return nil, err
	}
	ar := &fosite.AuthorizeRequest{
		State:                state,
		ResponseMode:         fosite.ResponseModeType(responseMode),
		DefaultResponseMode:  fosite.ResponseModeType(defaultResponseMode),
		HandledResponseTypes: fosite.Arguments{},
		Request:              *r,
	}
	if ar.ResponseTypes, err = decodeList(responseTypes); err != nil {
		return nil, fmt.Errorf("store: pushed authorization request: decode response types: %w", err)
	}
	if redirectURI != "" {
		if ar.RedirectURI, err = url.Parse(redirectURI); err != nil {
			return nil, fmt.Errorf("store: pushed authorization request: decode redirect uri: %w", err)
		}
	}
	return ar, nil
}

// DeletePARSession deletes a pushed authorization request; unknown is
// fosite.ErrNotFound, which makes each request URI single-use even under
// concurrent use.
func (f *Fosite) DeletePARSession(ctx context.Context, requestURI string) error {
	return f.del(ctx, "pushed authorization request", sqlDeletePAR, hashKey(requestURI))
}

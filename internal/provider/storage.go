package provider

import (
	"context"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"
)

// The storage the endpoints use, declared here; New composes them from
// Config.DB (store.NewFosite adapts it to fosite).

// Subjects gives users their sub claim: public, or pairwise within a
// sector.
type Subjects interface {
	Subject(ctx context.Context, username, sector string) (string, error)
}

// FositeStorage is what fosite's handlers need of storage (each asserts
// the part it uses: grants, tokens, PKCE, OpenID Connect sessions, pushed
// requests, client assertion jtis, transactions), and what the provider
// calls itself: one transaction around an authorization response, a pushed
// request stored again to resume it.
type FositeStorage interface {
	fosite.Storage
	oauth2.CoreStorage
	oauth2.TokenRevocationStorage
	openid.OpenIDConnectRequestStorage
	pkce.PKCERequestStorage
	fosite.PARStorage
	storage.Transactional
	// FlushDeferred runs the deletions a context of
	// store.WithDeferredDeletes queued (serveToken).
	FlushDeferred(ctx context.Context) error
}

package authn

import "github.com/caddy-oidc/caddy-oidc/internal/store"

// The SQL store satisfies the interfaces this package declares.
var (
	_ TOTPStore    = (*store.DB)(nil)
	_ AttemptStore = (*store.DB)(nil)
	_ PasskeyStore = (*store.DB)(nil)
)

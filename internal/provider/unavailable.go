package provider

import (
	"errors"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// errUnavailable is what a client gets when the database cannot be used for
// now: 503 temporarily_unavailable, which a client may retry, instead of a
// server_error. The cause stays in the chain for the log; none of its text
// reaches the client.
var errUnavailable = fosite.ErrTemporarilyUnavailable.WithHint("The service cannot reach its database right now. Try again later.")

// asUnavailable turns an error caused by the database being unavailable
// (store.ErrUnavailable anywhere in its chain, also through fosite's
// wrapping) into errUnavailable; other errors are returned as they are.
func asUnavailable(err error) error {
	if err == nil || !errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return errUnavailable.WithWrap(err)
}

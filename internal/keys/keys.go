// Package keys manages the provider's signing keys: generation, persistence in
// Caddy's storage (or any certmagic-like store), the published JWKS, and the
// JWT signer handed to fosite.
package keys

import "context"

// Storage is the part of certmagic.Storage the key manager needs; Caddy's
// ctx.Storage() satisfies it. Load must return an error wrapping
// fs.ErrNotExist when the key does not exist.
type Storage interface {
	Lock(ctx context.Context, name string) error
	Unlock(ctx context.Context, name string) error
	Store(ctx context.Context, key string, value []byte) error
	Load(ctx context.Context, key string) ([]byte, error)
	Exists(ctx context.Context, key string) bool
}

// Supported signing algorithms for JWTs issued by the provider.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

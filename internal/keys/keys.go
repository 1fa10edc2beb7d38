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

// Signing algorithms for JWTs issued by the provider.
const (
	RS256 = "RS256"
	RS384 = "RS384"
	RS512 = "RS512"
	PS256 = "PS256"
	PS384 = "PS384"
	PS512 = "PS512"
	ES256 = "ES256"
	ES384 = "ES384"
	ES512 = "ES512"
	EdDSA = "EdDSA" // Ed25519 (RFC 8037)
)

// Algorithms are every algorithm the manager can sign and verify with, in
// the order Algorithms (the method) and discovery report them. A key signs
// with one algorithm: an RSA key generated for RS256 does not sign PS256
// tokens, which get their own key.
var Algorithms = []string{RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA}

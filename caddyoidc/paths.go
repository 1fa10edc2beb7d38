package caddyoidc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// Where an issuer's state lives. The handler and the `caddy oidc` command
// both use these, so the command always works on what the handler reads.

// issuerSlug is a short, file-name-safe identifier of an issuer: the host
// for readability plus a hash so that paths and ports never collide.
func issuerSlug(issuer string) string {
	sum := sha256.Sum256([]byte(issuer))
	host := issuer
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexAny(host, "/:"); i >= 0 {
		host = host[:i]
	}
	host = strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, strings.ToLower(host))
	return host + "-" + hex.EncodeToString(sum[:6])
}

// storagePrefix is the prefix, in Caddy's storage, of the issuer's keys and
// secrets: "oidc/<issuerSlug>".
func storagePrefix(issuer string) string {
	return "oidc/" + issuerSlug(issuer)
}

// totpKeyName is the key, in Caddy's storage (the config's storage module,
// or the default file storage in Caddy's data directory), of the 32-byte
// random key that seals the TOTP secrets of issuer: "oidc/<issuerSlug>/totp_key".
// It is created on first use with keys.LoadOrCreateSecret under the storage
// lock, so every Caddy instance sharing the storage, and `caddy oidc totp`,
// use the same key. The handler must load it exactly like this:
//
//	keys.LoadOrCreateSecret(ctx, ctx.Storage(), totpKeyName(issuer), authn.SealKeySize)
//
// Losing the key makes every enrolled TOTP secret unreadable (users then
// have to enrol again); a copy of the database without the key reveals none.
func totpKeyName(issuer string) string {
	return storagePrefix(issuer) + "/totp_key"
}

// defaultDatabasePath is the one default SQLite database of an issuer:
// <caddy data dir>/oidc/<issuerSlug>.db. Each issuer gets its own file.
func defaultDatabasePath(issuer string) string {
	return filepath.Join(caddy.AppDataDir(), "oidc", issuerSlug(issuer)+".db")
}

// storageConfig is the handler's storage module config: raw, or SQLite when
// raw is empty; a SQLite backend without a path (the Caddyfile's bare
// `storage sqlite`) gets defaultDatabasePath(issuer). Both Handler.Provision
// and the totp command use it, so the command always writes to the database
// the handler reads.
func storageConfig(raw json.RawMessage, issuer string) json.RawMessage {
	if len(raw) == 0 {
		raw = json.RawMessage(`{"backend":"sqlite"}`)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return raw // LoadModule reports the error
	}
	var backend, path string
	_ = json.Unmarshal(fields["backend"], &backend)
	_ = json.Unmarshal(fields["path"], &path)
	if backend != "sqlite" || path != "" {
		return raw
	}
	fields["path"], _ = json.Marshal(defaultDatabasePath(issuer))
	out, err := json.Marshal(fields)
	if err != nil {
		return raw
	}
	return out
}

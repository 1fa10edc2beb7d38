package authn

import (
	"context"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// The storage each part of this package needs, declared here so that any
// backend satisfying them will do; *store.DB satisfies all three.

// TOTPStore keeps authenticator secrets (TOTP).
type TOTPStore interface {
	PutTOTPSecret(ctx context.Context, s store.TOTPSecret) error
	GetTOTPSecret(ctx context.Context, username string) (*store.TOTPSecret, error)
	ConfirmTOTPSecret(ctx context.Context, username string, step int64) error
	AdvanceTOTPStep(ctx context.Context, username string, step int64) (bool, error)
	DeleteTOTPSecret(ctx context.Context, username string) error
	// BeginTX, Commit and Rollback group writes into one transaction.
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// AttemptStore records authentication attempts (Regulator).
type AttemptStore interface {
	RecordAttempt(ctx context.Context, a store.Attempt) error
	RecentFailures(ctx context.Context, username, remoteIP string, since time.Time, limit int) ([]store.Attempt, error)
	DeleteAttemptsBefore(ctx context.Context, t time.Time) (int64, error)
}

// PasskeyStore keeps WebAuthn credentials and ceremonies (Passkeys).
type PasskeyStore interface {
	CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error
	WebAuthnCredentials(ctx context.Context, username string) ([]store.WebAuthnCredential, error)
	UseWebAuthnCredential(ctx context.Context, id string, old, data []byte, usedAt time.Time) error
	DeleteWebAuthnCredential(ctx context.Context, username, id string) error
	RenameWebAuthnCredential(ctx context.Context, username, id, name string) error
	CountWebAuthnCredentials(ctx context.Context, username string) (int, error)
	WebAuthnUserHandle(ctx context.Context, username string) ([]byte, error)
	WebAuthnUsername(ctx context.Context, handle []byte) (string, error)
	PutWebAuthnCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error
	TakeWebAuthnCeremony(ctx context.Context, id string, now time.Time) ([]byte, error)
}

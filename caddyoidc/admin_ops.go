package caddyoidc

import (
	"context"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/provider"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// The operations on an issuer's database that both the admin API (with the
// running Caddy's database) and the CLI (with the database opened from the
// config, when Caddy is not running) perform, and their JSON.

// SessionJSON is a login session in the admin API's answers.
type SessionJSON struct {
	// Handle names the session for revocation: the SHA-256 of its cookie,
	// which cannot be used as the cookie.
	Handle     string     `json:"handle"`
	AuthTime   *time.Time `json:"auth_time,omitempty"`
	AMR        []string   `json:"amr"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt time.Time  `json:"last_seen_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RememberMe bool       `json:"remember_me"`
}

// SessionsJSON answers GET /oidc/sessions.
type SessionsJSON struct {
	Issuer   string        `json:"issuer"`
	User     string        `json:"user"`
	Sessions []SessionJSON `json:"sessions"`
}

// ConsentJSON is a remembered consent in the admin API's answers.
type ConsentJSON struct {
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	Audience  []string  `json:"audience"`
	GrantedAt time.Time `json:"granted_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ConsentsJSON answers GET /oidc/consents.
type ConsentsJSON struct {
	Issuer   string        `json:"issuer"`
	User     string        `json:"user"`
	Consents []ConsentJSON `json:"consents"`
}

// RevokedJSON answers the DELETE requests: how many sessions or consents
// ended, or, for a client's grants, how many of each kind.
type RevokedJSON struct {
	Issuer  string               `json:"issuer"`
	User    string               `json:"user,omitempty"`
	Client  string               `json:"client_id,omitempty"`
	Revoked int64                `json:"revoked"`
	Grants  *store.RevokedGrants `json:"grants,omitempty"`
}

func listSessions(ctx context.Context, db *store.DB, issuer, user string) (SessionsJSON, error) {
	list, err := db.ListLoginSessions(ctx, user, now())
	if err != nil {
		return SessionsJSON{}, err
	}
	out := SessionsJSON{Issuer: issuer, User: user, Sessions: make([]SessionJSON, 0, len(list))}
	for _, s := range list {
		j := SessionJSON{Handle: s.Handle, AMR: s.AMR, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt, RememberMe: s.RememberMe}
		if j.AMR == nil {
			j.AMR = []string{}
		}
		if !s.AuthTime.IsZero() {
			at := s.AuthTime
			j.AuthTime = &at
		}
		out.Sessions = append(out.Sessions, j)
	}
	return out, nil
}

func revokeSessions(ctx context.Context, db *store.DB, issuer, user, handle string) (RevokedJSON, error) {
	// Without a running provider nobody can be told; the sessions end all
	// the same (their clients' records expire with them).
	ended, err := db.EndLoginSessions(ctx, user, handle)
	return RevokedJSON{Issuer: issuer, User: user, Revoked: int64(len(ended))}, err
}

// revokeSessionsNotify ends sessions through the running provider, which
// tells the clients that took part in them (Back-Channel Logout).
func revokeSessionsNotify(ctx context.Context, p *provider.Provider, issuer, user, handle string) (RevokedJSON, error) {
	n, err := p.EndSessions(ctx, user, handle, provider.ReasonAdmin)
	return RevokedJSON{Issuer: issuer, User: user, Revoked: int64(n)}, err
}

func listConsents(ctx context.Context, db *store.DB, issuer, user, client string) (ConsentsJSON, error) {
	list, err := db.ListConsents(ctx, user, now())
	if err != nil {
		return ConsentsJSON{}, err
	}
	out := ConsentsJSON{Issuer: issuer, User: user, Consents: []ConsentJSON{}}
	for _, c := range list {
		if client != "" && c.ClientID != client {
			continue
		}
		out.Consents = append(out.Consents, ConsentJSON{ClientID: c.ClientID, Scopes: nonNil(c.Scopes), Audience: nonNil(c.Audience), GrantedAt: c.GrantedAt, ExpiresAt: c.ExpiresAt})
	}
	return out, nil
}

func revokeConsents(ctx context.Context, db *store.DB, issuer, user, client string) (RevokedJSON, error) {
	n, err := db.RevokeConsents(ctx, user, client)
	return RevokedJSON{Issuer: issuer, User: user, Client: client, Revoked: n}, err
}

func nonNil(a []string) []string {
	if a == nil {
		return []string{}
	}
	return a
}

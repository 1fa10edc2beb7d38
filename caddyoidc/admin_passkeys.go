package caddyoidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
)

// The passkey operations of the admin API (admin.go) and of
// `caddy oidc passkeys` (command_passkeys.go):
//
//	GET    /oidc/passkeys?user=U            the user's passkeys
//	DELETE /oidc/passkeys?user=U[&id=ID]    remove the one with that ID, or all
//
// An administrator removes the passkey of a lost or stolen device this way;
// a removed passkey cannot sign in from the next ceremony on.
func init() {
	adminRoutes["passkeys"] = []route{
		{http.MethodGet, serveListPasskeys},
		{http.MethodDelete, serveRemovePasskeys},
	}
}

// PasskeyJSON is a registered passkey in the admin API's answers. It has
// nothing of the credential's key material.
type PasskeyJSON struct {
	// ID is the credential ID (base64url), which names it for removal.
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
	Discoverable bool       `json:"discoverable"` // usable for passwordless sign-in
}

// PasskeysJSON answers GET /oidc/passkeys.
type PasskeysJSON struct {
	Issuer   string        `json:"issuer"`
	User     string        `json:"user"`
	Passkeys []PasskeyJSON `json:"passkeys"`
}

// errNoSuchPasskey: the user has no passkey with the ID given.
var errNoSuchPasskey = errors.New("no such passkey")

func listPasskeys(ctx context.Context, db *store.DB, issuer, user string) (PasskeysJSON, error) {
	list, err := authn.NewPasskeys(nil, db).List(ctx, user) // listing needs no relying party
	if err != nil {
		return PasskeysJSON{}, err
	}
	out := PasskeysJSON{Issuer: issuer, User: user, Passkeys: make([]PasskeyJSON, 0, len(list))}
	for _, k := range list {
		j := PasskeyJSON{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt.UTC(), Discoverable: k.Discoverable}
		if !k.LastUsedAt.IsZero() {
			t := k.LastUsedAt.UTC()
			j.LastUsedAt = &t
		}
		out.Passkeys = append(out.Passkeys, j)
	}
	return out, nil
}

// removePasskeys removes the user's passkey with the ID id, or all of them
// when id is empty. An ID the user does not have is errNoSuchPasskey.
func removePasskeys(ctx context.Context, db *store.DB, issuer, user, id string) (RevokedJSON, error) {
	out := RevokedJSON{Issuer: issuer, User: user}
	if id == "" {
		n, err := db.DeleteWebAuthnCredentialsOfUser(ctx, user)
		out.Revoked = n
		return out, err
	}
	err := db.DeleteWebAuthnCredential(ctx, user, id)
	if errors.Is(err, store.ErrNotFound) {
		return out, fmt.Errorf("%s has %w with ID %q at %s (see the list)", user, errNoSuchPasskey, id, issuer)
	}
	if err != nil {
		return out, err
	}
	out.Revoked = 1
	return out, nil
}

func serveListPasskeys(w http.ResponseWriter, r *http.Request, h *Handler) error {
	user, err := requiredParam(r, "user")
	if err != nil {
		return err
	}
	out, err := listPasskeys(r.Context(), h.db, h.issuer, user)
	if err != nil {
		return unavailable(err)
	}
	return writeJSON(w, out)
}

func serveRemovePasskeys(w http.ResponseWriter, r *http.Request, h *Handler) error {
	user, err := requiredParam(r, "user")
	if err != nil {
		return err
	}
	id := r.URL.Query().Get("id")
	out, err := removePasskeys(r.Context(), h.db, h.issuer, user, id)
	if errors.Is(err, errNoSuchPasskey) {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: err}
	} else if err != nil {
		return unavailable(err)
	}
	reason := "all passkeys"
	if id != "" {
		reason = "one passkey"
	}
	h.audit.Record(r.Context(), telemetry.Event{Action: telemetry.ActionPasskeysRemoved, User: user, Reason: reason, Actor: "admin", IP: remoteHost(r), Count: out.Revoked})
	return writeJSON(w, out)
}

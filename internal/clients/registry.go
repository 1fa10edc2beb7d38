package clients

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/claims"
)

// Env is what a client's options are checked against: the provider-wide
// definitions that clients refer to by name.
type Env struct {
	// Algorithms are the provider's signing algorithms (ID tokens,
	// userinfo, JWT access tokens).
	Algorithms []string
	// KeyIDs are the kids of the provider's active signing keys, with
	// their algorithms (authorization_signed_response_key_id).
	KeyIDs map[string]string
	// AllowPlainPKCE allows pkce_challenge_method plain.
	AllowPlainPKCE bool
	// HTTPIssuer allows an http sector_identifier_uri on a loopback
	// address, for local testing.
	HTTPIssuer bool
	// Lifespans are the named token lifespans.
	Lifespans map[string]Lifespans
	// Claims are the claims policies and custom scopes; nil: none.
	Claims *claims.Set
	// Policies are the named authorization policies; DefaultPolicy is
	// the policy of clients that name none (default one_factor).
	Policies      authn.Policies
	DefaultPolicy string
}

func (e *Env) claims() *claims.Set {
	if e.Claims == nil {
		empty, _ := claims.New(nil, nil)
		return empty
	}
	return e.Claims
}

// validate checks the provider-wide definitions themselves.
func (e *Env) validate() error {
	for _, name := range sortedKeys(e.Lifespans) {
		if name == "" {
			return fmt.Errorf("lifespans: a lifespan needs a name")
		}
		if err := e.Lifespans[name].validate(); err != nil {
			return fmt.Errorf("lifespans %q: %w", name, err)
		}
	}
	for _, name := range sortedKeys(e.Policies) {
		if name == "one_factor" || name == "two_factor" || name == "deny" || name == "" {
			return fmt.Errorf("authorization_policies: %q is a reserved name", name)
		}
		if e.Policies[name].Default == 0 {
			return fmt.Errorf("authorization_policies: %q: default_policy is required", name)
		}
	}
	if _, err := e.Policies.Resolve(cmpOr(e.DefaultPolicy, PolicyOneFactor)); err != nil {
		return fmt.Errorf("default_authorization_policy: %w", err)
	}
	return nil
}

// Registry holds the registered clients. It is immutable.
type Registry struct {
	byID map[string]*Client
	ids  []string // sorted
}

// NewRegistry validates env and every client configuration (New) and
// returns the registry. Errors name the client.
func NewRegistry(ctx context.Context, cfgs []Config, env Env) (*Registry, error) {
	if err := env.validate(); err != nil {
		return nil, err
	}
	r := &Registry{byID: make(map[string]*Client, len(cfgs))}
	for i, cfg := range cfgs {
		c, err := New(ctx, cfg, &env)
		if err != nil {
			if cfg.ID == "" {
				return nil, fmt.Errorf("clients[%d]: %w", i, err)
			}
			return nil, fmt.Errorf("client %q: %w", cfg.ID, err)
		}
		if _, dup := r.byID[c.id]; dup {
			return nil, fmt.Errorf("client %q: client_id: registered twice", c.id)
		}
		r.byID[c.id] = c
		r.ids = append(r.ids, c.id)
	}
	slices.Sort(r.ids)
	return r, nil
}

// Get returns a registered client, or nil.
func (r *Registry) Get(id string) *Client { return r.byID[id] }

// GetClient is fosite's client lookup (the storage's ClientManager).
func (r *Registry) GetClient(_ context.Context, id string) (fosite.Client, error) {
	if c, ok := r.byID[id]; ok {
		return c, nil
	}
	return nil, fosite.ErrNotFound
}

// All returns the clients, sorted by ID.
func (r *Registry) All() []*Client {
	out := make([]*Client, len(r.ids))
	for i, id := range r.ids {
		out[i] = r.byID[id]
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	return slices.SortedFunc(maps.Keys(m), cmp.Compare[string])
}

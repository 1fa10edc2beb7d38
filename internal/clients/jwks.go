package clients

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
)

// Fetching clients' jwks_uri documents (private_key_jwt).
const (
	jwksFetchTimeout = 5 * time.Second
	jwksMaxBytes     = 256 << 10 // a JWK Set of a few keys is a few KiB
	jwksTTL          = 10 * time.Minute
	// jwksMinRefresh is the least time between two fetches of one URI, so
	// assertions with unknown keys cannot make us hammer the client's
	// server; a failed fetch also waits this long before the next.
	jwksMinRefresh = 10 * time.Second
	// jwksStaleFor is how long a cached set still serves when refetching
	// fails (the client's server is down).
	jwksStaleFor = 24 * time.Hour
)

// jwksFetcher fetches and caches clients' JWK Sets.
type jwksFetcher struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*jwksEntry
}

type jwksEntry struct {
	mu      sync.Mutex // one fetch of the URI at a time
	set     *jose.JSONWebKeySet
	fetched time.Time // when set was fetched
	tried   time.Time // the last fetch attempt
	err     error     // the last attempt's error, if it failed
}

func newJWKSFetcher() *jwksFetcher {
	return &jwksFetcher{
		client:  &http.Client{Timeout: jwksFetchTimeout},
		now:     time.Now,
		entries: map[string]*jwksEntry{},
	}
}

// get returns the key set at uri: cached for jwksTTL, fetched again when
// refresh is set (unless it was fetched less than jwksMinRefresh ago).
func (f *jwksFetcher) get(ctx context.Context, uri string, refresh bool) (*jose.JSONWebKeySet, error) {
	f.mu.Lock()
	e := f.entries[uri]
	if e == nil {
		e = &jwksEntry{}
		f.entries[uri] = e
	}
	f.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.now()
	fresh := e.set != nil && now.Sub(e.fetched) < jwksTTL && !refresh
	recent := !e.tried.IsZero() && now.Sub(e.tried) < jwksMinRefresh
	if fresh || recent {
		if e.set != nil {
			return e.set, nil
		}
		return nil, e.err
	}
	e.tried = now
	set, err := f.fetch(ctx, uri)
	if err != nil {
		e.err = err
		if e.set != nil && now.Sub(e.fetched) < jwksStaleFor {
			return e.set, nil
		}
		return nil, err
	}
	e.set, e.fetched, e.err = set, now, nil
	return set, nil
}

// fetch downloads and parses a JWK Set, keeping its public signing keys.
func (f *jwksFetcher) fetch(ctx context.Context, uri string) (*jose.JSONWebKeySet, error) {
	body, err := getBounded(ctx, f.client, uri, "application/jwk-set+json, application/json", jwksFetchTimeout, jwksMaxBytes)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("GET %s: not a JWK Set: %w", uri, err)
	}
	set := &jose.JSONWebKeySet{}
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			continue // a key type we do not know (RFC 7517 5: ignore it)
		}
		if k.Use != "" && k.Use != "sig" && k.Use != "enc" {
			continue // enc keys receive encrypted responses (encrypt.go)
		}
		pub := k.Public()
		if len(keys.AlgorithmsFor(pub.Key)) == 0 {
			continue // symmetric, EdDSA: not for private_key_jwt here
		}
		if rk, ok := pub.Key.(*rsa.PublicKey); ok && rk.N.BitLen() < 2048 {
			continue // too weak to trust
		}
		set.Keys = append(set.Keys, pub)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("GET %s: no usable key in the JWK Set", uri)
	}
	return set, nil
}

// checkJWKSURI accepts an absolute https URL, or http to a loopback
// address (a client on the same host).
func checkJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", raw)
	case u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("%q must be an absolute URL with a host, without user info or fragment", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return errors.New("must be https (http only to a loopback address): keys fetched over plain http could be forged")
	}
	return fmt.Errorf("%q must be an https URL", raw)
}

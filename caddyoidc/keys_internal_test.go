package caddyoidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
)

func TestKeyRetention(t *testing.T) {
	for _, tc := range []struct {
		h    Handler
		want time.Duration
	}{
		{Handler{}, time.Hour},
		{Handler{IDTokenLifespan: caddy.Duration(2 * time.Second), AccessTokenLifespan: caddy.Duration(3 * time.Second)}, 3 * time.Second},
		{Handler{IDTokenLifespan: caddy.Duration(2 * time.Second)}, time.Hour}, // access tokens keep 1h
		{Handler{AccessTokenLifespan: caddy.Duration(2 * time.Hour)}, 2 * time.Hour},
		{Handler{IDTokenLifespan: caddy.Duration(time.Minute), AccessTokenLifespan: caddy.Duration(time.Minute),
			Lifespans: map[string]Lifespan{"long": {IDToken: caddy.Duration(5 * time.Hour)}}}, 5 * time.Hour},
	} {
		if got := tc.h.keyRetention(); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestKeysFingerprint(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := func(kid string, k *ecdsa.PrivateKey) []keys.ConfiguredKey {
		return []keys.ConfiguredKey{{KeyID: kid, Algorithm: keys.ES256, Key: k}}
	}
	fp := func(c []keys.ConfiguredKey, d time.Duration) string {
		s, err := keysFingerprint(c, d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if fp(nil, time.Hour) != "" {
		t.Error("the default configuration changes the pool key")
	}
	base := fp(cfg("a", k1), time.Hour)
	if base == "" || base != fp(cfg("a", k1), time.Hour) {
		t.Fatal("not stable")
	}
	for name, other := range map[string]string{
		"other key":       fp(cfg("a", k2), time.Hour),
		"other kid":       fp(cfg("b", k1), time.Hour),
		"other retention": fp(cfg("a", k1), 2*time.Hour),
		"no keys, short":  fp(nil, time.Minute),
	} {
		if other == base || other == "" {
			t.Errorf("%s: same fingerprint", name)
		}
	}
}

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
	fp := func(c []keys.ConfiguredKey, d time.Duration, rotation ...time.Duration) string {
		opts := keys.Options{Configured: c, Retention: d}
		if len(rotation) == 2 {
			opts.RotationPeriod, opts.RefreshInterval = rotation[0], rotation[1]
		}
		s, err := keysFingerprint(opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if fp(nil, time.Hour) != "" {
		t.Error("the default configuration changes the pool key")
	}
	if fp(nil, time.Hour, 24*time.Hour, 0) == "" || fp(nil, time.Hour, 0, time.Second) == "" {
		t.Error("rotation options do not change the pool key")
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
		"rotation":        fp(cfg("a", k1), time.Hour, 24*time.Hour, 0),
		"refresh":         fp(cfg("a", k1), time.Hour, 0, time.Second),
	} {
		if other == base || other == "" {
			t.Errorf("%s: same fingerprint", name)
		}
	}
}

func TestKeyOptions(t *testing.T) {
	d := func(s string) caddy.Duration {
		v, err := caddy.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return caddy.Duration(v)
	}
	for _, tc := range []struct {
		h                Handler
		period, interval time.Duration
		wantErr          string
	}{
		{Handler{}, 0, 0, ""},
		{Handler{KeyRotationPeriod: d("720h")}, 720 * time.Hour, 0, ""},
		{Handler{KeyRotationPeriod: d("4s"), KeyRefreshInterval: d("1s")}, 4 * time.Second, time.Second, ""},
		{Handler{KeyRotationPeriod: d("3m")}, 0, 0, "key_rotation_period: 3m0s is shorter than 4 times key_refresh_interval (1m0s)"},
		{Handler{KeyRotationPeriod: d("-1h")}, 0, 0, "key_rotation_period: -1h0m0s is negative (0 turns rotation off)"},
		{Handler{KeyRefreshInterval: d("500ms")}, 0, 0, "key_refresh_interval: 500ms is less than 1s"},
	} {
		opts, err := tc.h.keyOptions(caddy.NewReplacer())
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%+v: error %v, want %q", tc.h, err, tc.wantErr)
			}
			continue
		}
		if err != nil || opts.RotationPeriod != tc.period || opts.RefreshInterval != tc.interval || opts.Retention != time.Hour {
			t.Errorf("%+v: %+v, %v", tc.h, opts, err)
		}
	}
}

package provider

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
)

// orderedPart is one kind of token orderedTokens makes.
type orderedPart struct {
	prefix    string
	generate  func(context.Context, fosite.Requester) (string, string, error)
	signature func(context.Context, string) string
	validate  func(context.Context, fosite.Requester, string) error
}

func orderedParts(s *orderedTokens) []orderedPart {
	return []orderedPart{
		{"ory_at_", s.GenerateAccessToken, s.AccessTokenSignature, s.ValidateAccessToken},
		{"ory_rt_", s.GenerateRefreshToken, s.RefreshTokenSignature, s.ValidateRefreshToken},
		{"ory_ac_", s.GenerateAuthorizeCode, s.AuthorizeCodeSignature, s.ValidateAuthorizeCode},
	}
}

func TestOrderedTokensGenerate(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	clock := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s := newOrderedTokens(compose.NewOAuth2HMACStrategy(tp.fosite), func() time.Time { return clock })
	ctx := context.Background()
	req := jwtRequest(tp, "app", time.Now().Add(time.Hour))
	req.Session.SetExpiresAt(fosite.RefreshToken, time.Now().Add(time.Hour))
	req.Session.SetExpiresAt(fosite.AuthorizeCode, time.Now().Add(time.Hour))

	for _, part := range orderedParts(s) {
		t.Run(part.prefix, func(t *testing.T) {
			var last string
			for i := range 3 {
				clock = clock.Add(time.Duration(i) * time.Millisecond)
				token, sig, err := part.generate(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(token, part.prefix) {
					t.Errorf("%q lacks the prefix %q", token, part.prefix)
				}
				key, _, _ := strings.Cut(strings.TrimPrefix(token, part.prefix), ".")
				if len(key) != orderedKeyLen {
					t.Errorf("key %q has %d characters, want %d", key, len(key), orderedKeyLen)
				}
				if got := part.signature(ctx, token); got != sig {
					t.Errorf("signature(token) = %q, generate said %q", got, sig)
				}
				if err := part.validate(ctx, req, token); err != nil {
					t.Errorf("fosite refuses the token: %v", err)
				}
				// Tokens made in the same millisecond need not sort, later ones must.
				if i > 0 && sig <= last {
					t.Errorf("signature %q (at %v) does not sort after %q", sig, clock, last)
				}
				last = sig
			}
			// A token whose mac is altered is refused.
			token, _, _ := part.generate(ctx, req)
			forged := token[:len(token)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(token, "AA")]
			if err := part.validate(ctx, req, forged); err == nil {
				t.Error("a token with another mac validates")
			}
		})
	}
}

func TestOrderedTokensSignatureOfOtherTokens(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	legacy := compose.NewOAuth2HMACStrategy(tp.fosite)
	s := newOrderedTokens(legacy, time.Now)
	ctx := context.Background()
	req := jwtRequest(tp, "app", time.Now().Add(time.Hour))
	old, oldSig, err := legacy.GenerateAccessToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	key44 := strings.Repeat("A", orderedKeyLen)
	tests := []struct {
		name, token, want string
	}{
		{"fosite's own token", old, oldSig},
		{"empty", "", legacy.AccessTokenSignature(ctx, "")},
		{"no dot", "ory_at_" + key44, legacy.AccessTokenSignature(ctx, "ory_at_"+key44)},
		{"short key", "ory_at_x.y", "y"},
		{"two dots", "ory_at_" + key44 + ".m.n", legacy.AccessTokenSignature(ctx, "ory_at_"+key44+".m.n")},
		{"empty mac", "ory_at_" + key44 + ".", legacy.AccessTokenSignature(ctx, "ory_at_"+key44+".")},
		{"time not base64", "ory_at_" + "!!!!!!!!" + key44[8:] + ".mac", "mac"},
		{"ordered key", "ory_at_" + key44 + ".mac", "000000000000mac"},
		{"another kind's prefix", "ory_rt_" + key44 + ".mac", legacy.AccessTokenSignature(ctx, "ory_rt_"+key44+".mac")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.AccessTokenSignature(ctx, tt.token); got != tt.want {
				t.Errorf("AccessTokenSignature(%q) = %q, want %q", tt.token, got, tt.want)
			}
		})
	}
}

// TestOrderedTokensThroughProvider: the provider finds both the tokens it
// makes and the ones fosite's strategy made before (stored under fosite's
// signature).
func TestOrderedTokensThroughProvider(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	ctx := context.Background()
	for name, strategy := range map[string]interface {
		GenerateAccessToken(context.Context, fosite.Requester) (string, string, error)
	}{
		"ordered": newOrderedTokens(compose.NewOAuth2HMACStrategy(tp.fosite), time.Now),
		"fosite":  compose.NewOAuth2HMACStrategy(tp.fosite),
	} {
		t.Run(name, func(t *testing.T) {
			req := jwtRequest(tp, "app", time.Now().Add(time.Hour))
			token, sig, err := strategy.GenerateAccessToken(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if err := tp.storage.CreateAccessTokenSession(ctx, sig, req); err != nil {
				t.Fatal(err)
			}
			introspect := func() bool {
				w := tp.post(pathIntrospection, url.Values{"token": {token}}, "app", "app-secret")
				return jsonBody(t, w)["active"] == true
			}
			if !introspect() {
				t.Fatal("the provider does not find the token")
			}
			if w := tp.post(pathRevocation, url.Values{"token": {token}}, "app", "app-secret"); w.Code != 200 {
				t.Fatalf("revocation: %d %s", w.Code, w.Body)
			}
			if introspect() {
				t.Error("the token is still active after revocation")
			}
		})
	}
}

// TestOrderedTokensFollowTheSecret: generate keeps keyed MAC states between
// tokens; once the secret changes, tokens are keyed with the new one.
func TestOrderedTokensFollowTheSecret(t *testing.T) {
	cfg := &fosite.Config{GlobalSecret: []byte(strings.Repeat("a", 32))}
	s := newOrderedTokens(compose.NewOAuth2HMACStrategy(cfg), time.Now)
	ctx := context.Background()
	req := fosite.NewRequest()
	req.Session = openid.NewDefaultSession()
	req.Session.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))

	var first string
	for i := range 3 { // the second and third reuse the first's state
		token, _, err := s.GenerateAccessToken(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateAccessToken(ctx, req, token); err != nil {
			t.Fatalf("token %d under the first secret: %v", i, err)
		}
		first = token
	}
	cfg.GlobalSecret = []byte(strings.Repeat("b", 32))
	token, _, err := s.GenerateAccessToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ValidateAccessToken(ctx, req, token); err != nil {
		t.Errorf("token under the new secret: %v", err)
	}
	if err := s.ValidateAccessToken(ctx, req, first); err == nil {
		t.Error("a token of the old secret validates under the new one")
	}
}

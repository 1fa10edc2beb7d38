package sessionjson

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// benchSession is a session as the provider makes it for a login.
func benchSession() *openid.DefaultSession {
	now := time.Now().UTC().Truncate(time.Second)
	return &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			Issuer:                              "https://auth.example.com",
			Subject:                             "0b5e8c52-7f3a-4d1e-9a6b-2c4d8e0f1a3b",
			AuthTime:                            now,
			RequestedAt:                         now,
			AuthenticationMethodsReferences:     []string{"pwd"},
			AuthenticationContextClassReference: "1",
			Extra: map[string]any{
				"azp":                "my-app",
				"sid":                "9d2f6a1c-4b3e-4f5a-8c7d-1e0f2a3b4c5d",
				"email":              "demo@example.com",
				"email_verified":     true,
				"name":               "Demo User",
				"preferred_username": "demo",
				"updated_at":         float64(now.Unix()),
				"groups":             []any{"admins", "dev"},
			},
		},
		Headers: &jwt.Headers{Extra: map[string]any{"alg": "ES256"}},
		ExpiresAt: map[fosite.TokenType]time.Time{
			fosite.AccessToken:  now.Add(time.Hour),
			fosite.RefreshToken: now.Add(30 * 24 * time.Hour),
		},
		Username: "demo",
		Subject:  "0b5e8c52-7f3a-4d1e-9a6b-2c4d8e0f1a3b",
	}
}

func BenchmarkMarshal(b *testing.B) {
	s := benchSession()
	b.Run("sessionjson", func(b *testing.B) {
		var n int
		for b.Loop() {
			data, err := Marshal(s)
			if err != nil {
				b.Fatal(err)
			}
			n = len(data)
		}
		b.ReportMetric(float64(n), "bytes")
	})
	b.Run("encoding-json", func(b *testing.B) {
		var n int
		for b.Loop() {
			data, err := json.Marshal(s)
			if err != nil {
				b.Fatal(err)
			}
			n = len(data)
		}
		b.ReportMetric(float64(n), "bytes")
	})
}

func BenchmarkUnmarshal(b *testing.B) {
	s := benchSession()
	data, err := Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	old, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	run := func(data []byte, unmarshal func([]byte, *openid.DefaultSession) error) func(*testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				if err := unmarshal(data, emptySession()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes")
		}
	}
	jsonUnmarshal := func(data []byte, s *openid.DefaultSession) error { return json.Unmarshal(data, s) }
	b.Run("sessionjson", run(data, Unmarshal))
	b.Run("sessionjson-old-row", run(old, Unmarshal))
	b.Run("encoding-json", run(old, jsonUnmarshal))
	b.Run("encoding-json-new-row", run(data, jsonUnmarshal))
}

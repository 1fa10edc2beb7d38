package provider

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// TestWriteAccessResponseAsFosite compares writeAccessResponse with fosite's
// WriteAccessResponse, which it replaces: the same status, headers and
// bytes, for the responses each grant makes and for extras the JSON encoder
// hands to encoding/json or cannot encode at all.
func TestWriteAccessResponseAsFosite(t *testing.T) {
	p := newEndpointProvider(t, nil)
	tests := []struct {
		name  string
		extra map[string]any
	}{
		{"client_credentials", nil},
		{"code exchange", map[string]any{"refresh_token": "ory_rt_AZryNQ.mac", "id_token": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}},
		{"odd extras", map[string]any{"<&>": "a\u2028\xff", "n": 1e21, "t": time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), "l": []any{nil, true}}},
		{"unencodable", map[string]any{"bad": make(chan int)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := fosite.NewAccessResponse()
			resp.SetAccessToken("ory_at_AZryNQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.bWFj")
			resp.SetTokenType("bearer")
			resp.SetExpiresIn(time.Hour)
			resp.SetScopes(fosite.Arguments{"openid", "offline_access"})
			for k, v := range tt.extra {
				resp.SetExtra(k, v)
			}
			want := httptest.NewRecorder()
			p.oauth2.WriteAccessResponse(context.Background(), want, nil, resp)
			got := httptest.NewRecorder()
			p.writeAccessResponse(context.Background(), got, nil, resp)
			if got.Code != want.Code {
				t.Errorf("status %d, fosite's %d", got.Code, want.Code)
			}
			for k := range want.Header() {
				if got.Header().Get(k) != want.Header().Get(k) {
					t.Errorf("header %s: %q, fosite's %q", k, got.Header().Get(k), want.Header().Get(k))
				}
			}
			if len(got.Header()) != len(want.Header()) {
				t.Errorf("headers %v, fosite's %v", got.Header(), want.Header())
			}
			if got.Body.String() != want.Body.String() {
				t.Errorf("body:\n%s\nfosite's:\n%s", got.Body, want.Body)
			}
		})
	}
}

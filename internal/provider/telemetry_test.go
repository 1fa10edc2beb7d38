package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
)

// recorder keeps what the engine reports.
type recorder struct {
	mu      sync.Mutex
	metrics []string
	events  []telemetry.Event
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics = append(r.metrics, fmt.Sprintf(format, args...))
}

func (r *recorder) SignIn(method, result string)       { r.add("sign_in %s %s", method, result) }
func (r *recorder) SecondFactor(method, result string) { r.add("second_factor %s %s", method, result) }
func (r *recorder) Ban()                               { r.add("ban") }
func (r *recorder) Authorization(client, outcome string) {
	r.add("authorization %q %s", client, outcome)
}
func (r *recorder) TokenIssued(client, grantType string) { r.add("token %s %s", client, grantType) }
func (r *recorder) TokenError(client, code string)       { r.add("token_error %q %s", client, code) }
func (r *recorder) DigestVerified(kind string, _ time.Duration) {
	r.add("digest %s", kind)
}

func (r *recorder) Record(_ context.Context, e telemetry.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// The engine reports token responses, token errors, revocations and failed
// authorization requests, with client IDs only from the configuration.
func TestTelemetryReports(t *testing.T) {
	rec := &recorder{}
	tp := newEndpointProvider(t, func(c *Config) { c.Telemetry = telemetry.Sink{Metrics: rec, Audit: rec} })
	tp.scopes = []string{"openid", "offline_access"}
	g := tp.mint("app", "alice")

	if w := tp.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.refresh}}, "app", "app-secret"); w.Code != http.StatusOK {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	if w := tp.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "app", "app-secret"); w.Code != http.StatusBadRequest {
		t.Fatalf("bad refresh: %d %s", w.Code, w.Body)
	}
	if w := tp.post(pathRevocation, url.Values{"token": {g.access}}, "app", "app-secret"); w.Code != http.StatusOK {
		t.Fatalf("revocation: %d %s", w.Code, w.Body)
	}
	req := httptest.NewRequest(http.MethodGet, epIssuer+pathAuthorize+"?client_id=made-up&response_type=code&redirect_uri=https://x.example/cb", nil)
	tp.ServeHTTP(httptest.NewRecorder(), req)

	for _, want := range []string{
		"token app refresh_token",
		`token_error "app" invalid_grant`,
		`authorization "" invalid_client`,
	} {
		if !slices.Contains(rec.metrics, want) {
			t.Errorf("no %q among the metrics %q", want, rec.metrics)
		}
	}
	var actions []string
	for _, e := range rec.events {
		actions = append(actions, e.Action+" "+e.Client+" "+e.User)
	}
	for _, want := range []string{"token_refreshed app alice", "token_revoked app "} {
		if !slices.Contains(actions, want) {
			t.Errorf("no %q among the audit events %q", want, actions)
		}
	}
}

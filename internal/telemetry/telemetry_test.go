package telemetry

import (
	"context"
	"testing"
	"time"
)

func TestBoundedLabels(t *testing.T) {
	for _, tc := range []struct {
		f       func(string) string
		in, out string
	}{
		{ErrorCode, "invalid_grant", "invalid_grant"},
		{ErrorCode, "login_required", "login_required"},
		{ErrorCode, "", "other"},
		{ErrorCode, "alice@example.com", "other"},
		{GrantType, "authorization_code", "authorization_code"},
		{GrantType, "urn:ietf:params:oauth:grant-type:jwt-bearer", "other"},
	} {
		if got := tc.f(tc.in); got != tc.out {
			t.Errorf("(%q) = %q, want %q", tc.in, got, tc.out)
		}
	}
}

func TestSinkDefaults(t *testing.T) {
	s := Sink{}.Or()
	s.Metrics.SignIn(MethodPassword, ResultSuccess) // no-ops must not panic
	s.Metrics.DigestVerified(DigestUserPassword, time.Millisecond)
	s.Audit.Record(context.Background(), Event{Action: ActionSignIn})
	if _, ok := s.Metrics.(NopMetrics); !ok {
		t.Errorf("default Metrics is %T", s.Metrics)
	}
}

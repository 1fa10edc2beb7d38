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

type countingMetrics struct {
	NopMetrics
	kind string
	d    time.Duration
}

func (m *countingMetrics) DigestVerified(kind string, d time.Duration) { m.kind, m.d = kind, d }

func TestSinkDefaultsAndTimed(t *testing.T) {
	s := Sink{}.Or()
	s.Metrics.SignIn(MethodPassword, ResultSuccess) // no-ops must not panic
	s.Audit.Record(context.Background(), Event{Action: ActionSignIn})

	m := &countingMetrics{}
	if got := Timed(m, DigestUserPassword, func() int { time.Sleep(time.Millisecond); return 7 }); got != 7 {
		t.Errorf("Timed returned %d", got)
	}
	if m.kind != DigestUserPassword || m.d < time.Millisecond {
		t.Errorf("Timed reported %q %v", m.kind, m.d)
	}
}

package autheliaimport

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"1h", time.Hour, "1h"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"1m", time.Minute, "1m"},
		{"1 day", 24 * time.Hour, "1d"},
		{"90d", 90 * 24 * time.Hour, "90d"},
		{"2 weeks 3d", 17 * 24 * time.Hour, "17d"},
		{"1y", 365 * 24 * time.Hour, "365d"},
		{"1M", 30 * 24 * time.Hour, "30d"},
		{"3600", time.Hour, "1h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"45s", 45 * time.Second, "45s"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"1 hour 5 minutes", 65 * time.Minute, "1h5m"},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		out := FormatDuration(got)
		if out != tc.out {
			t.Errorf("FormatDuration(%v) = %q, want %q", got, out, tc.out)
		}
		if back, err := caddy.ParseDuration(out); err != nil || back != got {
			t.Errorf("caddy.ParseDuration(%q) = %v, %v; want %v", out, back, err, got)
		}
	}
	for _, bad := range []string{"", "soon", "1 fortnight", "h"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

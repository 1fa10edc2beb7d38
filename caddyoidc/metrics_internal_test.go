package caddyoidc

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metricNames returns the names of the provider's metrics as Prometheus
// exposes them (a histogram as its _bucket, _sum and _count series).
func metricNames(t *testing.T) []string {
	t.Helper()
	initMetrics()
	ch := make(chan *prometheus.Desc, 16)
	go func() {
		for _, c := range []prometheus.Collector{
			metrics.signIns, metrics.secondFactors, metrics.bans, metrics.authorizations,
			metrics.tokensIssued, metrics.tokenErrors, metrics.digestSeconds, metrics.sessions,
		} {
			c.Describe(ch)
		}
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names = append(names, m[1])
		if m[1] == "caddy_oidc_digest_verification_seconds" {
			names = append(names, m[1]+"_bucket", m[1]+"_sum", m[1]+"_count")
		}
	}
	return names
}

// The example Grafana dashboard is valid JSON and queries only metrics that
// exist, and every metric appears on it.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../examples/grafana/caddy-oidc-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && (k == "expr" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	if len(exprs) < 10 {
		t.Fatalf("only %d queries found", len(exprs))
	}
	known := metricNames(t)
	used := map[string]bool{}
	metricRE := regexp.MustCompile(`\bcaddy_oidc_[a-z_]+`)
	for _, e := range exprs {
		names := metricRE.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("query %q uses none of the provider's metrics", e)
		}
		for _, n := range names {
			if !slices.Contains(known, n) {
				t.Errorf("query %q uses %s, which the provider does not export", e, n)
			}
			used[n] = true
		}
	}
	for _, n := range known {
		if !used[n] && !slices.Contains([]string{"caddy_oidc_digest_verification_seconds"}, n) {
			t.Errorf("the dashboard does not show %s", n)
		}
	}
}

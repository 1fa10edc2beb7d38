package caddyoidc

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
)

// The provider's Prometheus metrics. They live in Caddy's registry, so they
// are served wherever Caddy serves its metrics (the admin endpoint's
// /metrics and the metrics handler). The collectors are created once per
// process and registered in the registry of every configuration loaded,
// so counts survive reloads; every series has the issuer label, and client
// labels only take client IDs from the configuration ("unknown" otherwise).
var metrics = struct {
	once           sync.Once
	signIns        *prometheus.CounterVec
	secondFactors  *prometheus.CounterVec
	bans           *prometheus.CounterVec
	authorizations *prometheus.CounterVec
	tokensIssued   *prometheus.CounterVec
	tokenErrors    *prometheus.CounterVec
	digestSeconds  *prometheus.HistogramVec
	sessions       *sessionsCollector
}{}

const metricsNamespace, metricsSubsystem = "caddy", "oidc"

func initMetrics() {
	metrics.once.Do(func() {
		counter := func(name, help string, labels ...string) *prometheus.CounterVec {
			return prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help,
			}, append([]string{"issuer"}, labels...))
		}
		metrics.signIns = counter("sign_ins_total", "First-factor sign-in attempts by method (password, password_grant, passkey) and result (success, failure).", "method", "result")
		metrics.secondFactors = counter("second_factors_total", "Second-factor attempts by method (totp, webauthn) and result (success, failure).", "method", "result")
		metrics.bans = counter("regulation_bans_total", "Authentication attempts refused because regulation banned the user or address.")
		metrics.authorizations = counter("authorization_requests_total", "Authorization requests by client and outcome (ok, or the OAuth error code).", "client", "outcome")
		metrics.tokensIssued = counter("tokens_issued_total", "Token responses by client and grant type.", "client", "grant_type")
		metrics.tokenErrors = counter("token_errors_total", "Token endpoint errors by client and OAuth error code.", "client", "error")
		metrics.digestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "digest_verification_seconds",
			Help:    "Time spent verifying password digests (queueing for a hashing slot included).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"issuer", "kind"})
		metrics.sessions = &sessionsCollector{desc: prometheus.NewDesc(
			prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "login_sessions_active"),
			"Unexpired login sessions in the issuer's database (counted at scrape time).",
			[]string{"issuer"}, nil)}
	})
}

// registerMetrics registers the collectors in the registry of ctx's
// configuration; a second handler of the same configuration finds them
// registered already.
func registerMetrics(ctx caddy.Context) error {
	initMetrics()
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		metrics.signIns, metrics.secondFactors, metrics.bans, metrics.authorizations,
		metrics.tokensIssued, metrics.tokenErrors, metrics.digestSeconds, metrics.sessions,
	} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) && already.ExistingCollector == c {
				continue
			}
			return err
		}
	}
	return nil
}

// promMetrics implements telemetry.Metrics for one issuer.
type promMetrics struct {
	issuer  string
	clients map[string]bool // the configured client IDs
}

func newPromMetrics(issuer string, clientIDs []string) *promMetrics {
	initMetrics()
	m := &promMetrics{issuer: issuer, clients: make(map[string]bool, len(clientIDs))}
	for _, id := range clientIDs {
		m.clients[id] = true
	}
	return m
}

// client bounds a client label to the configured IDs.
func (m *promMetrics) client(id string) string {
	if m.clients[id] {
		return id
	}
	return "unknown"
}

func (m *promMetrics) SignIn(method, result string) {
	metrics.signIns.WithLabelValues(m.issuer, method, result).Inc()
}

func (m *promMetrics) SecondFactor(method, result string) {
	metrics.secondFactors.WithLabelValues(m.issuer, method, result).Inc()
}

func (m *promMetrics) Ban() { metrics.bans.WithLabelValues(m.issuer).Inc() }

func (m *promMetrics) Authorization(clientID, outcome string) {
	metrics.authorizations.WithLabelValues(m.issuer, m.client(clientID), outcome).Inc()
}

func (m *promMetrics) TokenIssued(clientID, grantType string) {
	metrics.tokensIssued.WithLabelValues(m.issuer, m.client(clientID), grantType).Inc()
}

func (m *promMetrics) TokenError(clientID, code string) {
	metrics.tokenErrors.WithLabelValues(m.issuer, m.client(clientID), code).Inc()
}

func (m *promMetrics) DigestVerified(kind string, d time.Duration) {
	metrics.digestSeconds.WithLabelValues(m.issuer, kind).Observe(d.Seconds())
}

// sessionsCollector reports the active login sessions of every running
// issuer, counted in its database when Prometheus scrapes.
type sessionsCollector struct {
	desc *prometheus.Desc
}

// countTimeout bounds one issuer's count at scrape time.
const countTimeout = 2 * time.Second

func (c *sessionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sessionsCollector) Collect(ch chan<- prometheus.Metric) {
	for issuer, h := range runningIssuers() {
		ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
		n, err := h.db.CountLoginSessions(ctx, now())
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), issuer)
	}
}

// Interface guards
var (
	_ telemetry.Metrics    = (*promMetrics)(nil)
	_ prometheus.Collector = (*sessionsCollector)(nil)
)

package logout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Notice is one logout token to deliver to one client.
type Notice struct {
	ClientID string // for the logs
	URI      string // the client's backchannel_logout_uri
	Token    string // the signed logout token; never logged
}

// SenderConfig tunes deliveries; zero values take the defaults.
type SenderConfig struct {
	// Attempts is how many times a delivery is tried in all (default 3).
	Attempts int
	// RetryDelay is the wait before the first retry; it doubles before
	// each next one (default 2s).
	RetryDelay time.Duration
	// Timeout bounds each attempt (default 5s).
	Timeout time.Duration
	// Concurrency bounds the deliveries in flight (default 16); more
	// wait for a slot.
	Concurrency int
	// Transport makes the requests (default http.DefaultTransport).
	Transport http.RoundTripper
}

// Sender delivers logout tokens in the background: Send never blocks the
// user's request, failures are retried a bounded number of times with
// growing delays, and a delivery that still fails is logged (client ID,
// URI, reason; never the token).
type Sender struct {
	cfg    SenderConfig
	client *http.Client
	log    *zap.Logger
	slots  chan struct{}
	wg     sync.WaitGroup
}

// NewSender returns a Sender; log may be nil.
func NewSender(cfg SenderConfig, log *zap.Logger) *Sender {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 2 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Sender{
		cfg: cfg,
		client: &http.Client{
			Transport: cfg.Transport,
			Timeout:   cfg.Timeout,
			// The logout token goes to the registered URI only.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:   log,
		slots: make(chan struct{}, cfg.Concurrency),
	}
}

// Send delivers n in the background and returns at once.
func (s *Sender) Send(n Notice) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.slots <- struct{}{}
		defer func() { <-s.slots }()
		s.deliver(n)
	}()
}

// Wait blocks until every delivery sent so far succeeded or gave up.
func (s *Sender) Wait() { s.wg.Wait() }

// deliver tries n up to Attempts times.
func (s *Sender) deliver(n Notice) {
	delay := s.cfg.RetryDelay
	var (
		err     error
		attempt int
	)
	for attempt = 1; attempt <= s.cfg.Attempts; attempt++ {
		var retry bool
		retry, err = s.post(n)
		if err == nil {
			s.log.Info("back-channel logout delivered", zap.String("client_id", n.ClientID), zap.Int("attempt", attempt))
			return
		}
		if !retry || attempt == s.cfg.Attempts {
			break
		}
		s.log.Debug("back-channel logout failed, retrying", zap.String("client_id", n.ClientID), zap.Int("attempt", attempt), zap.Duration("in", delay), zap.String("reason", err.Error()))
		time.Sleep(delay)
		delay *= 2
	}
	s.log.Warn("back-channel logout failed; the application may still consider the user signed in",
		zap.String("client_id", n.ClientID), zap.String("uri", n.URI), zap.Int("attempts", attempt), zap.String("reason", err.Error()))
}

// errRejected is a 4xx answer: the client refused the token, and sending
// it again would not change that.
var errRejected = errors.New("rejected")

// post makes one attempt. It reports whether a failure is worth retrying:
// a network error, a timeout, a 5xx or 429; not a refusal (other 4xx).
func (s *Sender) post(n Notice) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	body := url.Values{"logout_token": {n.Token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URI, strings.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-store")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is logged beside it; keep the cause
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("HTTP %d", resp.StatusCode)
	default:
		return false, fmt.Errorf("%w: HTTP %d", errRejected, resp.StatusCode)
	}
}

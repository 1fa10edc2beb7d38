package clients

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// getBounded GETs uri with client, within timeout, and returns the body of a
// 200 response of at most max bytes. It serves every document the provider
// fetches from elsewhere (client JWK Sets, sector identifier lists).
func getBounded(ctx context.Context, client *http.Client, uri, accept string, timeout time.Duration, max int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", uri, err)
	}
	defer func() { _ = resp.Body.Close() }() // the body is read or abandoned: nothing to report
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", uri, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", uri, err)
	}
	if len(body) > max {
		return nil, fmt.Errorf("GET %s: the document is larger than %d bytes", uri, max)
	}
	return body, nil
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// GetBounded is getBounded for the provider's own fetches (request_uri).
func GetBounded(ctx context.Context, client *http.Client, uri, accept string, timeout time.Duration, max int) ([]byte, error) {
	return getBounded(ctx, client, uri, accept, timeout, max)
}

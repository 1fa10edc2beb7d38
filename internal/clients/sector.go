package clients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Limits of the sector_identifier_uri fetch at provision.
const (
	sectorFetchTimeout = 10 * time.Second
	sectorMaxBytes     = 64 << 10
)

// resolveSector returns the client's pairwise sector from sector_identifier (a
// host, Authelia's older option) or sector_identifier_uri (OpenID Connect
// Core 8.1 and Registration 5: an https URL of a JSON array of redirect URIs
// that must list every redirect URI of the client; the sector is its host).
// Without either the client gets public subjects (""). httpIssuer allows an http
// loopback URI, for local testing.
func resolveSector(ctx context.Context, redirectURIs []string, sector, uri string, httpIssuer bool) (string, error) {
	switch {
	case sector != "" && uri != "":
		return "", fmt.Errorf("sector_identifier_uri: set either sector_identifier or sector_identifier_uri, not both")
	case sector != "":
		u, err := url.Parse("https://" + sector)
		if err != nil || u.Host != sector || u.Hostname() == "" || u.User != nil {
			return "", fmt.Errorf("sector_identifier: %q must be a host (example.com, or example.com:8443), not a URL", sector)
		}
		return strings.ToLower(sector), nil
	case uri == "":
		return "", nil
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("sector_identifier_uri: %q is not an absolute https URL", uri)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && httpIssuer && isLoopbackHost(u.Hostname()):
	default:
		return "", fmt.Errorf("sector_identifier_uri: %q must use https", uri)
	}
	listed, err := fetchSectorURIs(ctx, uri)
	if err != nil {
		return "", fmt.Errorf("sector_identifier_uri: %w", err)
	}
	for _, r := range redirectURIs {
		if !slices.Contains(listed, r) {
			return "", fmt.Errorf("sector_identifier_uri: %q does not list the redirect URI %q", uri, r)
		}
	}
	return strings.ToLower(u.Host), nil
}

// fetchSectorURIs GETs a sector identifier document: a JSON array of
// strings, at most sectorMaxBytes, within sectorFetchTimeout.
func fetchSectorURIs(ctx context.Context, uri string) ([]string, error) {
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("redirects are not followed")
		},
	}
	body, err := getBounded(ctx, client, uri, "application/json", sectorFetchTimeout, sectorMaxBytes)
	if err != nil {
		return nil, err
	}
	var list []string
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%q is not a JSON array of redirect URIs: %w", uri, err)
	}
	return list, nil
}

package clients

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestResolveSector(t *testing.T) {
	serve := func(body string, status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/redirect" {
				http.Redirect(w, r, "/ok", http.StatusFound)
				return
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	ok := serve(`["https://a.example/cb", "https://b.example/cb", "app://cb"]`, 200)
	big := serve(`["https://a.example/cb", "`+strings.Repeat("x", sectorMaxBytes)+`"]`, 200)
	notJSON := serve(`<html>`, 200)
	gone := serve(`[]`, 404)
	host := strings.TrimPrefix(ok.URL, "http://")

	for _, tc := range []struct {
		name, sector, uri string
		httpIssuer        bool
		want, wantErr     string
	}{
		{"none", "", "", false, "", ""},
		{"host", "Apps.Example.com", "", false, "apps.example.com", ""},
		{"host and port", "apps.example.com:8443", "", false, "apps.example.com:8443", ""},
		{"a URL as host", "https://apps.example.com", "", false, "", "must be a host"},
		{"a path", "apps.example.com/x", "", false, "", "must be a host"},
		{"both", "apps.example.com", ok.URL, true, "", "not both"},
		{"uri", "", ok.URL + "/s.json", true, host, ""},
		{"http uri with an https issuer", "", ok.URL + "/s.json", false, "", "must use https"},
		{"http uri not on loopback", "", "http://sectors.example.com/s.json", true, "", "must use https"},
		{"relative uri", "", "/s.json", true, "", "not an absolute https URL"},
		{"too large", "", big.URL, true, "", "larger than"},
		{"not JSON", "", notJSON.URL, true, "", "not a JSON array"},
		{"status", "", gone.URL, true, "", "404"},
		{"redirect", "", ok.URL + "/redirect", true, "", "redirects are not followed"},
		{"missing a redirect URI", "", serve(`["https://a.example/cb"]`, 200).URL, true, "", `does not list the redirect URI "https://b.example/cb"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveSector(context.Background(), []string{"https://a.example/cb", "https://b.example/cb"}, tc.sector, tc.uri, tc.httpIssuer)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			case tc.wantErr == "" && got != tc.want:
				t.Errorf("sector = %q, want %q", got, tc.want)
			}
		})
	}
}

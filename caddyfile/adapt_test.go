package caddyfile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// TestAdaptFixtures adapts each testdata/*.caddyfiletest (a Caddyfile, a line
// of dashes, the expected JSON) and compares, like Caddy's own adapt tests.
// Run with UPDATE_FIXTURES=1 to rewrite the expected JSON.
func TestAdaptFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.caddyfiletest")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), "\n----------\n")
			if !ok {
				t.Fatal("fixture has no ---------- separator")
			}
			got := adapt(t, input)
			if os.Getenv("UPDATE_FIXTURES") != "" {
				_ = os.WriteFile(f, []byte(input+"\n----------\n"+got+"\n"), 0o644)
				return
			}
			if strings.TrimSpace(got) != strings.TrimSpace(want) {
				t.Errorf("adapted JSON differs.\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestAdaptExamples adapts every Caddyfile under examples/: each must adapt
// without error or warning, and placeholders for secrets must survive as
// placeholders (resolved at load, never written into the JSON).
func TestAdaptExamples(t *testing.T) {
	files, _ := filepath.Glob("../examples/*/Caddyfile")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": f})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			for _, w := range warnings {
				if !strings.Contains(w.Message, "not formatted") {
					t.Errorf("warning: %s", w.String())
				}
			}
			if !bytes.Contains(out, []byte(`"handler":"oidc_provider"`)) {
				t.Error("no oidc_provider handler in the adapted config")
			}
		})
	}
}

func adapt(t *testing.T, input string) string {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

package bench

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestChurnSummary checks churn_summary.py on a run whose RSS and database
// grow in the first third and are flat in the last.
func TestChurnSummary(t *testing.T) {
	py := python(t)
	b, err := exec.Command(py, "churn_summary.py", "testdata/churn").CombinedOutput()
	if err != nil {
		t.Fatalf("churn_summary.py: %v: %s", err, b)
	}
	out := string(b)
	for _, want := range []string{
		"9 samples over 80 s; first third 0–20 s, last third 60–80 s.",
		"| RSS (MiB) | 51.00 | 52.00 | +6.000 | +0.000 |",
		"| database + WAL (KiB) | 1088.00 | 1148.00 | +360.000 | +0.000 |",
		"| access token rows | 101.00 | 107.00 | +6.000 | +6.000 |",
		"| flow | 2 | 1000 | 0 |",
		"| refresh | 1 | 3000 | 0 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// A run whose load saw failed requests, or with too few samples, is an
// error (exit status 1), the summary still written.
func TestChurnSummaryErrors(t *testing.T) {
	py := python(t)
	csv, err := os.ReadFile("testdata/churn/churn.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(csv), "\n")
	for name, files := range map[string]map[string]string{
		"request errors": {
			"churn.csv":          string(csv),
			"load-flow.jsonl":    `{"ok":10,"errors":2,"first_error":"token authorization_code: 400"}` + "\n",
			"load-refresh.jsonl": `{"ok":10,"errors":0}` + "\n",
		},
		"no refresh load": {
			"churn.csv":       string(csv),
			"load-flow.jsonl": `{"ok":10,"errors":0}` + "\n",
		},
		"two samples": {
			"churn.csv":          strings.Join(lines[:3], ""),
			"load-flow.jsonl":    `{"ok":10,"errors":0}` + "\n",
			"load-refresh.jsonl": `{"ok":10,"errors":0}` + "\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, content := range files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			b, err := exec.Command(py, "churn_summary.py", dir).Output()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1; output:\n%s", err, b)
			}
			if !strings.Contains(string(b), "| load | chunks | ok | errors |") {
				t.Errorf("no load table in:\n%s", b)
			}
		})
	}
}

// Package bench holds the load benchmark's scripts (run.sh, plot.py); this
// test checks the plot script on a fixture.
package bench

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// svgSummary is what the test reads back from a chart.
type svgSummary struct {
	root   string
	panels []string // data-scenario of each panel, in order
	bars   []string // the title of each bar: "peer scn c=N: value"
}

// readSVG parses an SVG document as XML, failing on malformed markup.
func readSVG(t *testing.T, r io.Reader) svgSummary {
	t.Helper()
	var s svgSummary
	d := xml.NewDecoder(r)
	var inBar bool
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			attr := func(name string) string {
				for _, a := range e.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch {
			case s.root == "":
				s.root = e.Name.Space + " " + e.Name.Local
			case e.Name.Local == "g" && attr("class") == "panel":
				s.panels = append(s.panels, attr("data-scenario"))
			case e.Name.Local == "rect" && attr("class") == "bar":
				inBar = true
			case e.Name.Local == "title" && inBar:
				var title string
				if err := d.DecodeElement(&title, &e); err != nil {
					t.Fatal(err)
				}
				s.bars = append(s.bars, title)
			}
		case xml.EndElement:
			if e.Name.Local == "rect" {
				inBar = false
			}
		}
	}
	return s
}

func python(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	return py
}

func TestPlot(t *testing.T) {
	py := python(t)
	out := filepath.Join(t.TempDir(), "plot.svg")
	if b, err := exec.Command(py, "plot.py", "testdata/results.jsonl", out).CombinedOutput(); err != nil {
		t.Fatalf("plot.py: %v: %s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	s := readSVG(t, f)
	if s.root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q, want svg in the SVG namespace", s.root)
	}
	// Scenarios in the harness's order; the failed jwks run and the peer
	// that did not start have no panel or bar; signin (ours only) has
	// ours' bar alone.
	if want := []string{"disc", "cc", "flow", "flow-es256", "signin"}; !slices.Equal(s.panels, want) {
		t.Errorf("panels %q, want %q", s.panels, want)
	}
	want := []string{
		"ours disc c=16: 34737", "caddy-respond disc c=16: 33333", "node disc c=16: 8276",
		"ours cc c=16: 6208", "ours-postgres cc c=16: 7142", "node cc c=16: 4842",
		"ours flow c=16: 534", "ours-postgres flow c=16: 459", "node flow c=16: 650",
		"ours flow-es256 c=16: 1000", "node flow-es256 c=16: 700",
		"ours signin c=16: 30",
	}
	if !slices.Equal(s.bars, want) {
		t.Errorf("bars (requests per server CPU-second, ours first):\n got %q\nwant %q", s.bars, want)
	}
}

// Input without a single usable run, or that is not JSON lines, is an
// error rather than an empty chart.
func TestPlotRefusesUnusableInput(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"only failures": `{"peer":"ours","failed":"start"}` + "\n" + `{"peer":"ours","scn":"cc","conc":16,"failed":true}` + "\n",
		"not json":      "peer=ours\n",
		"empty":         "",
	} {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".jsonl")
			if err := os.WriteFile(in, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out.svg")
			b, err := exec.Command(py, "plot.py", in, out).CombinedOutput()
			if err == nil {
				t.Fatalf("plot.py succeeded: %s", b)
			}
			if !strings.Contains(string(b), "plot: ") {
				t.Errorf("message %q does not say what failed", b)
			}
		})
	}
}

// TestTable checks table.py on the fixture: a row per scenario our peers
// ran, ratios against the peers that ran it, "–" for the others, and the
// PostgreSQL peer's figure with its server's CPU (the run's other CPU).
func TestTable(t *testing.T) {
	py := python(t)
	b, err := exec.Command(py, "table.py", "testdata/results.jsonl").CombinedOutput()
	if err != nil {
		t.Fatalf("table.py: %v: %s", err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		// 66000/1.9; respond 60000/1.8; node 24000/2.9; zitadel did not start.
		"| discovery | 16 | 34 737 | 1.04× | 4.20× | – | – | – | – |",
		// PostgreSQL: 11999/1.68, and 11999/(1.68 + 3.18-1.68-0.235); node 9200/1.9.
		"| client_credentials | 16 | 6 208 | – | 1.28× | – | 7 142 | 4 074 | 0.84× |",
		"| code flow, RS256 | 16 | 534 | – | 0.82× | – | 459 | 296 | 0.45× |",
		"| code flow, ES256 | 16 | 1 000 | – | 1.43× | – | – | – | – |",
		"| sign-in (argon2id, Authelia's defaults) | 16 | 30 | – | – | – | – | – | – |",
	}
	if len(lines) != 2+len(want) || !strings.HasPrefix(lines[0], "| scenario | c | SQLite |") {
		t.Fatalf("table.py printed:\n%s", b)
	}
	for i, w := range want {
		if lines[2+i] != w {
			t.Errorf("row %d:\n got %s\nwant %s", i, lines[2+i], w)
		}
	}
}

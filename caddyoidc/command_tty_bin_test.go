package caddyoidc_test

import (
	"bufio"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestHashPasswordPrompt types the password at a terminal (a pseudo-terminal
// from util-linux's script, in Debian's essential bsdutils): asked twice,
// digest printed; two different entries are refused.
func TestHashPasswordPrompt(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script (bsdutils) is needed for a terminal: %v", err)
	}
	bin := buildCaddy(t)
	run := func(first, second string) string {
		t.Helper()
		cmd := exec.Command(script, "-qec", bin+" oidc hash-password --algorithm bcrypt", "/dev/null")
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		outPipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(outPipe)
		var seen strings.Builder
		waitFor := func(prompt string) {
			for !strings.HasSuffix(seen.String(), prompt) {
				b, err := r.ReadByte()
				if err != nil {
					t.Fatalf("waiting for %q: %v; got %q", prompt, err, seen.String())
				}
				seen.WriteByte(b)
			}
		}
		waitFor("Password: ")
		_, _ = io.WriteString(in, first+"\r")
		waitFor("Confirm password: ")
		_, _ = io.WriteString(in, second+"\r")
		rest, _ := io.ReadAll(r)
		_ = cmd.Wait()
		_ = in.Close()
		return seen.String() + string(rest)
	}

	out := run("typed pw", "typed pw")
	m := regexp.MustCompile(`(?m)^(\$2b\$12\$\S+)\r?$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest in the terminal output:\n%q", out)
	}
	authenticates(t, m[1], "typed pw")

	if out := run("one", "two"); !strings.Contains(out, "do not match") || strings.Contains(out, "$2b$") {
		t.Errorf("different entries: %q", out)
	}
}

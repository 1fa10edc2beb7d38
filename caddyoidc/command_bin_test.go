package caddyoidc_test

// The `caddy oidc` commands of issue 13, run through the real binary.

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// runBin runs the Caddy binary with args, stdin and extra environment, and
// returns its output and exit code.
func runBin(t *testing.T, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(buildCaddy(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running caddy %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// authenticates checks that digest, as alice's password in a users file,
// accepts password and only it.
func authenticates(t *testing.T, digest, password string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.yml")
	if err := os.WriteFile(path, []byte("users:\n  alice:\n    password: '"+digest+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := users.NewFileBackend(path)
	if err != nil {
		t.Fatalf("users file with digest %q: %v", digest, err)
	}
	if _, err := b.Authenticate("alice", password); err != nil {
		t.Errorf("digest %q does not verify the password: %v", digest, err)
	}
	if _, err := b.Authenticate("alice", password+"x"); err == nil {
		t.Errorf("digest %q verifies another password", digest)
	}
}

func TestHashPasswordCommand(t *testing.T) {
	prefixes := map[string]string{
		"":              "$argon2id$v=19$m=65536,t=3,p=4$", // the default
		"argon2id":      "$argon2id$v=19$m=65536,t=3,p=4$",
		"pbkdf2-sha512": "$pbkdf2-sha512$310000$",
		"pbkdf2-sha256": "$pbkdf2-sha256$310000$",
		"bcrypt":        "$2b$12$",
		"scrypt":        "$scrypt$ln=16,r=8,p=1$",
		"sha512crypt":   "$6$rounds=50000$",
	}
	for alg, prefix := range prefixes {
		t.Run("algorithm "+alg, func(t *testing.T) {
			args := []string{"oidc", "hash-password", "--stdin"}
			if alg != "" {
				args = append(args, "--algorithm", alg)
			}
			out, stderr, code := runBin(t, "correct horse battery\n", nil, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) {
				t.Fatalf("output %q: want only a digest starting %q", out, prefix)
			}
			authenticates(t, lines[0], "correct horse battery")
		})
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no terminal", "pw\n", nil, "--stdin"},
		{"empty", "\n", []string{"--stdin"}, "empty password"},
		{"unknown algorithm", "pw\n", []string{"--stdin", "--algorithm", "md5"}, "md5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runBin(t, tc.stdin, nil, append([]string{"oidc", "hash-password"}, tc.args...)...)
			if code != 1 || out != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and an error mentioning %q", code, out, stderr, tc.want)
			}
		})
	}
	if out, _, code := runBin(t, "", nil, "help", "oidc", "hash-password"); code != 0 || !strings.Contains(out, "argon2id") || !strings.Contains(out, "--stdin") {
		t.Errorf("caddy help oidc hash-password: exit %d\n%s", code, out)
	}
}

var secretLines = regexp.MustCompile(`^Secret \(for the app\): +(\S+)\nDigest \(client_secret in the Caddyfile\): (\S+)\n$`)

func TestSecretCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		n    int
	}{{nil, 72}, {[]string{"--length", "40"}, 40}} {
		out, stderr, code := runBin(t, "", nil, append([]string{"oidc", "secret"}, tc.args...)...)
		m := secretLines.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("exit %d, output %q, %s", code, out, stderr)
		}
		if len(m[1]) != tc.n || !regexp.MustCompile(`^[A-Za-z0-9._~-]+$`).MatchString(m[1]) {
			t.Errorf("secret %q: want %d URL-safe characters", m[1], tc.n)
		}
		if !strings.HasPrefix(m[2], "$pbkdf2-sha512$310000$") {
			t.Errorf("digest %q", m[2])
		}
		if ok, err := users.CheckDigest(m[2], m[1]); err != nil || !ok {
			t.Errorf("the digest does not match the secret: %v, %v", ok, err)
		}
	}
	if _, stderr, code := runBin(t, "", nil, "oidc", "secret", "--length", "8"); code != 1 || !strings.Contains(stderr, "at least 32") {
		t.Errorf("a short secret: exit %d, %s", code, stderr)
	}
}

// TestCommandHelp: `caddy help oidc` lists the commands and each has its
// documentation with an example.
func TestCommandHelp(t *testing.T) {
	out, _, code := runBin(t, "", nil, "help", "oidc")
	for _, c := range []string{"hash-password", "secret", "users", "totp", "validate", "import-authelia"} {
		if code != 0 || !strings.Contains(out, c) {
			t.Errorf("caddy help oidc does not list %s (exit %d):\n%s", c, code, out)
		}
	}
	for _, c := range [][]string{{"hash-password"}, {"secret"}, {"users"}, {"totp", "add"}, {"validate"}, {"import-authelia"}} {
		out, stderr, code := runBin(t, "", nil, append([]string{"help", "oidc"}, c...)...)
		if code != 0 || !strings.Contains(out, "caddy oidc "+c[0]) {
			t.Errorf("caddy help oidc %v: exit %d, no example\n%s%s", c, code, out, stderr)
		}
	}
}

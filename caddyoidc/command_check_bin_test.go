package caddyoidc_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTOTPImportCommand imports a known secret (as from Authelia) through
// the binary: codes of the authenticator app keep working.
func TestTOTPImportCommand(t *testing.T) {
	dir := t.TempDir()
	storageDir := filepath.Join(dir, "caddy-storage")
	dbPath := filepath.Join(dir, "oidc.db")
	usersPath := cmdUsersFile(t, dir)
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte("{\n\tstorage file_system "+storageDir+"\n}\nauth.example.com {\n\toidc_provider https://auth.example.com {\n\t\tusers_file "+usersPath+"\n\t\tstorage sqlite "+dbPath+"\n\t}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	args := []string{"oidc", "totp", "add", "--user", "alice", "--secret", secret, "--config", caddyfile}

	// Another environment than the service's: no database yet, refused.
	_, stderr, code := runBin(t, "", nil, args...)
	if code != 1 || !strings.Contains(stderr, dbPath+" does not exist") {
		t.Fatalf("import before the database exists: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(dbPath); err == nil {
		t.Fatal("the refused command created a database")
	}
	createDatabase(t, dbPath)

	out, stderr, code := runBin(t, "", nil, args...)
	if code != 0 {
		t.Fatalf("import: exit %d, %s", code, stderr)
	}
	if !strings.Contains(stderr, "Database: sqlite "+dbPath) {
		t.Errorf("the command does not name its database: %s", stderr)
	}
	if !strings.Contains(out, `Imported the TOTP secret of "alice"`) {
		t.Errorf("the output does not say the secret was imported:\n%s", out)
	}
	if got := enrolledSecret(t, out, "auth.example.com", "alice"); got != secret {
		t.Errorf("printed secret %q, want the imported %q", got, secret)
	}
	tp, _ := cmdTOTP(t, storageDir, dbPath, "auth.example.com")
	now := time.Now()
	if err := tp.Verify(context.Background(), "alice", cmdCode(t, secret, now), now); err != nil {
		t.Errorf("a code of the imported secret: %v", err)
	}

	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{[]string{"--digits", "8"}, "enrol again"},
		{[]string{"--algorithm", "SHA256"}, "enrol again"},
		{[]string{"--period", "60"}, "enrol again"},
	} {
		_, stderr, code := runBin(t, "", nil, append(args, tc.extra...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %s", tc.extra, code, stderr)
		}
	}
	bad := []string{"oidc", "totp", "add", "--user", "alice", "--secret", "not base32!", "--config", caddyfile}
	if _, stderr, code := runBin(t, "", nil, bad...); code != 1 || !strings.Contains(stderr, "base32") {
		t.Errorf("a bad secret: exit %d, %s", code, stderr)
	}
}

// TestValidateCommand checks that validate lists every problem with its
// client and option, exits 1 on any, and 0 on a good config.
func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	usersPath := cmdUsersFile(t, dir)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.caddy", `auth.example.com {
	oidc_provider https://auth.example.com {
		users_file `+usersPath+`
		client good {
			client_secret s3cret
			redirect_uris https://app.example.com/cb
			grant_types authorization_code refresh_token
		}
		client no-redirect {
			client_secret s3cret
		}
		client fragment {
			client_secret s3cret
			redirect_uris https://app.example.com/cb#x
		}
		client bad-policy {
			client_secret s3cret
			redirect_uris https://app.example.com/cb
			authorization_policy nobody
		}
	}
}
`)
	out, stderr, code := runBin(t, "", nil, "oidc", "validate", "--config", bad, "--adapter", "caddyfile")
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		`error: issuer https://auth.example.com: client "no-redirect": redirect_uris`,
		`error: issuer https://auth.example.com: client "fragment": redirect_uris: "https://app.example.com/cb#x": must not contain a fragment`,
		`error: issuer https://auth.example.com: client "bad-policy": authorization_policy`,
		`warning: issuer https://auth.example.com: client "good": grant_types: refresh_token is listed but scopes lacks offline_access`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `error: issuer https://auth.example.com: client "good"`) {
		t.Errorf("the good client reported:\n%s", out)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.db")); len(files) > 0 {
		t.Errorf("validate wrote databases: %v", files)
	}

	// A broken users file is a provider problem.
	brokenUsers := write("broken-users.yml", "users: [\n")
	out, _, code = runBin(t, "", nil, "oidc", "validate", "--config", write("users.caddy", "auth.example.com {\n\toidc_provider https://auth.example.com {\n\t\tusers_file "+brokenUsers+"\n\t}\n}\n"), "--adapter", "caddyfile")
	if code != 1 || !strings.Contains(out, "error: issuer https://auth.example.com: users") {
		t.Errorf("broken users file: exit %d\n%s", code, out)
	}

	good := write("good.json", `{"apps": {"http": {"servers": {"srv0": {"listen": [":443"], "routes": [{"handle": [
		{"handler": "oidc_provider", "issuer": "https://auth.example.com", "users": {"backend": "file", "path": "`+usersPath+`"},
		 "clients": [{"client_id": "app", "client_secret": "s3cret", "redirect_uris": ["https://app.example.com/cb"], "scopes": ["openid", "offline_access"]}]}
	]}]}}}}}`)
	out, stderr, code = runBin(t, "", nil, "oidc", "validate", "--config", good)
	if code != 0 || !strings.Contains(out, "Valid: 1 oidc_provider handler(s).") || strings.Contains(out, "warning") {
		t.Errorf("good config: exit %d\n%s%s", code, out, stderr)
	}
}

// TestSharpEdgeWarnings: the unquoted hybrid response type is named when the
// Caddyfile is adapted.
func TestSharpEdgeWarnings(t *testing.T) {
	dir := t.TempDir()
	usersPath := cmdUsersFile(t, dir)
	cf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cf, []byte(`auth.example.com {
	oidc_provider https://auth.example.com {
		users_file `+usersPath+`
		client hybrid {
			client_secret s3cret
			redirect_uris https://app.example.com/cb
			grant_types authorization_code implicit
			response_types code id_token token
		}
	}
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runBin(t, "", nil, "adapt", "--config", cf)
	if code != 0 || !strings.Contains(stderr, `response_types \"code id_token token\"`) || !strings.Contains(stderr, `"client_id":"hybrid"`) {
		t.Errorf("adapt: exit %d, stderr:\n%s", code, stderr)
	}
}

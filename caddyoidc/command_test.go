package caddyoidc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/spf13/cobra"

	_ "github.com/caddy-oidc/caddy-oidc" // the oidc_provider directive
	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// runOIDCCommand runs `caddy oidc <args>` in the test process and returns
// its standard output and error.
func runOIDCCommand(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runOIDCCommandTo(t, &out, &errOut, args...)
	return out.String(), errOut.String(), err
}

// runOIDCCommandTo runs the oidc command with its output going to stdout and
// stderr.
func runOIDCCommandTo(t *testing.T, stdout, stderr io.Writer, args ...string) error {
	t.Helper()
	reg, ok := caddycmd.Commands()["oidc"]
	if !ok {
		t.Fatal("the oidc command is not registered")
	}
	cmd := &cobra.Command{Use: "oidc", SilenceErrors: true}
	reg.CobraFunc(cmd)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetArgs(args)
	return cmd.Execute()
}

// failingWriter fails every write, like a closed pipe.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// cmdUsersFile writes an Authelia users file with alice and (disabled) dave.
func cmdUsersFile(t *testing.T, dir string) string {
	t.Helper()
	h, err := argon2.New(argon2.WithProfileRFC9106LowMemory(), argon2.WithM(1024), argon2.WithT(1), argon2.WithP(1))
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "users.yml")
	yml := "users:\n" +
		"  alice:\n    displayname: Alice\n    password: \"" + d.Encode() + "\"\n" +
		"  dave:\n    displayname: Dave\n    password: \"" + d.Encode() + "\"\n    disabled: true\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var otpauthURI = regexp.MustCompile(`(?m)^URI:\s+(otpauth://\S+)$`)

// enrolledSecret checks the output of `totp add` and returns its secret.
func enrolledSecret(t *testing.T, out, host, user string) string {
	t.Helper()
	m := otpauthURI.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no otpauth URI in the output:\n%s", out)
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "totp" || u.Path != "/"+host+":"+user || u.Query().Get("issuer") != host {
		t.Errorf("URI %s: want otpauth://totp/%s:%s?...&issuer=%s", m[1], host, user, host)
	}
	secret := u.Query().Get("secret")
	if secret == "" || !strings.Contains(out, "Secret: "+secret+"\n") {
		t.Errorf("secret %q missing from the output", secret)
	}
	if !strings.Contains(out, "█") {
		t.Errorf("no QR code in the output:\n%s", out)
	}
	return secret
}

// cmdTOTP builds a TOTP over the database at dbPath, sealed with the key the
// command left in the file storage at storageDir, and checks that key's
// location.
func cmdTOTP(t *testing.T, storageDir, dbPath, host string) (*authn.TOTP, []byte) {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(storageDir, "oidc", "*", "totp_key"))
	if err != nil || len(found) != 1 {
		t.Fatalf("totp_key files in %s: %v, %v; want exactly one", storageDir, found, err)
	}
	if dir := filepath.Base(filepath.Dir(found[0])); !regexp.MustCompile(`^` + regexp.QuoteMeta(host) + `-[0-9a-f]{12}$`).MatchString(dir) {
		t.Errorf("key in oidc/%s, want oidc/<issuer slug>", dir)
	}
	key, err := os.ReadFile(found[0])
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := authn.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return authn.NewTOTP(db, sealer, host), key
}

// createDatabase creates the SQLite database at path as the provider does on
// its first start.
func createDatabase(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func cmdCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestTOTPCommand(t *testing.T) {
	dir := t.TempDir()
	storageDir := filepath.Join(dir, "caddy-storage")
	dbPath := filepath.Join(dir, "oidc.db")
	usersPath := cmdUsersFile(t, dir)
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte(`{
	storage file_system `+storageDir+`
}
auth.example.com {
	oidc_provider https://auth.example.com {
		users_file `+usersPath+`
		storage sqlite `+dbPath+`
	}
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Before Caddy has created the database, the command refuses to create
	// a second one (issue 13).
	_, _, err := runOIDCCommand(t, "totp", "add", "--user", "alice", "--config", caddyfile)
	if err == nil || !strings.Contains(err.Error(), dbPath+" does not exist") {
		t.Fatalf("totp add before the database exists: err = %v", err)
	}
	if _, err := os.Stat(dbPath); err == nil {
		t.Fatal("the refused command created the database")
	}
	createDatabase(t, dbPath)

	out, stderr, err := runOIDCCommand(t, "totp", "add", "--user", "alice", "--config", caddyfile)
	if err != nil {
		t.Fatalf("totp add: %v", err)
	}
	if !strings.Contains(stderr, "Database: sqlite "+dbPath) {
		t.Errorf("stderr does not name the database: %q", stderr)
	}
	secret := enrolledSecret(t, out, "auth.example.com", "alice")
	tp, key := cmdTOTP(t, storageDir, dbPath, "auth.example.com")

	now := time.Now()
	if ok, err := tp.Enrolled(ctx, "alice"); err != nil || !ok {
		t.Fatalf("Enrolled after totp add = %v, %v", ok, err)
	}
	if err := tp.Verify(ctx, "alice", cmdCode(t, secret, now), now); err != nil {
		t.Fatalf("Verify a code of the printed secret: %v", err)
	}

	// Adding again replaces the secret, with the same sealing key.
	out, _, err = runOIDCCommand(t, "totp", "add", "--user", "alice", "--config", caddyfile)
	if err != nil {
		t.Fatalf("second totp add: %v", err)
	}
	if !strings.Contains(out, "replaces the previous secret") {
		t.Errorf("second add does not say it replaced the secret:\n%s", out)
	}
	secret2 := enrolledSecret(t, out, "auth.example.com", "alice")
	if secret2 == secret {
		t.Fatal("second add printed the same secret")
	}
	if _, key2 := cmdTOTP(t, storageDir, dbPath, "auth.example.com"); !bytes.Equal(key, key2) {
		t.Fatal("the sealing key changed")
	}
	later := now.Add(2 * time.Minute)
	if err := tp.Verify(ctx, "alice", cmdCode(t, secret, later), later); err == nil {
		t.Error("the replaced secret still works")
	}
	if err := tp.Verify(ctx, "alice", cmdCode(t, secret2, later), later); err != nil {
		t.Errorf("Verify with the new secret: %v", err)
	}

	// A disabled user can be enrolled, with a warning.
	_, stderr, err = runOIDCCommand(t, "totp", "add", "--user", "dave", "--config", caddyfile)
	if err != nil || !strings.Contains(stderr, "disabled") {
		t.Errorf("add for a disabled user: err = %v, stderr %q", err, stderr)
	}

	// Output that cannot be written is an error: the administrator must see
	// the new secret, and a warning before anything changes.
	err = runOIDCCommandTo(t, failingWriter{}, io.Discard, "totp", "add", "--user", "alice", "--config", caddyfile)
	if err == nil || !strings.Contains(err.Error(), "run the command again") || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("add with a failing stdout: err = %v, want one saying to run the command again", err)
	}
	err = runOIDCCommandTo(t, io.Discard, failingWriter{}, "totp", "add", "--user", "dave", "--config", caddyfile)
	if err == nil || !strings.Contains(err.Error(), "writing a warning") {
		t.Errorf("add for a disabled user with a failing stderr: err = %v, want one about the warning", err)
	}
	err = runOIDCCommandTo(t, failingWriter{}, io.Discard, "totp", "remove", "--user", "dave", "--config", caddyfile)
	if err == nil || !strings.Contains(err.Error(), "writing that failed") {
		t.Errorf("remove with a failing stdout: err = %v", err)
	}
	if ok, err := tp.Enrolled(ctx, "dave"); err != nil || ok {
		t.Errorf("dave enrolled after remove with a failing stdout = %v, %v; the removal itself must still happen", ok, err)
	}

	// An unknown user is refused.
	_, _, err = runOIDCCommand(t, "totp", "add", "--user", "mallory", "--config", caddyfile)
	if err == nil || !strings.Contains(err.Error(), "users file") {
		t.Errorf("add for an unknown user: err = %v, want one naming the users file", err)
	}
	if ok, _ := tp.Enrolled(ctx, "mallory"); ok {
		t.Error("unknown user enrolled")
	}

	// Alice's recovery codes go with her only second factor (store.DB.DeleteTOTPSecret).
	codes, err := store.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = codes.Close() })
	if err := codes.ReplaceRecoveryCodes(ctx, "alice", []string{"h1", "h2"}, now); err != nil {
		t.Fatal(err)
	}
	out, _, err = runOIDCCommand(t, "totp", "remove", "--user", "alice", "--config", caddyfile)
	if err != nil {
		t.Fatalf("totp remove: %v", err)
	}
	if n, err := codes.CountRecoveryCodes(ctx, "alice"); err != nil || n != 0 {
		t.Errorf("alice's recovery codes after totp remove: %d, %v; want none", n, err)
	}
	if strings.Contains(out, "otpauth://") {
		t.Errorf("remove printed a URI:\n%s", out)
	}
	if ok, err := tp.Enrolled(ctx, "alice"); err != nil || ok {
		t.Fatalf("Enrolled after totp remove = %v, %v", ok, err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no user", []string{"totp", "add", "--config", caddyfile}, "user"},
		{"missing config", []string{"totp", "add", "--user", "alice", "--config", filepath.Join(dir, "nope.json")}, "nope.json"},
		{"wrong issuer", []string{"totp", "add", "--user", "alice", "--config", caddyfile, "--issuer", "https://other.example"}, "https://auth.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runOIDCCommand(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestTOTPCommandJSON covers a JSON config with two issuers (so --issuer is
// needed) and the handler's default database in Caddy's data directory.
func TestTOTPCommandJSON(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	storageDir := filepath.Join(dir, "caddy-storage")
	usersPath := cmdUsersFile(t, dir)
	config := filepath.Join(dir, "config.json")
	handler := func(issuer string) string {
		return `{"handler":"oidc_provider","issuer":"` + issuer + `","users":{"backend":"file","path":"` + usersPath + `"}}`
	}
	if err := os.WriteFile(config, []byte(`{
	"storage": {"module": "file_system", "root": "`+storageDir+`"},
	"apps": {"http": {"servers": {"srv0": {"listen": [":443"], "routes": [
		{"match": [{"host": ["a.example.com"]}], "handle": [{"handler": "subroute", "routes": [{"handle": [`+handler("https://a.example.com")+`]}]}]},
		{"match": [{"host": ["b.example.com"]}], "handle": [`+handler("https://b.example.com/idp")+`]}
	]}}}}
}`), 0o600); err != nil {
		t.Fatal(err)
	}

	_, _, err := runOIDCCommand(t, "totp", "add", "--user", "alice", "--config", config)
	if err == nil || !strings.Contains(err.Error(), "--issuer") || !strings.Contains(err.Error(), "https://b.example.com/idp") {
		t.Fatalf("two issuers without --issuer: err = %v", err)
	}

	// The default database does not exist before Caddy ran: the error names
	// it; create it as Caddy would.
	_, _, err = runOIDCCommand(t, "totp", "add", "--user", "alice", "--config", config, "--issuer", "https://b.example.com/idp")
	m := regexp.MustCompile(`the database (\S+) does not exist`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil || !strings.Contains(err.Error(), filepath.Join(dir, "data", "caddy")) {
		t.Fatalf("totp add before the database exists: err = %v", err)
	}
	createDatabase(t, m[1])

	out, _, err := runOIDCCommand(t, "totp", "add", "--user", "alice", "--config", config, "--issuer", "https://b.example.com/idp")
	if err != nil {
		t.Fatalf("totp add --issuer: %v", err)
	}
	secret := enrolledSecret(t, out, "b.example.com", "alice")

	dbs, _ := filepath.Glob(filepath.Join(dir, "data", "caddy", "oidc", "b.example.com-*.db"))
	if len(dbs) != 1 {
		t.Fatalf("databases in the data directory: %v, want one for b.example.com", dbs)
	}
	tp, _ := cmdTOTP(t, storageDir, dbs[0], "b.example.com")
	now := time.Now()
	if err := tp.Verify(context.Background(), "alice", cmdCode(t, secret, now), now); err != nil {
		t.Fatalf("Verify a code of the printed secret: %v", err)
	}
}

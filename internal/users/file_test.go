package users

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"github.com/go-crypt/crypt/algorithm/bcrypt"
	"github.com/go-crypt/crypt/algorithm/pbkdf2"
	"github.com/go-crypt/crypt/algorithm/scrypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
)

// autheliaDigest is a pbkdf2-sha512 digest of "insecure_secret" as found in
// Authelia's documentation.
const autheliaDigest = "$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng"

// hashWith digests password with the hasher made by newHasher.
func hashWith(t *testing.T, password string, newHasher func() (algorithm.Hash, error)) string {
	t.Helper()
	h, err := newHasher()
	if err != nil {
		t.Fatalf("hasher: %v", err)
	}
	d, err := h.Hash(password)
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	return d.Encode()
}

// fastArgon2id is a cheap argon2id digest for tests where the digest kind is
// not the point.
func fastArgon2id(t *testing.T, password string) string {
	t.Helper()
	return hashWith(t, password, func() (algorithm.Hash, error) {
		return argon2.New(argon2.WithVariantID(), argon2.WithM(1024), argon2.WithT(1), argon2.WithP(1))
	})
}

// writeUsers writes content to path, creating the file or replacing it, and
// moves its modification time forward so that a reload notices it even when
// the size is unchanged.
func writeUsers(t *testing.T, path, content string) {
	t.Helper()
	var mtime time.Time
	if fi, err := os.Stat(path); err == nil {
		mtime = fi.ModTime().Add(2 * time.Second)
	} else {
		mtime = time.Now()
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// newBackend writes content to a fresh file and loads it, checking the file
// for changes on every call.
func newBackend(t *testing.T, content string) (*FileBackend, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users_database.yml")
	writeUsers(t, path, content)
	b, err := NewFileBackend(path)
	if err != nil {
		t.Fatalf("NewFileBackend: %v", err)
	}
	b.checkInterval = 0
	b.nextCheck.Store(0)
	return b, path
}

func oneUser(name, digest string) string {
	return fmt.Sprintf("users:\n  %s:\n    displayname: %q\n    password: '%s'\n", name, name, digest)
}

func TestAuthenticateDigestKinds(t *testing.T) {
	const pw = "correct horse battery staple"
	digests := map[string]string{
		"argon2id-fast": fastArgon2id(t, pw),
		"argon2i": hashWith(t, pw, func() (algorithm.Hash, error) {
			return argon2.New(argon2.WithVariantI(), argon2.WithM(1024), argon2.WithT(1), argon2.WithP(1))
		}),
		"bcrypt": hashWith(t, pw, func() (algorithm.Hash, error) {
			return bcrypt.New(bcrypt.WithIterations(bcrypt.IterationsMin))
		}),
		"bcrypt-sha256": hashWith(t, pw, func() (algorithm.Hash, error) {
			return bcrypt.NewSHA256(bcrypt.WithIterations(bcrypt.IterationsMin))
		}),
		"pbkdf2-sha1": hashWith(t, pw, func() (algorithm.Hash, error) {
			return pbkdf2.NewSHA1(pbkdf2.WithIterations(pbkdf2.IterationsMin))
		}),
		"pbkdf2-sha256": hashWith(t, pw, func() (algorithm.Hash, error) {
			return pbkdf2.NewSHA256(pbkdf2.WithIterations(pbkdf2.IterationsMin))
		}),
		"pbkdf2-sha512": hashWith(t, pw, func() (algorithm.Hash, error) {
			return pbkdf2.NewSHA512(pbkdf2.WithIterations(pbkdf2.IterationsMin))
		}),
		"scrypt": hashWith(t, pw, func() (algorithm.Hash, error) {
			return scrypt.NewScrypt(scrypt.WithLN(10), scrypt.WithR(8), scrypt.WithP(1))
		}),
		"yescrypt": hashWith(t, pw, func() (algorithm.Hash, error) {
			return scrypt.NewYescrypt(scrypt.WithLN(10), scrypt.WithR(8), scrypt.WithP(1))
		}),
		"sha512crypt": hashWith(t, pw, func() (algorithm.Hash, error) {
			return shacrypt.New(shacrypt.WithSHA512(), shacrypt.WithIterations(shacrypt.IterationsMin))
		}),
		"sha256crypt": hashWith(t, pw, func() (algorithm.Hash, error) {
			return shacrypt.New(shacrypt.WithSHA256(), shacrypt.WithIterations(shacrypt.IterationsMin))
		}),
	}
	// Authelia's real-parameter argon2id (m=65536, t=3, p=4).
	real, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	digests["argon2id-default"] = real

	var sb strings.Builder
	sb.WriteString("users:\n")
	for name, d := range digests {
		fmt.Fprintf(&sb, "  %s:\n    password: '%s'\n", name, d)
	}
	fmt.Fprintf(&sb, "  authelia:\n    password: '%s'\n", autheliaDigest)
	b, _ := newBackend(t, sb.String())

	type row struct {
		user, password string
		wantOK         bool
	}
	rows := []row{
		{"authelia", "insecure_secret", true},
		{"authelia", "insecure_secreT", false},
	}
	for name := range digests {
		rows = append(rows, row{name, pw, true}, row{name, pw + "!", false})
	}
	for _, r := range rows {
		t.Run(fmt.Sprintf("%s/%v", r.user, r.wantOK), func(t *testing.T) {
			u, err := b.Authenticate(r.user, r.password)
			if r.wantOK {
				if err != nil {
					t.Fatalf("Authenticate(%q) = %v, want success", r.user, err)
				}
				if u.Username != r.user {
					t.Errorf("Username = %q, want %q", u.Username, r.user)
				}
				return
			}
			if !errors.Is(err, ErrInvalidCredentials) || u != nil {
				t.Fatalf("Authenticate(%q, wrong) = %v, %v; want ErrInvalidCredentials", r.user, u, err)
			}
		})
	}
}

func TestAuthenticateRefusals(t *testing.T) {
	const pw = "s3cret"
	content := "users:\n" +
		"  john:\n    password: '" + fastArgon2id(t, pw) + "'\n" +
		"  jane:\n    disabled: true\n    password: '" + fastArgon2id(t, pw) + "'\n"
	b, _ := newBackend(t, content)

	tests := []struct {
		name, user, password string
		wantOK               bool
	}{
		{"correct", "john", pw, true},
		{"wrong password", "john", "S3cret", false},
		{"empty password", "john", "", false},
		{"unknown user", "nobody", pw, false},
		{"username is case-sensitive", "John", pw, false},
		{"username is not trimmed", "john ", pw, false},
		{"disabled with correct password", "jane", pw, false},
		{"disabled with wrong password", "jane", "nope", false},
		{"too long password", "john", strings.Repeat("x", maxPasswordLength+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := b.Authenticate(tt.user, tt.password)
			if tt.wantOK {
				if err != nil || u == nil {
					t.Fatalf("got %v, %v; want success", u, err)
				}
				return
			}
			if err != ErrInvalidCredentials || u != nil {
				t.Fatalf("got %v, %v; want nil, ErrInvalidCredentials", u, err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	content := `users:
  john:
    disabled: false
    displayname: "John Doe"
    password: '` + fastArgon2id(t, "pw") + `'
    email: john.doe@example.com
    groups:
      - admins
      - dev
    given_name: John
    middle_name: Q
    family_name: Doe
    nickname: johnny
    profile: https://example.com/john
    picture: https://example.com/john.png
    website: https://john.example.com
    gender: male
    birthdate: "1970-01-01"
    zoneinfo: Europe/Paris
    locale: fr-FR
    phone_number: "+33 1 23 45 67 89"
    phone_extension: "42"
    address:
      street_address: 1 rue de la Paix
      locality: Paris
      postal_code: "75002"
      country: France
    extra:
      employee_id: 1234
      tags: [a, b]
    some_future_field: ignored
  jane:
    disabled: true
    displayname: Jane Roe
    password: '` + fastArgon2id(t, "pw") + `'
    address: null
`
	b, path := newBackend(t, content)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// updated_at: the file's modification time, for every user.
	updated := fi.ModTime().UTC().Truncate(time.Second)

	want := map[string]*User{
		"john": {
			Username: "john", FullName: "John Doe", Email: "john.doe@example.com",
			Groups:    []string{"admins", "dev"},
			GivenName: "John", MiddleName: "Q", FamilyName: "Doe", Nickname: "johnny",
			Profile: "https://example.com/john", Picture: "https://example.com/john.png",
			Website: "https://john.example.com", Gender: "male", Birthdate: "1970-01-01",
			ZoneInfo: "Europe/Paris", Locale: "fr-FR",
			PhoneNumber: "+33 1 23 45 67 89", PhoneExtension: "42",
			Address:   &Address{StreetAddress: "1 rue de la Paix", Locality: "Paris", PostalCode: "75002", Country: "France"},
			Extra:     map[string]any{"employee_id": 1234, "tags": []any{"a", "b"}},
			UpdatedAt: updated,
		},
		"jane": {Username: "jane", FullName: "Jane Roe", Disabled: true, UpdatedAt: updated},
	}
	for _, name := range []string{"john", "jane", "nobody", "John"} {
		t.Run(name, func(t *testing.T) {
			got, err := b.Lookup(name)
			w := want[name]
			if w == nil {
				if err != ErrUserNotFound || got != nil {
					t.Fatalf("got %v, %v; want ErrUserNotFound", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("got  %#v\nwant %#v", got, w)
			}
		})
	}

	// The result is a copy: changing it changes nothing in the backend.
	u, _ := b.Lookup("john")
	u.Groups[0] = "root"
	u.Address.Locality = "Lyon"
	tags, ok := u.Extra["tags"].([]any)
	if !ok || len(tags) == 0 {
		t.Fatalf("Extra[tags] = %#v, want a non-empty list", u.Extra["tags"])
	}
	tags[0] = "z"
	u.Extra["new"] = true
	again, _ := b.Lookup("john")
	if !reflect.DeepEqual(again, want["john"]) {
		t.Fatalf("backend data changed through a returned copy: %#v", again)
	}
	a, err := b.Authenticate("john", "pw")
	if err != nil || !reflect.DeepEqual(a, want["john"]) {
		t.Fatalf("Authenticate = %#v, %v", a, err)
	}
}

func TestYAMLAnchorsAndMerges(t *testing.T) {
	content := `x-defaults: &defaults
  groups: [family]
  password: '` + fastArgon2id(t, "pw") + `'
users:
  john:
    <<: *defaults
    displayname: John
  jane: *defaults
`
	b, _ := newBackend(t, content)
	for _, name := range []string{"john", "jane"} {
		u, err := b.Authenticate(name, "pw")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(u.Groups, []string{"family"}) {
			t.Errorf("%s: groups = %v", name, u.Groups)
		}
	}
}

func TestReload(t *testing.T) {
	b, path := newBackend(t, oneUser("john", fastArgon2id(t, "old")))

	writeUsers(t, path, oneUser("john", fastArgon2id(t, "new"))+"    groups: [dev]\n")
	if _, err := b.Authenticate("john", "new"); err != nil {
		t.Fatalf("new password after reload: %v", err)
	}
	if _, err := b.Authenticate("john", "old"); err != ErrInvalidCredentials {
		t.Fatalf("old password after reload: %v, want ErrInvalidCredentials", err)
	}
	if u, _ := b.Lookup("john"); len(u.Groups) != 1 || u.Groups[0] != "dev" {
		t.Fatalf("groups after reload: %v", u.Groups)
	}
	if err := b.LastError(); err != nil {
		t.Fatalf("LastError after good reload: %v", err)
	}

	// A user added by the edit can log in; one removed cannot.
	writeUsers(t, path, oneUser("jane", fastArgon2id(t, "jane")))
	if _, err := b.Authenticate("jane", "jane"); err != nil {
		t.Fatalf("added user: %v", err)
	}
	if _, err := b.Lookup("john"); err != ErrUserNotFound {
		t.Fatalf("removed user: %v, want ErrUserNotFound", err)
	}
}

func TestReloadThrottled(t *testing.T) {
	b, path := newBackend(t, oneUser("john", fastArgon2id(t, "old")))
	b.checkInterval = time.Hour
	b.nextCheck.Store(time.Now().Add(time.Hour).UnixNano())

	writeUsers(t, path, oneUser("john", fastArgon2id(t, "new")))
	if _, err := b.Authenticate("john", "old"); err != nil {
		t.Fatalf("file re-read before the check interval: %v", err)
	}
	b.nextCheck.Store(0)
	if _, err := b.Authenticate("john", "new"); err != nil {
		t.Fatalf("file not re-read once the interval passed: %v", err)
	}
}

func TestReloadInvalidKeepsOldData(t *testing.T) {
	b, path := newBackend(t, oneUser("john", fastArgon2id(t, "old")))
	badDigest := "$argon2id$v=19$m=1024,t=1,p=1$c2VjcmV0c2FsdHNlY3JldA$!!notbase64!!"

	for _, tt := range []struct {
		name    string
		change  func()
		wantMsg string
	}{
		{"bad digest", func() { writeUsers(t, path, oneUser("john", badDigest)) }, `user "john": password:`},
		{"no users", func() { writeUsers(t, path, "users: {}\n") }, "no users"},
		{"yaml syntax", func() { writeUsers(t, path, "users:\n  john: [\n") }, "yaml"},
		{"file removed", func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			if _, err := b.Authenticate("john", "old"); err != nil {
				t.Fatalf("old data not kept: %v", err)
			}
			err := b.LastError()
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("LastError = %v, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "c2VjcmV0c2FsdHNlY3JldA") || strings.Contains(err.Error(), "notbase64") {
				t.Fatalf("LastError shows the digest: %v", err)
			}
			// Unchanged file: the same error, not parsed again.
			if _, err := b.Lookup("john"); err != nil {
				t.Fatal(err)
			}
			if again := b.LastError(); again != err {
				t.Fatalf("LastError changed without a file change: %v then %v", err, again)
			}
		})
	}

	writeUsers(t, path, oneUser("john", fastArgon2id(t, "fixed")))
	if _, err := b.Authenticate("john", "fixed"); err != nil {
		t.Fatalf("fixed file not loaded: %v", err)
	}
	if err := b.LastError(); err != nil {
		t.Fatalf("LastError after the file was fixed: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	good := fastArgon2id(t, "pw")
	// Each digest below is checked not to appear, nor its salt or key.
	tests := []struct {
		name    string
		content string
		secret  string   // must not appear in the message
		want    []string // must appear in the message
	}{
		{"empty file", "", "", []string{"no users"}},
		{"no users key", "people:\n  john:\n    password: '" + good + "'\n", "", []string{"no users"}},
		{"null users", "users:\n", "", []string{"no users"}},
		{"empty users", "users: {}\n", "", []string{"no users"}},
		{"users is a list", "users:\n  - john\n", "", []string{"users: line 2", "expected a map of usernames"}},
		{"top level is a list", "- users\n", "", []string{"expected a map with a users key"}},
		{"yaml syntax", "users:\n  john: [\n", "", []string{"yaml"}},
		{"no password", "users:\n  john:\n    email: j@example.com\n", "", []string{`user "john"`, "password: missing"}},
		{"user without fields", "users:\n  john:\n", "", []string{`user "john"`, "password: missing"}},
		{"plain text password", oneUser("john", "hunter2hunter2"), "hunter2hunter2", []string{`user "john"`, "password: not a password digest"}},
		{"plaintext scheme not accepted", oneUser("john", "$plaintext$hunter2hunter2"), "hunter2hunter2", []string{`user "john"`, "password:", "plaintext"}},
		{"md5crypt not accepted", oneUser("john", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"), "qjXMvbEw8oaL.CzflDugX/", []string{`user "john"`, "password:"}},
		{"unknown scheme", oneUser("john", "$whirlpool$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5"), "a2V5a2V5a2V5a2V5", []string{`user "john"`, "password:", "whirlpool"}},
		{"bad argon2 key", oneUser("john", "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0c2FsdHNlY3JldA$!!notbase64key!!"), "notbase64key", []string{`user "john"`, "password:"}},
		{"bad argon2 parameter", oneUser("john", "$argon2id$v=19$m=lots,t=3,p=4$c2VjcmV0c2FsdHNlY3JldA$a2V5a2V5a2V5a2V5a2V5a2V5"), "a2V5a2V5a2V5a2V5a2V5a2V5", []string{`user "john"`, "password:", "'m'"}},
		{"truncated bcrypt", oneUser("john", "$2b$10$abcdefghijklmnopqrstuv"), "abcdefghijklmnopqrstuv", []string{`user "john"`, "password:"}},
		{"second user bad", "users:\n  alice:\n    password: '" + good + "'\n  bob:\n    password: '$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q'\n", "c8p78n7pUMln0jzvd4aK4Q", []string{`user "bob"`, "password:"}},
		{"groups not a list", "users:\n  john:\n    password: '" + good + "'\n    groups: {a: b}\n", good, []string{`user "john"`, "groups:", "line 4"}},
		{"disabled not a bool", "users:\n  john:\n    password: '" + good + "'\n    disabled: maybe\n", good, []string{`user "john"`, "disabled:"}},
		{"password not a string", "users:\n  john:\n    password: [a, b]\n", "", []string{`user "john"`, "password:"}},
		{"user is a string", "users:\n  john: '" + good + "'\n", good, []string{`user "john"`, "expected a map"}},
		{"extra NaN", "users:\n  john:\n    password: '" + good + "'\n    extra:\n      score: .nan\n", good, []string{`user "john"`, "extra:", "NaN"}},
		{"extra infinity in a list", "users:\n  john:\n    password: '" + good + "'\n    extra:\n      l: [1, -.inf]\n", good, []string{`user "john"`, "extra:", "Inf"}},
		{"empty username", "users:\n  '':\n    password: '" + good + "'\n", good, []string{"empty username"}},
		{"duplicate user", "users:\n  john:\n    password: '" + good + "'\n  john:\n    password: '" + good + "'\n", good, []string{"users: line 4", `"john" already defined`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users.yml")
			writeUsers(t, path, tt.content)
			b, err := NewFileBackend(path)
			if err == nil {
				t.Fatalf("NewFileBackend accepted the file: %v", b)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "users file "+path+": ") {
				t.Errorf("message does not start with the file name: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
			if tt.secret != "" {
				for _, part := range append(strings.Split(tt.secret, "$"), tt.secret) {
					if len(part) >= 8 && strings.Contains(msg, part) {
						t.Errorf("message %q shows part of the digest %q", msg, part)
					}
				}
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := NewFileBackend(filepath.Join(t.TempDir(), "nope.yml"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want os.ErrNotExist", err)
		}
	})
}

func TestDummyDigestIsMostCommonClass(t *testing.T) {
	bc := hashWith(t, "pw", func() (algorithm.Hash, error) {
		return bcrypt.New(bcrypt.WithIterations(bcrypt.IterationsMin))
	})
	// "a" sorts first and is bcrypt, but argon2id is the most common.
	content := "users:\n" +
		"  a:\n    password: '" + bc + "'\n" +
		"  b:\n    password: '" + fastArgon2id(t, "pw") + "'\n" +
		"  c:\n    password: '" + fastArgon2id(t, "pw") + "'\n"
	b, _ := newBackend(t, content)
	got := costClass(b.snap.Load().dummy.Encode())
	if want := "$argon2id$v=19$m=1024,t=1,p=1"; got != want {
		t.Fatalf("dummy class = %q, want %q", got, want)
	}
	if _, err := b.Authenticate("zed", "pw"); err != ErrInvalidCredentials {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestCostClass(t *testing.T) {
	tests := []struct{ in, want string }{
		{"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$a2V5", "$argon2id$v=19$m=65536,t=3,p=4"},
		{"$pbkdf2-sha512$310000$c2FsdA$a2V5", "$pbkdf2-sha512$310000"},
		{"$2b$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "$2b$10"},
		{"$bcrypt-sha256$v=2,t=2b,r=12$salt$key", "$bcrypt-sha256$v=2,t=2b,r=12"},
		{"$6$rounds=5000$salt$key", "$6$rounds=5000"},
		{"$6$salt$key", "$6"},
		{"$scrypt$ln=16,r=8,p=1$salt$key", "$scrypt$ln=16,r=8,p=1"},
		{"x", "x"},
	}
	for _, tt := range tests {
		if got := costClass(tt.in); got != tt.want {
			t.Errorf("costClass(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	sentinel := errors.New("sentinel")
	digest := "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0c2FsdA$a2V5a2V5a2V5"
	tests := []struct {
		name, msg, want string
	}{
		{"whole digest", "bad " + digest, "bad [redacted]"},
		{"salt", "salt c2VjcmV0c2FsdA invalid", "salt [redacted] invalid"},
		{"short parameters kept", "option 'm' has value '65536'", "option 'm' has value '65536'"},
		{"identifier kept", "identifier 'argon2id' unknown", "identifier 'argon2id' unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := redact(fmt.Errorf("%s: %w", tt.msg, sentinel), digest)
			if got := err.Error(); got != tt.want+": sentinel" {
				t.Errorf("got %q, want %q", got, tt.want+": sentinel")
			}
			if !errors.Is(err, sentinel) {
				t.Error("redacted error does not unwrap")
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	d, err := HashPassword("insecure_secret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("unexpected parameters: %s", d)
	}
	other, _ := HashPassword("insecure_secret")
	if other == d {
		t.Fatal("two digests of one password are equal: salt not random")
	}
	// Verified through the backend in TestAuthenticateDigestKinds.
}

func TestConcurrentAuthenticate(t *testing.T) {
	b, path := newBackend(t, oneUser("john", fastArgon2id(t, "pw")))
	digest := fastArgon2id(t, "pw")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if _, err := b.Authenticate("john", "pw"); err != nil {
					t.Errorf("Authenticate: %v", err)
				}
				if _, err := b.Authenticate("nobody", "pw"); err != ErrInvalidCredentials {
					t.Errorf("unknown user: %v", err)
				}
				if u, err := b.Lookup("john"); err != nil {
					t.Errorf("Lookup: %v", err)
				} else {
					u.Groups = append(u.Groups, "x")
				}
				_ = b.LastError()
			}
		}()
	}
	// Rewrite the file meanwhile; every version is valid and has john/pw.
	for i := 0; i < 5; i++ {
		writeUsers(t, path, oneUser("john", digest)+fmt.Sprintf("    groups: [g%d]\n", i))
	}
	wg.Wait()
}

// Reload reads the file at once, even within the check interval and when
// its time and size look unchanged, and keeps the old users on a bad file.
func TestReloadNow(t *testing.T) {
	b, path := newBackend(t, oneUser("john", fastArgon2id(t, "old")))
	b.checkInterval = time.Hour
	b.nextCheck.Store(time.Now().Add(time.Hour).UnixNano())
	writeUsers(t, path, oneUser("jane", fastArgon2id(t, "jane")))
	if _, err := b.Lookup("jane"); err != ErrUserNotFound {
		t.Fatalf("file re-read before the check interval: %v", err)
	}
	n, err := b.Reload()
	if err != nil || n != 1 {
		t.Fatalf("Reload = %d, %v", n, err)
	}
	if _, err := b.Lookup("jane"); err != nil {
		t.Fatalf("added user after Reload: %v", err)
	}
	writeUsers(t, path, "users: {}\n")
	if _, err := b.Reload(); err == nil || !strings.Contains(err.Error(), "no users") {
		t.Fatalf("Reload of a file without users: %v", err)
	}
	if _, err := b.Lookup("jane"); err != nil {
		t.Fatalf("users lost after a failed Reload: %v", err)
	}
}

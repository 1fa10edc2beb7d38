package users

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-crypt/crypt"
	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"github.com/go-crypt/crypt/algorithm/bcrypt"
	"github.com/go-crypt/crypt/algorithm/pbkdf2"
	"github.com/go-crypt/crypt/algorithm/scrypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
	"gopkg.in/yaml.v3"
)

// maxPasswordLength bounds the work one login attempt can cause: SHA-crypt
// and PBKDF2 cost grows with the password length. Longer passwords are
// refused without hashing; the length is the attacker's own input, so this
// reveals nothing about the user.
const maxPasswordLength = 1024

// reloadInterval is how often, at most, the users file is stat'ed.
const reloadInterval = time.Second

// hashSlots bounds concurrent password hashing in the whole process, so that a
// burst of logins cannot exhaust memory (argon2id at m=65536 takes 64 MiB per
// hash) nor starve request handling of CPU.
var hashSlots = make(chan struct{}, runtime.NumCPU())

// FileBackend is a Backend reading Authelia's users_database.yml format (see
// the package documentation). It re-reads the file when it changes, checked
// lazily at most once per second by Authenticate and Lookup. It is safe for
// concurrent use.
type FileBackend struct {
	path          string
	checkInterval time.Duration

	snap      atomic.Pointer[snapshot] // the users in effect, never modified once stored
	nextCheck atomic.Int64             // unix nanoseconds before which the file is not stat'ed
	reloadMu  sync.Mutex               // held while checking and re-reading the file
	seen      fileState                // the file last read (or tried), guarded by reloadMu
	errMu     sync.Mutex
	lastErr   error // guarded by errMu

	onRemoved atomic.Pointer[func([]string)] // OnUsersRemoved (removed.go)
}

// snapshot is an immutable view of one successfully loaded users file.
type snapshot struct {
	users map[string]*entry
	// dummy is verified instead of a user's digest when the username is
	// unknown, so that unknown users cost as much as known ones. It is the
	// digest of a user whose algorithm and parameters are the most common
	// in the file; the result of that verification is always discarded.
	dummy algorithm.Digest
}

// entry is one user with its decoded password digest.
type entry struct {
	user   User
	digest algorithm.Digest
}

// fileState identifies a version of the file by modification time and size.
type fileState struct {
	modTime time.Time
	size    int64
	missing bool // the file could not be stat'ed or opened
}

func stateOf(fi os.FileInfo) fileState {
	return fileState{modTime: fi.ModTime(), size: fi.Size()}
}

func (s fileState) same(o fileState) bool {
	return s.missing == o.missing && s.size == o.size && s.modTime.Equal(o.modTime)
}

// fileUser is one user as written in the file. The yaml tags are the field
// names that error messages report.
type fileUser struct {
	Disabled       bool           `yaml:"disabled"`
	DisplayName    string         `yaml:"displayname"`
	Password       string         `yaml:"password"`
	Email          string         `yaml:"email"`
	Groups         []string       `yaml:"groups"`
	GivenName      string         `yaml:"given_name"`
	MiddleName     string         `yaml:"middle_name"`
	FamilyName     string         `yaml:"family_name"`
	Nickname       string         `yaml:"nickname"`
	Profile        string         `yaml:"profile"`
	Picture        string         `yaml:"picture"`
	Website        string         `yaml:"website"`
	Gender         string         `yaml:"gender"`
	Birthdate      string         `yaml:"birthdate"`
	ZoneInfo       string         `yaml:"zoneinfo"`
	Locale         string         `yaml:"locale"`
	PhoneNumber    string         `yaml:"phone_number"`
	PhoneExtension string         `yaml:"phone_extension"`
	Address        *Address       `yaml:"address"`
	Extra          map[string]any `yaml:"extra"`
}

// NewFileBackend loads the users file at path. It fails if the file is
// missing, is not valid YAML, defines no users, or has a user whose password
// digest is missing or not in a supported format.
func NewFileBackend(path string) (*FileBackend, error) {
	st, snap, err := load(path)
	if err != nil {
		return nil, err
	}
	b := &FileBackend{path: path, checkInterval: reloadInterval, seen: st}
	b.snap.Store(snap)
	b.nextCheck.Store(time.Now().Add(b.checkInterval).UnixNano())
	return b, nil
}

// Authenticate verifies username and password. An unknown user, a disabled
// user and a wrong password all return ErrInvalidCredentials after the same
// amount of hashing. The returned User is a copy the caller may keep.
func (b *FileBackend) Authenticate(username, password string) (*User, error) {
	if len(password) > maxPasswordLength {
		return nil, ErrInvalidCredentials
	}
	s := b.current()
	e := s.users[username]
	d := s.dummy
	if e != nil {
		d = e.digest
	}
	ok := verify(d, password)
	if e == nil || !ok || e.user.Disabled {
		return nil, ErrInvalidCredentials
	}
	return e.user.clone(), nil
}

// Lookup returns a copy of the current record of a user, disabled or not, or
// ErrUserNotFound.
func (b *FileBackend) Lookup(username string) (*User, error) {
	e := b.current().users[username]
	if e == nil {
		return nil, ErrUserNotFound
	}
	return e.user.clone(), nil
}

// LastError returns why the latest attempt to re-read the changed file
// failed, or nil when the latest attempt succeeded or none was made. While it
// is non-nil the users loaded before stay in effect. The same error value is
// returned until the file changes again, so a caller can log it once by
// comparing it with the error it logged last. It never contains a password
// digest.
func (b *FileBackend) LastError() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return b.lastErr
}

func (b *FileBackend) setErr(err error) {
	b.errMu.Lock()
	b.lastErr = err
	b.errMu.Unlock()
}

// current returns the users in effect, first re-reading the file if it is
// time to check and it has changed.
func (b *FileBackend) current() *snapshot {
	now := time.Now().UnixNano()
	// TryLock: while one request re-reads the file, the others go on with
	// the users they have instead of queueing behind it.
	if now >= b.nextCheck.Load() && b.reloadMu.TryLock() {
		if now >= b.nextCheck.Load() {
			b.nextCheck.Store(now + int64(b.checkInterval))
			b.reload()
		}
		b.reloadMu.Unlock()
	}
	return b.snap.Load()
}

// reload re-reads the file if its modification time or size changed since it
// was last read. The caller holds reloadMu.
func (b *FileBackend) reload() {
	st := fileState{missing: true}
	fi, statErr := os.Stat(b.path)
	if statErr == nil {
		st = stateOf(fi)
	}
	if st.same(b.seen) {
		return
	}
	if statErr != nil {
		b.seen = st
		b.setErr(fmt.Errorf("users file: %w", statErr))
		return
	}
	st, snap, err := load(b.path)
	b.seen = st
	if err != nil {
		b.setErr(err)
		return
	}
	b.stored(snap) // removed.go
	b.setErr(nil)
}

// Reload reads the file now, whether or not it looks changed, and returns
// how many users it defines. When the file cannot be read or is invalid the
// users loaded before stay in effect and the error says why (without any
// password digest).
func (b *FileBackend) Reload() (int, error) {
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	st, snap, err := load(b.path)
	b.seen = st
	b.nextCheck.Store(time.Now().Add(b.checkInterval).UnixNano())
	if err != nil {
		b.setErr(err)
		return 0, err
	}
	b.stored(snap) // removed.go
	b.setErr(nil)
	return len(snap.users), nil
}

// load reads and parses the users file. It returns the state of the file it
// read even when the content is invalid, so that the same content is not
// parsed again.
func load(path string) (fileState, *snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileState{missing: true}, nil, fmt.Errorf("users file: %w", err)
	}
	// Read-only: a failed Close loses nothing, the content is read already.
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return fileState{missing: true}, nil, fmt.Errorf("users file: %w", err)
	}
	st := stateOf(fi)
	data, err := io.ReadAll(f)
	if err != nil {
		return st, nil, fmt.Errorf("users file: %w", err)
	}
	snap, err := parse(data)
	if err != nil {
		return st, nil, fmt.Errorf("users file %s: %w", path, err)
	}
	for _, e := range snap.users {
		e.user.UpdatedAt = st.modTime.UTC().Truncate(time.Second) // the updated_at claim
	}
	return st, snap, nil
}

// parse decodes the content of a users file and every password digest in it.
func parse(data []byte) (*snapshot, error) {
	var doc struct {
		Users yaml.Node `yaml:"users"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, errors.New("expected a map with a users key at the top level")
		}
		return nil, err
	}
	un := &doc.Users
	if un.Kind == yaml.AliasNode && un.Alias != nil {
		un = un.Alias
	}
	if un.Kind == 0 || un.ShortTag() == "!!null" {
		return nil, errors.New("users: no users defined")
	}
	if un.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("users: line %d: expected a map of usernames, got %s", un.Line, un.ShortTag())
	}
	var users map[string]yaml.Node // decoded rather than walked: handles duplicates, aliases, merges
	if err := un.Decode(&users); err != nil {
		return nil, fmt.Errorf("users: %w", yamlMessage(err))
	}
	if len(users) == 0 {
		return nil, errors.New("users: no users defined")
	}
	dec, err := passwordDecoder()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(users))
	for name := range users {
		names = append(names, name)
	}
	sort.Strings(names) // report the same error first every time

	s := &snapshot{users: make(map[string]*entry, len(names))}
	counts := map[string]int{}
	var common string
	for _, name := range names {
		n := users[name]
		e, err := parseUser(dec, name, &n)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", name, err)
		}
		s.users[name] = e
		class := costClass(e.digest.Encode())
		counts[class]++
		if s.dummy == nil || counts[class] > counts[common] {
			common, s.dummy = class, e.digest
		}
	}
	return s, nil
}

// parseUser decodes one user's entry. Its errors name the field at fault.
func parseUser(dec *crypt.Decoder, name string, n *yaml.Node) (*entry, error) {
	if name == "" {
		return nil, errors.New("empty username")
	}
	var fu fileUser
	if err := n.Decode(&fu); err != nil {
		return nil, diagnose(n, err)
	}
	if fu.Password == "" {
		return nil, errors.New("password: missing; " + digestHint)
	}
	d, err := dec.Decode(fu.Password)
	switch {
	case err == nil:
	case !strings.Contains(fu.Password, "$"):
		return nil, errors.New("password: not a password digest; plain-text passwords are not accepted, " + digestHint)
	case errors.Is(err, algorithm.ErrEncodedHashInvalidIdentifier):
		return nil, fmt.Errorf("password: %w; %s", redact(err, fu.Password), digestHint)
	default:
		return nil, fmt.Errorf("password: %w", redact(err, fu.Password))
	}
	// Extra attributes become claims: one that JSON cannot carry (YAML's
	// .nan and .inf) would fail every token of the user, so refuse it now.
	if _, err := json.Marshal(copyMap(fu.Extra)); err != nil {
		return nil, fmt.Errorf("extra: a value JSON cannot represent: %w", err)
	}
	return &entry{
		digest: d,
		user: User{
			Username:       name,
			FullName:       fu.DisplayName,
			Email:          fu.Email,
			Groups:         fu.Groups,
			Disabled:       fu.Disabled,
			GivenName:      fu.GivenName,
			MiddleName:     fu.MiddleName,
			FamilyName:     fu.FamilyName,
			Nickname:       fu.Nickname,
			Profile:        fu.Profile,
			Picture:        fu.Picture,
			Website:        fu.Website,
			Gender:         fu.Gender,
			Birthdate:      fu.Birthdate,
			ZoneInfo:       fu.ZoneInfo,
			Locale:         fu.Locale,
			PhoneNumber:    fu.PhoneNumber,
			PhoneExtension: fu.PhoneExtension,
			Address:        fu.Address,
			Extra:          fu.Extra,
		},
	}, nil
}

// diagnose finds which field of a user entry failed to decode, decoding each
// known field on its own. yaml.v3 quotes at most 10 characters of a
// mistyped scalar and none of a list or map, so its messages do not give a
// digest away.
func diagnose(n *yaml.Node, err error) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a map of fields (password, displayname, email, groups...), got %s", n.Line, n.ShortTag())
	}
	t := reflect.TypeOf(fileUser{})
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		for j := 0; j < t.NumField(); j++ {
			f := t.Field(j)
			if f.Tag.Get("yaml") != key {
				continue
			}
			if ferr := val.Decode(reflect.New(f.Type).Interface()); ferr != nil {
				return fmt.Errorf("%s: %w", key, yamlMessage(ferr))
			}
		}
	}
	return yamlMessage(err)
}

// yamlMessage drops the "yaml: unmarshal errors:" preamble of a type error.
func yamlMessage(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return err
}

// digestHint ends the messages about a password field that holds no usable
// digest.
const digestHint = "use an argon2id, scrypt, yescrypt, pbkdf2, bcrypt or SHA-crypt digest such as one made by 'authelia crypto hash generate argon2'"

// passwordDecoder decodes the digest formats Authelia accepts in its users
// file. It registers each algorithm explicitly rather than relying on
// crypt.NewDefaultDecoder, whose set may change between versions.
var passwordDecoder = sync.OnceValues(func() (*crypt.Decoder, error) {
	d := crypt.NewDecoder()
	for _, register := range []func(algorithm.DecoderRegister) error{
		argon2.RegisterDecoder,
		bcrypt.RegisterDecoder,
		pbkdf2.RegisterDecoder,
		scrypt.RegisterDecoder,
		shacrypt.RegisterDecoder,
	} {
		if err := register(d); err != nil {
			return nil, fmt.Errorf("password digest decoder: %w", err)
		}
	}
	return d, nil
})

// verify checks password against d, waiting for a free hashing slot.
func verify(d algorithm.Digest, password string) bool {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	ok, err := d.MatchAdvanced(password)
	return err == nil && ok
}

// costClass returns the algorithm and parameters of an encoded digest: the
// digest without its salt and key. Digests of one class cost the same to
// verify.
func costClass(encoded string) string {
	parts := strings.Split(encoded, "$")
	drop := 2 // $id$params$salt$key
	if len(parts) > 1 && strings.HasPrefix(parts[1], "2") {
		drop = 1 // bcrypt: $2b$cost$saltkey
	}
	if len(parts) <= drop {
		return encoded
	}
	return strings.Join(parts[:len(parts)-drop], "$")
}

// redactedError is an error whose message has been scrubbed of a secret. It
// still unwraps to the original error so errors.Is works.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact removes from err's message the digest and any long part of it (salt,
// key), in case a decoder ever quotes its input. The algorithm identifier
// ($id$) and short parts such as cost parameters are kept, as they help
// fixing the file.
func redact(err error, digest string) error {
	msg := strings.ReplaceAll(err.Error(), digest, "[redacted]")
	rest := digest // a value not starting with "$" may be a plain-text password
	if strings.HasPrefix(digest, "$") {
		if _, after, ok := strings.Cut(digest[1:], "$"); ok {
			rest = after // keep the identifier
		}
	}
	for _, part := range strings.FieldsFunc(rest, func(r rune) bool {
		return r == '$' || r == ',' || r == '='
	}) {
		if len(part) >= 8 {
			msg = strings.ReplaceAll(msg, part, "[redacted]")
		}
	}
	return &redactedError{msg: msg, err: err}
}

// Interface guard.
var _ Backend = (*FileBackend)(nil)

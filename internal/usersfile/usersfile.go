// Package usersfile edits Authelia's users_database.yml in place: it keeps
// the other users, the order of keys and the comments (it works on the
// yaml.v3 node tree), checks the result with the users package before
// writing, and replaces the file atomically with its mode kept.
package usersfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// Errors of the editing methods.
var (
	ErrUserExists   = errors.New("user already exists")
	ErrUserNotFound = errors.New("no such user")
)

// File is a users file being edited. Its methods change the tree in memory;
// Save writes it.
type File struct {
	path  string
	mode  fs.FileMode
	isNew bool
	doc   *yaml.Node // the document node
	users *yaml.Node // the mapping of usernames
}

// User is what Add writes for a new user.
type User struct {
	DisplayName string
	Email       string
	Groups      []string
	Password    string // a digest
}

// Entry is one user as List shows it, without the password digest.
type Entry struct {
	Name        string
	DisplayName string
	Email       string
	Groups      []string
	Disabled    bool
}

// Open reads the users file at path. A missing file is an empty one when
// create is true (Save creates it with mode 0600); otherwise it is an error.
// A file that is not a YAML map with a users map is refused, so that
// nothing is written over a file this package does not understand.
func Open(path string, create bool) (*File, error) {
	f := &File{path: path, mode: 0o600}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		f.isNew = true
		data = []byte("users: {}\n")
	case err != nil:
		return nil, fmt.Errorf("users file: %w", err)
	default:
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("users file: %w", err)
		}
		f.mode = fi.Mode().Perm()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("users file %s: not valid YAML, not changing it: %w", path, err)
	}
	if doc.Kind == 0 { // an empty file
		if err := yaml.Unmarshal([]byte("users: {}\n"), &doc); err != nil {
			return nil, err
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("users file %s: expected a map with a users key at the top level, not changing it", path)
	}
	top := doc.Content[0]
	f.doc = &doc
	if un := mapValue(top, "users"); un != nil {
		if un.Kind == yaml.ScalarNode && un.ShortTag() == "!!null" {
			un.Kind, un.Tag, un.Value = yaml.MappingNode, "!!map", ""
		}
		if un.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("users file %s: line %d: users is not a map of usernames (aliases and anchors are not edited), not changing it", path, un.Line)
		}
		f.users = un
	} else {
		f.users = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		top.Content = append(top.Content, scalar("users"), f.users)
	}
	for i := 0; i < len(f.users.Content); i += 2 {
		if v := f.users.Content[i+1]; v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("users file %s: line %d: user %q is not a map (aliases and anchors are not edited), not changing it", path, v.Line, f.users.Content[i].Value)
		}
	}
	return f, nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Add adds a user, after the others.
func (f *File) Add(name string, u User) error {
	if name == "" {
		return errors.New("empty username")
	}
	if f.user(name) != nil {
		return fmt.Errorf("%w: %q", ErrUserExists, name)
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	set(m, "disabled", boolNode(false))
	set(m, "displayname", scalar(u.DisplayName))
	set(m, "password", scalar(u.Password))
	if u.Email != "" {
		set(m, "email", scalar(u.Email))
	}
	groups := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, g := range u.Groups {
		groups.Content = append(groups.Content, scalar(g))
	}
	if len(u.Groups) == 0 {
		groups.Style = yaml.FlowStyle
	}
	set(m, "groups", groups)
	f.users.Style = 0 // block style, also for a new file's users: {}
	f.users.Content = append(f.users.Content, scalar(name), m)
	return nil
}

// Has reports whether the file has the user.
func (f *File) Has(name string) bool { return f.user(name) != nil }

// SetPassword replaces a user's password digest.
func (f *File) SetPassword(name, digest string) error {
	m := f.user(name)
	if m == nil {
		return fmt.Errorf("%w: %q", ErrUserNotFound, name)
	}
	set(m, "password", scalar(digest))
	return nil
}

// SetDisabled disables or enables a user.
func (f *File) SetDisabled(name string, disabled bool) error {
	m := f.user(name)
	if m == nil {
		return fmt.Errorf("%w: %q", ErrUserNotFound, name)
	}
	set(m, "disabled", boolNode(disabled))
	return nil
}

// Delete removes a user.
func (f *File) Delete(name string) error {
	for i := 0; i < len(f.users.Content); i += 2 {
		if f.users.Content[i].Value == name {
			f.users.Content = slices.Delete(f.users.Content, i, i+2)
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrUserNotFound, name)
}

// List returns the users, sorted by name, without their digests.
func (f *File) List() ([]Entry, error) {
	var out []Entry
	for i := 0; i < len(f.users.Content); i += 2 {
		var u struct {
			DisplayName string   `yaml:"displayname"`
			Email       string   `yaml:"email"`
			Groups      []string `yaml:"groups"`
			Disabled    bool     `yaml:"disabled"`
		}
		name := f.users.Content[i].Value
		if err := f.users.Content[i+1].Decode(&u); err != nil {
			return nil, fmt.Errorf("user %q: %w", name, err)
		}
		out = append(out, Entry{Name: name, DisplayName: u.DisplayName, Email: u.Email, Groups: u.Groups, Disabled: u.Disabled})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Bytes encodes the edited file, with two-space indentation as Authelia's
// examples.
func (f *File) Bytes() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f.doc); err != nil {
		return nil, fmt.Errorf("encoding the users file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the users file: %w", err)
	}
	return b.Bytes(), nil
}

// Save checks that the edited file is one the provider accepts and replaces
// the file atomically: a temporary file in the same directory, synced, given
// the old file's mode, then renamed over it. Readers see the old file or the
// new one, never a part.
func (f *File) Save() error {
	data, err := f.Bytes()
	if err != nil {
		return err
	}
	if err := users.CheckFile(data); err != nil {
		return fmt.Errorf("the edited users file would not load (%w); %s is unchanged", err, f.path)
	}
	return writeAtomic(f.path, data, f.mode)
}

// writeAtomic replaces path with data.
func writeAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the users file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if fi, statErr := os.Stat(path); statErr == nil {
		keepOwner(tmp, fi)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("writing the users file: %w", err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing the users file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing the users file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing the users file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing the users file: %w", err)
	}
	if d, dirErr := os.Open(dir); dirErr == nil { // make the rename durable
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// user returns the mapping of a user, or nil.
func (f *File) user(name string) *yaml.Node {
	return mapValue(f.users, name)
}

// mapValue returns the value of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set sets key in mapping m, in place if present (keeping its comments),
// else at the end.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			v.HeadComment, v.LineComment, v.FootComment = old.HeadComment, old.LineComment, old.FootComment
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if s == "" || s[0] == '$' {
		n.Style = yaml.SingleQuotedStyle // digests start with $, as in Authelia's examples
	}
	return n
}

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(b)}
}

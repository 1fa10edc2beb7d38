package ldapusers

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// maxPassword is the longest password sent to the directory, as for the file
// backend.
const maxPassword = 1024

// errUnavailable marks errors of a directory that cannot answer; it wraps
// users.ErrUnavailable and store.ErrUnavailable, which the provider answers
// with 503.
var errUnavailable = fmt.Errorf("%w (%w)", users.ErrUnavailable, store.ErrUnavailable)

// unavailable wraps err as a directory failure. go-ldap's errors never carry
// the bind password.
func unavailable(op string, err error) error {
	return fmt.Errorf("ldap: %s: %w: %w", op, errUnavailable, err)
}

// Backend is a users.Backend reading users from an LDAP directory. It is
// safe for concurrent use.
type Backend struct {
	cfg     Config
	tlsConf *tls.Config
	attrs   []string // the user attributes to read
	now     func() time.Time

	sem  chan struct{} // with pooling: one token per open connection
	idle chan *ldap.Conn

	mu    sync.Mutex
	cache map[string]cachedUser // by lower-cased username
	gone  func(username string)
}

type cachedUser struct {
	user *users.User
	at   time.Time
}

// New checks cfg (after [Config.ApplyDefaults]) and returns a Backend. It
// does not connect: a directory that is down at start-up is not an error,
// sign-ins answer "try again later" until it is back.
func New(cfg Config) (*Backend, error) {
	if err := cfg.ApplyDefaults(); err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, now: time.Now, cache: map[string]cachedUser{}}
	b.tlsConf = cfg.TLS
	if b.tlsConf == nil {
		b.tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		b.tlsConf = b.tlsConf.Clone()
	}
	if u, err := url.Parse(cfg.Address); err == nil && b.tlsConf.ServerName == "" && u.Scheme != "ldapi" {
		b.tlsConf.ServerName = u.Hostname()
	}
	if cfg.Pooling.Enable {
		b.sem = make(chan struct{}, cfg.Pooling.Count)
		b.idle = make(chan *ldap.Conn, cfg.Pooling.Count)
	}
	a := &cfg.Attributes
	for _, s := range []string{
		a.DistinguishedName, a.Username, a.DisplayName, a.Mail, a.MemberOf,
		a.FamilyName, a.GivenName, a.MiddleName, a.Nickname, a.Gender, a.Birthdate,
		a.Website, a.Profile, a.Picture, a.ZoneInfo, a.Locale, a.PhoneNumber, a.PhoneExtension,
		a.StreetAddress, a.Locality, a.Region, a.PostalCode, a.Country,
	} {
		if s != "" {
			b.attrs = append(b.attrs, s)
		}
	}
	if cfg.GroupSearchMode != GroupSearchMemberOf && a.MemberOf != "" {
		// memberOf is read only in memberof mode.
		b.attrs = removeAttr(b.attrs, a.MemberOf)
	}
	return b, nil
}

func removeAttr(attrs []string, name string) []string {
	out := attrs[:0]
	for _, a := range attrs {
		if !strings.EqualFold(a, name) {
			out = append(out, a)
		}
	}
	return out
}

// Config returns the configuration in effect, with the preset's defaults.
// The caller must not log its Password.
func (b *Backend) Config() Config { return b.cfg }

// OnGone sets a function called with the username when a user seen before
// is no longer found by Lookup (deleted, or excluded by users_filter as
// disabled), so that the caller can end the user's sessions and revoke the
// user's tokens. It is called at most once per disappearance.
func (b *Backend) OnGone(f func(username string)) {
	b.mu.Lock()
	b.gone = f
	b.mu.Unlock()
}

// Close closes the idle connections.
func (b *Backend) Close() {
	if b.idle == nil {
		return
	}
	for {
		select {
		case c := <-b.idle:
			_ = c.Close()
			<-b.sem
		default:
			return
		}
	}
}

// dial opens a connection (TLS as configured), not bound.
func (b *Backend) dial() (*ldap.Conn, error) { return b.dialAt("") }

// dialAt opens a connection to address ("": the configured one; else a
// referred server) with the configured TLS settings, not bound. A referred
// server's certificate is checked for its own host name unless tls
// server_name is set.
func (b *Backend) dialAt(address string) (*ldap.Conn, error) {
	tlsConf := b.tlsConf
	if address == "" {
		address = b.cfg.Address
	} else if b.cfg.TLS == nil || b.cfg.TLS.ServerName == "" {
		tlsConf = tlsConf.Clone()
		if u, err := url.Parse(address); err == nil {
			tlsConf.ServerName = u.Hostname()
		}
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: b.cfg.Timeout})}
	if strings.HasPrefix(strings.ToLower(address), "ldaps:") {
		opts = append(opts, ldap.DialWithTLSConfig(tlsConf))
	}
	c, err := ldap.DialURL(address, opts...)
	if err != nil {
		return nil, unavailable("connect", err)
	}
	c.SetTimeout(b.cfg.Timeout)
	// A referred ldap:// server is upgraded with StartTLS when the
	// configured connection is encrypted (ldaps or start_tls).
	encrypted := b.cfg.StartTLS || strings.HasPrefix(strings.ToLower(b.cfg.Address), "ldaps:")
	if encrypted && !strings.HasPrefix(strings.ToLower(address), "ldaps:") {
		if err := c.StartTLS(tlsConf); err != nil {
			_ = c.Close()
			return nil, unavailable("start_tls", err)
		}
	}
	return c, nil
}

// service returns a connection bound as the service account.
func (b *Backend) service() (*ldap.Conn, error) {
	if b.sem != nil {
		select {
		case c := <-b.idle:
			if !c.IsClosing() {
				return c, nil
			}
			_ = c.Close()
			<-b.sem
		default:
		}
		t := time.NewTimer(b.cfg.Pooling.Timeout)
		defer t.Stop()
		select {
		case c := <-b.idle:
			if !c.IsClosing() {
				return c, nil
			}
			_ = c.Close()
			<-b.sem
			b.sem <- struct{}{}
		case b.sem <- struct{}{}:
		case <-t.C:
			return nil, unavailable("pool", errors.New("no free connection"))
		}
	}
	c, err := b.dial()
	if err == nil {
		if b.cfg.User != "" {
			err = c.Bind(b.cfg.User, b.cfg.Password)
		} else {
			err = c.UnauthenticatedBind("")
		}
		if err != nil {
			_ = c.Close()
			err = unavailable("service bind", err)
		}
	}
	if err != nil {
		if b.sem != nil {
			<-b.sem
		}
		return nil, err
	}
	return c, nil
}

// release gives back a service connection; a broken one is closed.
func (b *Backend) release(c *ldap.Conn, broken bool) {
	if b.sem == nil {
		_ = c.Close()
		return
	}
	if broken || c.IsClosing() {
		_ = c.Close()
		<-b.sem
		return
	}
	b.idle <- c // never blocks: idle has room for every token
}

// find searches the user named input (a username or an email). It returns
// nil when no user or more than one matches, and the address of the server
// holding the user ("": the configured one; else a referred server).
func (b *Backend) find(input string) (*ldap.Entry, string, error) {
	c, err := b.service()
	if err != nil {
		return nil, "", err
	}
	req := ldap.NewSearchRequest(b.cfg.usersDN(), ldap.ScopeWholeSubtree, b.derefAliases(), 2, int(b.cfg.Timeout/time.Second), false,
		usersFilter(b.cfg.UsersFilter, &b.cfg.Attributes, input, b.now()), b.attrs, nil)
	res, origins, err := b.searchAt(c, req)
	if err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		b.release(c, false)
		return nil, "", nil // more than one: ambiguous, treated as unknown
	}
	if err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		b.release(c, false)
		return nil, "", nil
	}
	if err != nil {
		b.release(c, true)
		return nil, "", unavailable("search user", err)
	}
	b.release(c, false)
	if len(res.Entries) != 1 {
		return nil, "", nil
	}
	return res.Entries[0], origins[0], nil
}

// derefAliases is the alias dereferencing of every search: never, as in
// Authelia.
func (b *Backend) derefAliases() int { return ldap.NeverDerefAliases }

// dn is the user's DN, from the distinguished_name attribute when set.
func (b *Backend) dn(e *ldap.Entry) string {
	if a := b.cfg.Attributes.DistinguishedName; a != "" {
		if v := e.GetAttributeValue(a); v != "" {
			return v
		}
	}
	return e.DN
}

// bindAt opens a connection to address ("": the configured directory; else
// the referred server holding the user) and binds as dn with password; the
// caller closes it. A refused password gives users.ErrInvalidCredentials.
func (b *Backend) bindAt(address, dn, password string) (*ldap.Conn, error) {
	c, err := b.dialAt(address)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(dn, password); err != nil {
		_ = c.Close()
		if refused(err) {
			return nil, users.ErrInvalidCredentials
		}
		return nil, unavailable("user bind", err)
	}
	return c, nil
}

// refused reports whether a bind error is the directory refusing these
// credentials (rather than failing).
func refused(err error) bool {
	return ldap.IsErrorAnyOf(err,
		ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication,
		ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultConstraintViolation,
		ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultInvalidDNSyntax,
		ldap.LDAPResultNoSuchObject, ldap.ErrorEmptyPassword)
}

// Authenticate implements users.Backend: username may be the username or
// the email address. An unknown user, a wrong password and a user the users
// filter excludes all give users.ErrInvalidCredentials; an unknown user is
// still bound (under a DN that does not exist) so that it takes as long.
func (b *Backend) Authenticate(username, password string) (*users.User, error) {
	if !validInput(username) || password == "" || len(password) > maxPassword {
		return nil, users.ErrInvalidCredentials
	}
	e, at, err := b.find(username)
	if err != nil {
		return nil, err
	}
	dn := "cn=caddy-oidc-no-such-user," + b.cfg.usersDN()
	if e != nil {
		dn = b.dn(e)
	}
	c, err := b.bindAt(at, dn, password)
	if err != nil {
		return nil, err
	}
	_ = c.Close()
	if e == nil {
		return nil, users.ErrInvalidCredentials // a directory that let the dummy DN bind
	}
	u, err := b.user(e)
	if err != nil {
		return nil, err
	}
	b.remember(u)
	return cloneUser(u), nil
}

// Lookup implements users.Backend. It answers from memory while the user was
// read less than refresh_interval ago, and from the directory otherwise.
func (b *Backend) Lookup(username string) (*users.User, error) {
	key := strings.ToLower(username)
	b.mu.Lock()
	cu, seen := b.cache[key]
	b.mu.Unlock()
	if seen && (b.cfg.RefreshInterval < 0 || b.now().Sub(cu.at) < b.cfg.RefreshInterval) {
		return cloneUser(cu.user), nil
	}
	if !validInput(username) {
		return nil, users.ErrUserNotFound
	}
	e, _, err := b.find(username)
	if err != nil {
		return nil, err
	}
	if e == nil || !strings.EqualFold(e.GetAttributeValue(b.cfg.Attributes.Username), username) {
		b.forget(key, seen, cu.user)
		return nil, users.ErrUserNotFound
	}
	u, err := b.user(e)
	if err != nil {
		return nil, err
	}
	b.remember(u)
	return cloneUser(u), nil
}

func (b *Backend) remember(u *users.User) {
	b.mu.Lock()
	b.cache[strings.ToLower(u.Username)] = cachedUser{user: u, at: b.now()}
	b.mu.Unlock()
}

func (b *Backend) forget(key string, seen bool, u *users.User) {
	b.mu.Lock()
	delete(b.cache, key)
	gone := b.gone
	b.mu.Unlock()
	if seen && gone != nil {
		gone(u.Username)
	}
}

// user builds the user of an entry, with its groups.
func (b *Backend) user(e *ldap.Entry) (*users.User, error) {
	a := &b.cfg.Attributes
	get := func(name string) string {
		if name == "" {
			return ""
		}
		return e.GetAttributeValue(name)
	}
	u := &users.User{
		Username:       get(a.Username),
		FullName:       get(a.DisplayName),
		Email:          get(a.Mail),
		GivenName:      get(a.GivenName),
		MiddleName:     get(a.MiddleName),
		FamilyName:     get(a.FamilyName),
		Nickname:       get(a.Nickname),
		Profile:        get(a.Profile),
		Picture:        get(a.Picture),
		Website:        get(a.Website),
		Gender:         get(a.Gender),
		Birthdate:      get(a.Birthdate),
		ZoneInfo:       get(a.ZoneInfo),
		Locale:         get(a.Locale),
		PhoneNumber:    get(a.PhoneNumber),
		PhoneExtension: get(a.PhoneExtension),
	}
	addr := users.Address{
		StreetAddress: get(a.StreetAddress), Locality: get(a.Locality), Region: get(a.Region),
		PostalCode: get(a.PostalCode), Country: get(a.Country),
	}
	if addr != (users.Address{}) {
		u.Address = &addr
	}
	groups, err := b.groups(e, u.Username)
	if err != nil {
		return nil, err
	}
	slices.Sort(groups)
	u.Groups = slices.Compact(groups)
	return u, nil
}

// groups returns the names of the user's groups.
func (b *Backend) groups(e *ldap.Entry, username string) ([]string, error) {
	a := &b.cfg.Attributes
	if b.cfg.GroupSearchMode == GroupSearchMemberOf {
		var out []string
		for _, v := range e.GetAttributeValues(a.MemberOf) {
			if name := rdnValue(v, a.GroupName); name != "" {
				out = append(out, name)
			}
		}
		return out, nil
	}
	c, err := b.service()
	if err != nil {
		return nil, err
	}
	req := ldap.NewSearchRequest(b.cfg.groupsDN(), ldap.ScopeWholeSubtree, b.derefAliases(), 0, int(b.cfg.Timeout/time.Second), false,
		groupsFilter(b.cfg.GroupsFilter, a, username, username, b.dn(e), b.now()), []string{a.GroupName}, nil)
	res, _, err := b.searchAt(c, req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		b.release(c, true)
		return nil, unavailable("search groups", err)
	}
	b.release(c, false)
	if res == nil {
		return nil, nil
	}
	var out []string
	for _, g := range res.Entries {
		if n := g.GetAttributeValue(a.GroupName); n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}

// rdnValue is the value of the first RDN of dn whose type is attr, or of
// the first RDN when none is.
func rdnValue(dn, attr string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return ""
	}
	for _, at := range d.RDNs[0].Attributes {
		if strings.EqualFold(at.Type, attr) {
			return at.Value
		}
	}
	if len(d.RDNs[0].Attributes) > 0 {
		return d.RDNs[0].Attributes[0].Value
	}
	return ""
}

// cloneUser is a deep copy of u, so that callers may change what they get.
func cloneUser(u *users.User) *users.User {
	c := *u
	c.Groups = append([]string(nil), u.Groups...)
	if u.Address != nil {
		a := *u.Address
		c.Address = &a
	}
	return &c
}

var (
	_ users.Backend         = (*Backend)(nil)
	_ users.PasswordChanger = (*Backend)(nil)
)

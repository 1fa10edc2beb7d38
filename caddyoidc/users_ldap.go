package caddyoidc

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

func init() {
	caddy.RegisterModule(LDAPUsers{})
}

// LDAPUsers reads users from an LDAP directory (lldap, OpenLDAP, Active
// Directory, FreeIPA, GLAuth), with the option names of Authelia's
// authentication_backend.ldap. Users sign in with their username or their
// email address.
type LDAPUsers struct {
	// Address of the directory: ldap://host[:389], ldaps://host[:636] or
	// ldapi:///path/to/socket. Required.
	Address string `json:"address,omitempty"`
	// Implementation is a preset of filters and attribute names: custom
	// (default), activedirectory, rfc2307bis, freeipa, lldap or glauth.
	Implementation string `json:"implementation,omitempty"`
	// Timeout of connecting and of each request. Default: 5s (20s custom).
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// StartTLS upgrades an ldap:// connection with StartTLS.
	StartTLS bool `json:"start_tls,omitempty"`
	// TLS configures ldaps:// and StartTLS.
	TLS *LDAPTLS `json:"tls,omitempty"`
	// BaseDN of every search. Required.
	BaseDN string `json:"base_dn,omitempty"`
	// AdditionalUsersDN is prepended to BaseDN to search users.
	AdditionalUsersDN string `json:"additional_users_dn,omitempty"`
	// AdditionalGroupsDN is prepended to BaseDN to search groups.
	AdditionalGroupsDN string `json:"additional_groups_dn,omitempty"`
	// UsersFilter finds a user by what was typed ({input}).
	UsersFilter string `json:"users_filter,omitempty"`
	// GroupsFilter finds a user's groups ({dn}, {username}, {input}).
	GroupsFilter string `json:"groups_filter,omitempty"`
	// GroupSearchMode is filter (default) or memberof.
	GroupSearchMode string `json:"group_search_mode,omitempty"`
	// Attributes overrides the preset's attribute names.
	Attributes ldapusers.Attributes `json:"attributes,omitempty"`
	// PermitReferrals follows referrals one hop: a password change a
	// read-only replica refers to its provider, and search references to
	// users held by another server (see README).
	PermitReferrals bool `json:"permit_referrals,omitempty"`
	// User is the DN of the service account that searches the directory.
	User string `json:"user,omitempty"`
	// Password of the service account. Give it as {env.LDAP_PASSWORD} or
	// {file./run/secrets/ldap_password}: placeholders are resolved when the
	// config loads and never appear in `caddy adapt` output.
	Password string `json:"password,omitempty"`
	// Pooling keeps connections of the service account open.
	Pooling *LDAPPooling `json:"pooling,omitempty"`
	// RefreshInterval: how often a signed-in user is read again from the
	// directory: a duration (default 5m), "always" or "disable".
	RefreshInterval string `json:"refresh_interval,omitempty"`
	// DisablePasswordChange hides the password form of the settings page
	// (Authelia's password_change.disable).
	DisablePasswordChange bool `json:"disable_password_change,omitempty"`

	backend *ldapusers.Backend
}

// LDAPTLS is the TLS configuration of LDAPUsers.
type LDAPTLS struct {
	// ServerName to verify; default the host of the address.
	ServerName string `json:"server_name,omitempty"`
	// CA is the path of a PEM file of certificates to trust instead of the
	// system's.
	CA string `json:"ca,omitempty"`
	// MinimumVersion is TLS1.2 (default) or TLS1.3.
	MinimumVersion string `json:"minimum_version,omitempty"`
	// SkipVerify accepts any certificate. Never in production.
	SkipVerify bool `json:"skip_verify,omitempty"`
}

// LDAPPooling configures the pool of service connections.
type LDAPPooling struct {
	// Count is the number of connections (default 5).
	Count int `json:"count,omitempty"`
	// Timeout is how long to wait for a free connection (default 10s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (LDAPUsers) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oidc.users.ldap",
		New: func() caddy.Module { return new(LDAPUsers) },
	}
}

// Provision checks the configuration. It does not connect: a directory
// that is down answers "try again later" until it is back, without a reload.
func (l *LDAPUsers) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	r := func(s string) string { return strings.TrimSpace(repl.ReplaceKnown(s, "")) }
	cfg := ldapusers.Config{
		Address:         r(l.Address),
		Implementation:  l.Implementation,
		Timeout:         time.Duration(l.Timeout),
		StartTLS:        l.StartTLS,
		BaseDN:          r(l.BaseDN),
		AdditionalUsers: r(l.AdditionalUsersDN),
		AdditionalGroup: r(l.AdditionalGroupsDN),
		UsersFilter:     l.UsersFilter,
		GroupsFilter:    l.GroupsFilter,
		GroupSearchMode: l.GroupSearchMode,
		Attributes:      l.Attributes,
		PermitReferrals: l.PermitReferrals,
		User:            r(l.User),
		Password:        repl.ReplaceKnown(l.Password, ""),
		RefreshInterval: ldapusers.DefaultRefreshInterval,
	}
	if l.Pooling != nil {
		cfg.Pooling = ldapusers.Pooling{Enable: true, Count: l.Pooling.Count, Timeout: time.Duration(l.Pooling.Timeout)}
	}
	switch ri := strings.TrimSpace(l.RefreshInterval); ri {
	case "":
	case "always":
		cfg.RefreshInterval = 0
	case "disable":
		cfg.RefreshInterval = -1
	default:
		d, err := caddy.ParseDuration(ri)
		if err != nil || d < 0 {
			return fmt.Errorf("refresh_interval: %q: a duration, always or disable", ri)
		}
		cfg.RefreshInterval = d
	}
	if l.TLS != nil {
		tc, err := l.TLS.config(r)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		if l.TLS.SkipVerify {
			ctx.Logger().Warn("LDAP tls skip_verify is on: the directory's certificate is NOT checked, anyone on the network path can read the passwords sent to it")
		}
		cfg.TLS = tc
	}
	if strings.HasPrefix(cfg.Address, "ldap://") && !cfg.StartTLS && !isLoopbackLDAP(cfg.Address) {
		ctx.Logger().Warn("LDAP address is ldap:// without start_tls: passwords cross the network in clear text", zap.String("address", cfg.Address))
	}
	b, err := ldapusers.New(cfg)
	if err != nil {
		return err
	}
	l.backend = b
	return nil
}

func isLoopbackLDAP(addr string) bool {
	h := strings.TrimPrefix(addr, "ldap://")
	return strings.HasPrefix(h, "127.") || strings.HasPrefix(h, "localhost") || strings.HasPrefix(h, "[::1]")
}

func (t *LDAPTLS) config(r func(string) string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: r(t.ServerName), MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.SkipVerify} //nolint:gosec // documented, warned
	switch strings.ToUpper(strings.TrimSpace(t.MinimumVersion)) {
	case "", "TLS1.2":
	case "TLS1.3":
		tc.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("minimum_version: %q: TLS1.2 or TLS1.3", t.MinimumVersion)
	}
	if ca := r(t.CA); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: %s holds no PEM certificate", ca)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Cleanup closes the idle connections.
func (l *LDAPUsers) Cleanup() error {
	if l.backend != nil {
		l.backend.Close()
	}
	return nil
}

// Users returns the backend; without its password change when disabled.
func (l *LDAPUsers) Users() users.Backend {
	if l.DisablePasswordChange {
		return withoutPasswordChange{l.backend}
	}
	return l.backend
}

// Backend returns the LDAP backend, for wiring its OnGone hook (see
// EndUserSessions).
func (l *LDAPUsers) Backend() *ldapusers.Backend { return l.backend }

// Interface guards
var (
	_ caddy.Provisioner  = (*LDAPUsers)(nil)
	_ caddy.CleanerUpper = (*LDAPUsers)(nil)
	_ UserSource         = (*LDAPUsers)(nil)
)

package ldapusers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// Referrals (permit_referrals). A directory answers an operation it does not
// hold with a referral: a read-only replica refers writes (the password
// change) to its provider, and a search meets referral objects
// (continuation references) for parts of the tree held elsewhere. With
// PermitReferrals the backend follows a referral one hop: it dials the
// referred server with the same TLS settings (ldaps, or StartTLS when
// start_tls is on), binds as the same identity as the operation it repeats
// (the service account for searches, the user with the old password for a
// password change, which is a change of one's own password), and repeats
// the operation there once. A referral answered with another referral is an
// error. Without PermitReferrals a referred password change is an error
// naming the referral, and a search ignores its continuation references.

// maxSearchReferrals bounds how many servers one search's continuation
// references make the backend ask.
const maxSearchReferrals = 8

// referralAddress is the server of an LDAP URL (RFC 4516) a referral names,
// as scheme://host[:port]; ldap and ldaps only.
func referralAddress(ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("referral %q: %w", ref, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "ldap" && scheme != "ldaps" {
		return "", fmt.Errorf("referral %q: not an ldap:// or ldaps:// URL", ref)
	}
	if u.Host == "" {
		return "", fmt.Errorf("referral %q: no host", ref)
	}
	return scheme + "://" + u.Host, nil
}

// referralSearch is the search a continuation reference asks for (RFC 4511
// 4.5.3): the URL's DN as base when it has one, the URL's scope when it
// names one, the rest as req.
func referralSearch(ref string, req *ldap.SearchRequest) *ldap.SearchRequest {
	r := *req
	u, err := url.Parse(ref)
	if err != nil {
		return &r
	}
	if dn := strings.TrimPrefix(u.Path, "/"); dn != "" {
		r.BaseDN = dn
	}
	// ?attributes?scope?filter?extensions: the query is what follows the
	// first "?", so the scope is its second field.
	if q := strings.Split(u.RawQuery, "?"); len(q) > 1 {
		switch strings.ToLower(q[1]) {
		case "base":
			r.Scope = ldap.ScopeBaseObject
		case "one":
			r.Scope = ldap.ScopeSingleLevel
		case "sub":
			r.Scope = ldap.ScopeWholeSubtree
		}
	}
	return &r
}

// searchAt runs req on c (a service connection to the configured
// directory) and, with PermitReferrals, follows its continuation
// references one hop. Each entry is returned with the address of the
// server that holds it ("" for the configured one), so that the user's
// bind goes there: a referral object cannot be bound to.
func (b *Backend) searchAt(c *ldap.Conn, req *ldap.SearchRequest) (*ldap.SearchResult, []string, error) {
	res, err := c.Search(req)
	var origins []string
	if res != nil {
		origins = make([]string, len(res.Entries))
	}
	if err != nil || !b.cfg.PermitReferrals || res == nil || len(res.Referrals) == 0 {
		return res, origins, err
	}
	seen := map[string]bool{}
	for _, ref := range res.Referrals {
		if len(seen) == maxSearchReferrals {
			return nil, nil, fmt.Errorf("more than %d search referrals", maxSearchReferrals)
		}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		addr, err := referralAddress(ref)
		if err != nil {
			return nil, nil, err
		}
		rres, err := b.searchReferred(addr, referralSearch(ref, req))
		if err != nil {
			return nil, nil, fmt.Errorf("following referral to %s: %w", addr, err)
		}
		for _, e := range rres.Entries {
			if !containsDN(res.Entries, e.DN) {
				res.Entries = append(res.Entries, e)
				origins = append(origins, addr)
			}
		}
	}
	return res, origins, nil
}

// searchReferred binds as the service account at addr and searches there,
// without following further referrals.
func (b *Backend) searchReferred(addr string, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	c, err := b.dialAt(addr)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	if b.cfg.User != "" {
		err = c.Bind(b.cfg.User, b.cfg.Password)
	} else {
		err = c.UnauthenticatedBind("")
	}
	if err != nil {
		return nil, fmt.Errorf("service bind: %w", err)
	}
	res, err := c.Search(req)
	if err != nil && ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject, ldap.LDAPResultSizeLimitExceeded) && res != nil {
		return res, nil // none there, or more than the size limit: the caller counts
	}
	return res, err
}

func containsDN(entries []*ldap.Entry, dn string) bool {
	for _, e := range entries {
		if strings.EqualFold(e.DN, dn) {
			return true
		}
	}
	return false
}

// passwordReferral handles a password change that the directory referred
// to ref: with PermitReferrals it binds as the user (dn, oldPassword) at
// the referred server and repeats the change there once.
func (b *Backend) passwordReferral(ref, dn, oldPassword, newPassword string) error {
	if !b.cfg.PermitReferrals {
		return unavailable("password modify", fmt.Errorf("the directory referred the change to %s and permit_referrals is off", ref))
	}
	addr, err := referralAddress(ref)
	if err != nil {
		return unavailable("password modify", err)
	}
	c, err := b.bindAt(addr, dn, oldPassword)
	if err != nil {
		if errors.Is(err, users.ErrInvalidCredentials) {
			return err
		}
		return fmt.Errorf("following the password referral to %s: %w", addr, err)
	}
	defer func() { _ = c.Close() }()
	ref2, err := b.setPassword(c, dn, oldPassword, newPassword)
	if ref2 != "" {
		return unavailable("password modify", fmt.Errorf("%s referred the change on to %s: referrals are followed one hop", addr, ref2))
	}
	return passwordError(err)
}

package ldapusers

// Password change (Authelia's password_change): the password modify
// extended operation, or Active Directory's unicodePwd.

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// ChangePassword implements users.PasswordChanger: it binds as the user
// with the old password, then changes it with the password modify extended
// operation (RFC 3062), or on Active Directory by replacing unicodePwd
// (which needs ldaps or StartTLS). A password the directory's policy refuses
// gives users.ErrPasswordRejected.
func (b *Backend) ChangePassword(username, oldPassword, newPassword string) error {
	if !validInput(username) || oldPassword == "" || len(oldPassword) > maxPassword {
		return users.ErrInvalidCredentials
	}
	if newPassword == "" || len(newPassword) > maxPassword {
		return users.ErrPasswordRejected
	}
	e, at, err := b.find(username)
	if err != nil {
		return err
	}
	if e == nil || !strings.EqualFold(e.GetAttributeValue(b.cfg.Attributes.Username), username) {
		return users.ErrInvalidCredentials
	}
	dn := b.dn(e)
	c, err := b.bindAt(at, dn, oldPassword)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	ref, err := b.setPassword(c, dn, oldPassword, newPassword)
	if ref != "" {
		return b.passwordReferral(ref, dn, oldPassword, newPassword)
	}
	return passwordError(err)
}

// setPassword changes the password of dn on c, bound as dn. When the
// directory answers with a referral, ref is its URL.
func (b *Backend) setPassword(c *ldap.Conn, dn, oldPassword, newPassword string) (ref string, err error) {
	if b.cfg.Implementation == ImplementationActiveDirectory {
		m := ldap.NewModifyRequest(dn, nil)
		m.Delete("unicodePwd", []string{adPassword(oldPassword)})
		m.Add("unicodePwd", []string{adPassword(newPassword)})
		res, err := c.ModifyWithResult(m)
		if res != nil && err != nil {
			ref = res.Referral
		}
		return ref, err
	}
	res, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", oldPassword, newPassword))
	if res != nil && err != nil {
		ref = res.Referral
	}
	return ref, err
}

// passwordError classifies the error of a password change: a password the
// directory's policy refuses gives users.ErrPasswordRejected.
func passwordError(err error) error {
	if err == nil {
		return nil
	}
	if ldap.IsErrorAnyOf(err, ldap.LDAPResultConstraintViolation, ldap.LDAPResultUnwillingToPerform) {
		return fmt.Errorf("%w: %s", users.ErrPasswordRejected, ldapDiagnostic(err))
	}
	return unavailable("password modify", err)
}

// adPassword is a password as Active Directory's unicodePwd wants it:
// quoted, UTF-16LE.
func adPassword(p string) string {
	u := utf16.Encode([]rune(`"` + p + `"`))
	buf := make([]byte, 2*len(u))
	for i, r := range u {
		buf[2*i], buf[2*i+1] = byte(r), byte(r>>8)
	}
	return string(buf)
}

// ldapDiagnostic is the server's message of an LDAP error (it never holds
// the password).
func ldapDiagnostic(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) && le.Err != nil {
		return le.Err.Error()
	}
	return ldap.LDAPResultCodeMap[ldap.LDAPResultConstraintViolation]
}

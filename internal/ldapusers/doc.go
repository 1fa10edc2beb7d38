// Package ldapusers authenticates end users against an LDAP directory
// (lldap, OpenLDAP, Active Directory, FreeIPA, GLAuth) the way Authelia's
// LDAP authentication backend does, with Authelia's option names and the
// defaults of its implementation presets.
//
// A [Backend] binds with a service account to search the user (by username
// or by email, through users_filter), then binds as the user on a separate
// connection to check the password. Every piece of user input is escaped
// before it goes into a filter (RFC 4515); DNs come from the directory, never
// from input. An empty password never reaches a bind. An unknown user, a
// wrong password and a user excluded by users_filter (disabled) all give
// users.ErrInvalidCredentials, and an unknown user still costs a bind, so
// that the answers look and take alike.
//
// A directory that cannot be reached gives errors that wrap both
// users.ErrUnavailable and store.ErrUnavailable, which the provider answers
// with a "try again later" page or a 503 temporarily_unavailable.
package ldapusers

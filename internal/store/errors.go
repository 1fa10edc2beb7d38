package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// ErrNotFound is returned by the DB methods (login sessions, subjects) when the
// row does not exist or has expired. The fosite storage methods return
// fosite.ErrNotFound instead, as fosite expects.
var ErrNotFound = errors.New("store: not found")

// ErrUnavailable is in the chain of every error a method returns because the
// database could not be used for now: unreachable, connection refused or
// broken, too many connections, timed out, or a lock not had in time. Such a
// request may succeed when retried; an HTTP layer answers it with 503 (OAuth
// temporarily_unavailable). The driver's error stays in the chain as well.
var ErrUnavailable = errors.New("store: database unavailable")

// unavailableError marks err as ErrUnavailable, keeping it in the chain.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return "database unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// wrapErr marks the connectivity errors of db's backend as ErrUnavailable;
// other errors (and nil) are returned as they are.
func (db *DB) wrapErr(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if isUnavailable(err) || (db.dialect.unavailable != nil && db.dialect.unavailable(err)) {
		return &unavailableError{err}
	}
	return err
}

// isUnavailable recognises the connectivity errors common to all drivers:
// a connection database/sql gave up on, network and system call errors, a
// connection closed under a read, and deadlines.
func isUnavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, errWriteBusy),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.As(err, &netErr):
		return true
	}
	return false
}

// redactedError is an error whose text had a secret removed. It keeps
// ErrUnavailable in its chain when the original had it, but not the
// original, whose text still holds the secret.
type redactedError struct {
	msg         string
	unavailable bool
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool { return e.unavailable && target == ErrUnavailable }

// redact removes password (and its URL-escaped forms) from err's text.
func redact(err error, password string) error {
	if err == nil || password == "" {
		return err
	}
	msg := err.Error()
	found := false
	for _, s := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
		if strings.Contains(msg, s) {
			found = true
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	if !found {
		return err
	}
	return &redactedError{msg: msg, unavailable: errors.Is(err, ErrUnavailable)}
}

package ldapusers

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// maxInput is the longest username or email looked up; longer input is
// refused without a query.
const maxInput = 256

// ntEpochOffset is the number of seconds between 1601-01-01 (the Windows NT
// epoch) and 1970-01-01.
const ntEpochOffset = 11644473600

// checkFilter reports whether filter, with its placeholders filled with
// harmless values, compiles.
func checkFilter(filter string) error {
	f := strings.NewReplacer("{input}", "x", "{dn}", "cn=x", "{username}", "x").Replace(filter)
	f = expandAttrs(f, &Attributes{Username: "x", Mail: "x", DisplayName: "x", MemberOf: "x"}, time.Unix(0, 0))
	if _, err := ldap.CompileFilter(f); err != nil {
		return fmt.Errorf("%q does not compile: %w", filter, err)
	}
	return nil
}

// expandAttrs fills the placeholders that come from the configuration: the
// attribute names and the current time.
func expandAttrs(filter string, a *Attributes, now time.Time) string {
	return strings.NewReplacer(
		"{username_attribute}", a.Username,
		"{mail_attribute}", a.Mail,
		"{display_name_attribute}", a.DisplayName,
		"{member_of_attribute}", a.MemberOf,
		"{date-time:generalized}", now.UTC().Format("20060102150405Z"),
		"{date-time:microsoft-nt}", strconv.FormatInt((now.Unix()+ntEpochOffset)*10_000_000, 10),
		"{date-time:unix}", strconv.FormatInt(now.Unix(), 10),
	).Replace(filter)
}

// usersFilter is the users filter for input, escaped.
func usersFilter(filter string, a *Attributes, input string, now time.Time) string {
	return strings.ReplaceAll(expandAttrs(filter, a, now), "{input}", ldap.EscapeFilter(input))
}

// groupsFilter is the groups filter for a user, every value escaped.
func groupsFilter(filter string, a *Attributes, input, username, dn string, now time.Time) string {
	return strings.NewReplacer(
		"{input}", ldap.EscapeFilter(input),
		"{username}", ldap.EscapeFilter(username),
		"{dn}", ldap.EscapeFilter(dn),
	).Replace(expandAttrs(filter, a, now))
}

// validInput reports whether s may be looked up at all: not empty, not too
// long, valid UTF-8 and without control characters (NUL among them). Such
// input could never name a user, so it is refused before any query.
func validInput(s string) bool {
	if s == "" || len(s) > maxInput || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Package authn decides and checks how strongly a user must authenticate:
// authorization policies (one_factor, two_factor, deny, and named policies
// with rules by user and group, as in Authelia), second factors, and
// brute-force regulation.
package authn

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Level is how a user must authenticate for a client.
type Level int

// Levels, from weakest to strongest requirement. Deny refuses the user.
const (
	OneFactor Level = iota + 1
	TwoFactor
	Deny
)

// String returns Authelia's name of the level.
func (l Level) String() string {
	switch l {
	case OneFactor:
		return "one_factor"
	case TwoFactor:
		return "two_factor"
	case Deny:
		return "deny"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel parses one_factor, two_factor or deny.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "one_factor":
		return OneFactor, nil
	case "two_factor":
		return TwoFactor, nil
	case "deny":
		return Deny, nil
	}
	return 0, fmt.Errorf("%q is not one of one_factor, two_factor, deny", s)
}

// Policy is a named authorization policy: rules checked in order, the first
// matching rule decides, otherwise the default applies.
type Policy struct {
	Default Level
	Rules   []Rule
}

// Rule applies Level to users matching Subjects. Subjects is a list of
// alternatives (OR), each a list of conditions that must all hold (AND);
// a condition is "user:<name>" or "group:<name>". An empty Subjects matches
// everyone.
type Rule struct {
	Level    Level
	Subjects [][]string
	// Networks, when set, restrict the rule to clients whose address is in
	// one of them (Authelia's networks); see networks.go.
	Networks []netip.Prefix
}

// Subject is what rules match on.
type Subject struct {
	Username string
	Groups   []string
	// IP is the client's address as the server determined it (behind
	// trusted proxies, the forwarded one); invalid when unknown, which
	// no network rule matches.
	IP netip.Addr
}

// Evaluate returns the level the policy requires of s.
func (p Policy) Evaluate(s Subject) Level {
	for _, r := range p.Rules {
		if r.matches(s) {
			return r.Level
		}
	}
	return p.Default
}

func (r Rule) matches(s Subject) bool {
	if !r.networkMatches(s.IP) {
		return false
	}
	if len(r.Subjects) == 0 {
		return true
	}
	for _, all := range r.Subjects {
		ok := true
		for _, cond := range all {
			if !conditionHolds(cond, s) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func conditionHolds(cond string, s Subject) bool {
	kind, name, _ := strings.Cut(cond, ":")
	switch kind {
	case "user":
		return s.Username == name
	case "group":
		return slices.Contains(s.Groups, name)
	}
	return false
}

// ValidateSubject checks one condition's syntax.
func ValidateSubject(cond string) error {
	kind, name, ok := strings.Cut(cond, ":")
	if !ok || name == "" || (kind != "user" && kind != "group") {
		return fmt.Errorf("subject %q must be user:<name> or group:<name>", cond)
	}
	return nil
}

// Policies resolves a client's authorization_policy value: one_factor,
// two_factor, or the name of a configured policy.
type Policies map[string]Policy

// Resolve returns the policy named name.
func (ps Policies) Resolve(name string) (Policy, error) {
	if p, ok := ps[name]; ok {
		return p, nil
	}
	switch name {
	case "one_factor":
		return Policy{Default: OneFactor}, nil
	case "two_factor":
		return Policy{Default: TwoFactor}, nil
	}
	return Policy{}, fmt.Errorf("%q is not one_factor, two_factor or a configured authorization policy", name)
}

// Satisfies reports whether the authentication methods performed (OpenID
// Connect amr values) meet the level.
func Satisfies(amr []string, l Level) bool {
	switch l {
	case OneFactor:
		return slices.Contains(amr, "pwd") || IsTwoFactor(amr)
	case TwoFactor:
		return IsTwoFactor(amr)
	}
	return false
}

// IsTwoFactor reports whether amr shows two factors: a password plus an OTP
// or a hardware key, or a passkey with user verification (which counts as
// two factors: possession and the verification gesture).
func IsTwoFactor(amr []string) bool {
	if slices.Contains(amr, "mfa") {
		return true
	}
	second := slices.Contains(amr, "otp") || slices.Contains(amr, "hwk")
	return (slices.Contains(amr, "pwd") && second) || (slices.Contains(amr, "hwk") && slices.Contains(amr, "user"))
}

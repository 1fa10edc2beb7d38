package authn

import "testing"

func TestPolicyEvaluate(t *testing.T) {
	photos := Policy{
		Default: Deny,
		Rules: []Rule{
			{Level: OneFactor, Subjects: [][]string{{"user:kiosk"}}},
			{Level: TwoFactor, Subjects: [][]string{{"group:photos"}, {"group:admins", "group:family"}}},
		},
	}
	tests := []struct {
		name string
		p    Policy
		s    Subject
		want Level
	}{
		{"user rule", photos, Subject{Username: "kiosk"}, OneFactor},
		{"group rule", photos, Subject{Username: "alice", Groups: []string{"photos"}}, TwoFactor},
		{"AND holds", photos, Subject{Username: "bob", Groups: []string{"family", "admins"}}, TwoFactor},
		{"AND half", photos, Subject{Username: "bob", Groups: []string{"admins"}}, Deny},
		{"no rule matches", photos, Subject{Username: "eve", Groups: []string{"guests"}}, Deny},
		{"first match wins", Policy{Default: TwoFactor, Rules: []Rule{{Level: Deny, Subjects: [][]string{{"group:x"}}}, {Level: OneFactor}}}, Subject{Groups: []string{"x"}}, Deny},
		{"empty subjects match all", Policy{Default: Deny, Rules: []Rule{{Level: OneFactor}}}, Subject{Username: "z"}, OneFactor},
		{"user prefix is exact", photos, Subject{Username: "kiosk2"}, Deny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Evaluate(tc.s); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestResolveAndSatisfies(t *testing.T) {
	ps := Policies{"photos": {Default: Deny}}
	if p, err := ps.Resolve("photos"); err != nil || p.Default != Deny {
		t.Fatalf("named: %v %v", p, err)
	}
	if p, _ := ps.Resolve("two_factor"); p.Default != TwoFactor {
		t.Fatal("two_factor")
	}
	if _, err := ps.Resolve("three_factor"); err == nil {
		t.Fatal("unknown policy accepted")
	}
	tests := []struct {
		amr  []string
		l    Level
		want bool
	}{
		{[]string{"pwd"}, OneFactor, true},
		{[]string{"pwd"}, TwoFactor, false},
		{[]string{"pwd", "otp"}, TwoFactor, true},
		{[]string{"pwd", "hwk"}, TwoFactor, true},
		{[]string{"hwk", "user"}, TwoFactor, true},
		{[]string{"hwk"}, TwoFactor, false},
		{[]string{"otp"}, OneFactor, false},
		{[]string{"pwd", "otp"}, Deny, false},
		{nil, OneFactor, false},
	}
	for _, tc := range tests {
		if got := Satisfies(tc.amr, tc.l); got != tc.want {
			t.Errorf("Satisfies(%v, %v) = %v", tc.amr, tc.l, got)
		}
	}
	for _, bad := range []string{"users:x", "group:", "x", "role:admin"} {
		if ValidateSubject(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

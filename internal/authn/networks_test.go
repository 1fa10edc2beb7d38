package authn

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNetworkRules(t *testing.T) {
	nets, err := ParseNetworks([]string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	office, err := ParseNetworks([]string{"192.168.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	pol := Policy{Default: TwoFactor, Rules: []Rule{
		{Level: Deny, Subjects: [][]string{{"group:guests"}}, Networks: office},
		{Level: OneFactor, Networks: nets},
	}}
	for _, tc := range []struct {
		ip     string
		groups []string
		want   Level
	}{
		{"10.1.2.3", nil, OneFactor},
		{"::ffff:10.1.2.3", nil, OneFactor}, // IPv4-mapped
		{"2001:db8::1", nil, OneFactor},
		{"192.0.2.7", nil, OneFactor},
		{"192.0.2.8", nil, TwoFactor},
		{"203.0.113.9", nil, TwoFactor},
		{"", nil, TwoFactor}, // unknown address: no network rule matches
		{"192.168.1.20", []string{"guests"}, Deny},
		{"192.168.1.20", []string{"staff"}, TwoFactor}, // network matches, subject not
		{"10.0.0.1", []string{"guests"}, OneFactor},    // subject matches, network not
	} {
		got := pol.Evaluate(Subject{Username: "u", Groups: tc.groups, IP: ParseIP(tc.ip)})
		if got != tc.want {
			t.Errorf("%q %v: %v, want %v", tc.ip, tc.groups, got, tc.want)
		}
	}
}

func TestParseNetworks(t *testing.T) {
	got, err := ParseNetworks([]string{"10.1.2.3/8", "::ffff:10.0.0.0/104", "fe80::1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fe80::1/128")}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "internal", "10.0.0/8", ""} {
		if _, err := ParseNetworks([]string{bad}); err == nil || !strings.Contains(err.Error(), "not a CIDR") {
			t.Errorf("ParseNetworks(%q) = %v", bad, err)
		}
	}
}

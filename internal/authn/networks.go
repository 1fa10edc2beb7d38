package authn

import (
	"fmt"
	"net/netip"
	"strings"
)

// networkMatches reports whether ip is in one of the rule's networks; a
// rule without networks matches any address, known or not.
func (r Rule) networkMatches(ip netip.Addr) bool {
	if len(r.Networks) == 0 {
		return true
	}
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, n := range r.Networks {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseNetworks parses CIDRs ("10.0.0.0/8", "2001:db8::/32") and single
// addresses (a /32 or /128), as Authelia's networks accepts them.
func ParseNetworks(in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("network %q is not a CIDR or an IP address", s)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("network %q is not a CIDR or an IP address", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ParseIP parses the client address the server determined ("" or a bad
// value: invalid, which no network rule matches).
func ParseIP(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

package autheliaimport

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// durationPart is one number and unit of Authelia's duration notation:
// "1h", "90m", "1 day", "2 weeks 3d". A bare integer is seconds.
var durationPart = regexp.MustCompile(`^\s*(\d+)\s*(milliseconds?|ms|years?|y|months?|M|weeks?|w|days?|d|hours?|h|minutes?|m|seconds?|s)\s*`)

var durationUnits = map[string]time.Duration{
	"y": 365 * 24 * time.Hour, "year": 365 * 24 * time.Hour, "years": 365 * 24 * time.Hour,
	"M": 30 * 24 * time.Hour, "month": 30 * 24 * time.Hour, "months": 30 * 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"m": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"s": time.Second, "second": time.Second, "seconds": time.Second,
	"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
}

// ParseDuration parses Authelia's duration notation (its
// configuration's "duration" type): a sequence of number-unit pairs with
// units y, M, w, d, h, m, s, ms or their English names, or a bare number
// of seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("%q is not a duration (e.g. 1h, 90m, 1 day, 90d)", s)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		total += time.Duration(n) * durationUnits[m[2]]
		rest = rest[len(m[0]):]
	}
	return total, nil
}

// FormatDuration writes d in Caddy's duration syntax, as short as it reads
// well: 90d, 1h, 90m, 1h30m, 500ms.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d == 0:
		return "0s"
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0 && d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	s := d.String() // 1h30m0s, 1m30s, 500ms
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

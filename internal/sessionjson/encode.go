package sessionjson

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// sizeHint is the capacity Marshal starts with: most sessions fit.
const sizeHint = 768

// maxValueDepth bounds the nesting of Extra values the encoder walks itself.
// Deeper values (or a map that contains itself) go to json.Marshal, which
// detects cycles.
const maxValueDepth = 1000

// Marshal returns the JSON encoding of s: the JSON object json.Marshal writes
// for *openid.DefaultSession, with its fields in the same order, except that
// fields holding their zero value are left out (also inside id_token_claims
// and headers): empty strings, zero times, nil slices and nil maps. Empty but
// non-nil slices and maps are written ([] and {}), as are the entries of maps
// whatever their value.
//
// A nil Claims or Headers pointer is written as null rather than left out:
// json.Unmarshal keeps a pointer that the target already holds when the key is
// absent, and fosite decodes into sessions that hold both.
//
// Marshal fails where json.Marshal fails: a time whose year is outside
// [0, 9999] or whose zone offset is a day or more, a NaN or infinite float,
// an invalid json.Number, or an Extra value json.Marshal rejects.
func Marshal(s *openid.DefaultSession) ([]byte, error) {
	b, err := AppendMarshal(make([]byte, 0, sizeHint), s)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendMarshal appends the encoding Marshal returns to b and returns the
// extended buffer. On error it returns b as it was.
func AppendMarshal(b []byte, s *openid.DefaultSession) ([]byte, error) {
	if s == nil {
		return append(b, "null"...), nil
	}
	out, err := appendSession(b, s)
	if err != nil {
		return b, fmt.Errorf("sessionjson: %w", err)
	}
	return out, nil
}

func appendSession(b []byte, s *openid.DefaultSession) ([]byte, error) {
	var err error
	b = append(b, '{')
	start := len(b)
	b = appendName(b, start, "id_token_claims")
	if s.Claims == nil {
		b = append(b, "null"...)
	} else if b, err = appendClaims(b, s.Claims); err != nil {
		return b, fmt.Errorf("id_token_claims: %w", err)
	}
	b = appendName(b, start, "headers")
	if s.Headers == nil {
		b = append(b, "null"...)
	} else if b, err = appendHeaders(b, s.Headers); err != nil {
		return b, fmt.Errorf("headers: %w", err)
	}
	if s.ExpiresAt != nil {
		b = appendName(b, start, "expires_at")
		if b, err = appendExpiresAt(b, s.ExpiresAt); err != nil {
			return b, fmt.Errorf("expires_at: %w", err)
		}
	}
	b = appendStringMember(b, start, "username", s.Username)
	b = appendStringMember(b, start, "subject", s.Subject)
	return append(b, '}'), nil
}

func appendClaims(b []byte, c *jwt.IDTokenClaims) ([]byte, error) {
	var err error
	b = append(b, '{')
	start := len(b)
	b = appendStringMember(b, start, "jti", c.JTI)
	b = appendStringMember(b, start, "iss", c.Issuer)
	b = appendStringMember(b, start, "sub", c.Subject)
	b = appendStringsMember(b, start, "aud", c.Audience)
	b = appendStringMember(b, start, "nonce", c.Nonce)
	if b, err = appendTimeMember(b, start, "exp", c.ExpiresAt); err != nil {
		return b, err
	}
	if b, err = appendTimeMember(b, start, "iat", c.IssuedAt); err != nil {
		return b, err
	}
	if b, err = appendTimeMember(b, start, "rat", c.RequestedAt); err != nil {
		return b, err
	}
	if b, err = appendTimeMember(b, start, "auth_time", c.AuthTime); err != nil {
		return b, err
	}
	b = appendStringMember(b, start, "at_hash", c.AccessTokenHash)
	b = appendStringMember(b, start, "acr", c.AuthenticationContextClassReference)
	b = appendStringsMember(b, start, "amr", c.AuthenticationMethodsReferences)
	b = appendStringMember(b, start, "c_hash", c.CodeHash)
	if c.Extra != nil {
		b = appendName(b, start, "ext")
		if b, err = appendObject(b, c.Extra, 0); err != nil {
			return b, fmt.Errorf("ext: %w", err)
		}
	}
	return append(b, '}'), nil
}

func appendHeaders(b []byte, h *jwt.Headers) ([]byte, error) {
	b = append(b, '{')
	if h.Extra != nil {
		var err error
		b = append(b, `"extra":`...)
		if b, err = appendObject(b, h.Extra, 0); err != nil {
			return b, fmt.Errorf("extra: %w", err)
		}
	}
	return append(b, '}'), nil
}

func appendExpiresAt(b []byte, m map[fosite.TokenType]time.Time) ([]byte, error) {
	return appendMap(b, m, appendTime)
}

// appendName appends the name of an object member, after a comma unless it
// is the first member: the object's members start at b[start].
func appendName(b []byte, start int, name string) []byte {
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendStringMember(b []byte, start int, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(appendName(b, start, name), s)
}

func appendStringsMember(b []byte, start int, name string, ss []string) []byte {
	if ss == nil {
		return b
	}
	return appendStrings(appendName(b, start, name), ss)
}

func appendTimeMember(b []byte, start int, name string, t time.Time) ([]byte, error) {
	if isZeroTime(t) {
		return b, nil
	}
	b, err := appendTime(appendName(b, start, name), t)
	if err != nil {
		return b, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// isZeroTime reports whether t may be left out: json.Marshal writes it as
// "0001-01-01T00:00:00Z", which decodes to time.Time{}. A zero instant in
// another zone is written, since it decodes to a time in that zone.
func isZeroTime(t time.Time) bool {
	if !t.IsZero() {
		return false
	}
	_, offset := t.Zone()
	return offset == 0
}

// appendTime appends t as time.Time.MarshalJSON writes it.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	out, err := t.AppendText(b)
	if err != nil {
		return b[:len(b)-1], err
	}
	return append(out, '"'), nil
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendValue appends v, a value of an Extra map, as json.Marshal writes it.
// It writes the types JSON decodes into, and the common Go types claims are
// made of, itself; it hands the others to json.Marshal.
func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxValueDepth {
		return appendMarshaled(b, v)
	}
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		return appendFloat(b, v, 64)
	case float32:
		return appendFloat(b, float64(v), 32)
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case json.Number:
		return appendNumber(b, v)
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendStrings(b, v), nil
	case []any:
		return appendArray(b, v, depth)
	case map[string]any:
		return appendObject(b, v, depth)
	}
	return appendMarshaled(b, v)
}

func appendArray(b []byte, a []any, depth int) ([]byte, error) {
	if a == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, v := range a {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, v, depth+1); err != nil {
			return b, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return append(b, ']'), nil
}

// AppendObject appends m to b exactly as json.Marshal(m) writes it (keys
// sorted, strings escaped for HTML, nil as null) and returns the extended
// buffer; on error it returns b as it was. It is the encoder of a session's
// claims, for the other claim maps the provider writes: a JWT's claims, a
// token response. Values of types it does not write itself go to
// json.Marshal.
func AppendObject(b []byte, m map[string]any) ([]byte, error) {
	out, err := appendObject(b, m, 0)
	if err != nil {
		return b, fmt.Errorf("sessionjson: %w", err)
	}
	return out, nil
}

// appendObject appends an Extra map, or a map within one.
func appendObject(b []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	return appendMap(b, m, func(b []byte, v any) ([]byte, error) {
		return appendValue(b, v, depth+1)
	})
}

// smallMap is the size up to which appendMap sorts a map's keys on the
// stack.
const smallMap = 32

// appendMap appends m as a JSON object with its keys sorted, as json.Marshal
// does; appendVal appends a value.
func appendMap[K ~string, V any](b []byte, m map[K]V, appendVal func([]byte, V) ([]byte, error)) ([]byte, error) {
	var buf [smallMap]K
	keys := buf[:0]
	if len(m) > smallMap {
		keys = make([]K, 0, len(m))
	}
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(k))
		b = append(b, ':')
		var err error
		if b, err = appendVal(b, m[k]); err != nil {
			return b, fmt.Errorf("%q: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

// appendFloat appends f as encoding/json does (its floatEncoder): like
// ECMAScript's Number.prototype.toString, the shortest representation that
// parses back to f, in exponent form below 1e-6 and from 1e21 on.
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("unsupported value: %s", strconv.FormatFloat(f, 'g', -1, bits))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendNumber appends n as json.Marshal does: the empty Number as 0, and
// anything but a JSON number as an error.
func appendNumber(b []byte, n json.Number) ([]byte, error) {
	s := string(n)
	if s == "" {
		s = "0"
	}
	if numberEnd(s, 0) != len(s) {
		return b, fmt.Errorf("invalid number literal %q", s)
	}
	return append(b, s...), nil
}

// appendMarshaled appends json.Marshal's encoding of v.
func appendMarshaled(b []byte, v any) ([]byte, error) {
	out, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, out...), nil
}

// safeASCII marks the bytes appendString copies as they are: printable ASCII
// but for the quote, the backslash and the characters encoding/json escapes
// for HTML (<, > and &).
var safeASCII = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, c)
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped exactly as json.Marshal
// escapes it: HTML characters and U+2028/U+2029 as \u sequences, invalid
// UTF-8 as \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	i := 0
	for i < len(s) && safeASCII[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	return append(appendEscaped(b, s, i), '"')
}

// appendEscaped appends s, whose bytes before i need no escaping, escaping
// what needs it.
func appendEscaped(b []byte, s string, i int) []byte {
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				// Other control characters, and <, > and &.
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

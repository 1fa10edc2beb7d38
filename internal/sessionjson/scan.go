package sessionjson

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is how deeply encoding/json lets arrays and objects nest.
const maxDepth = 10000

// A decoder parses one session. Its methods read the value at pos (after
// white space) and leave pos after it. On anything they do not handle they
// set bad, which stops the parse: what they return then is to be dropped.
type decoder struct {
	data  []byte
	src   string // data as a string, which decoded strings are cut from
	pos   int
	depth int // of the array or object being read
	bad   bool
}

func (d *decoder) fail() {
	d.bad = true
	d.pos = len(d.data)
}

// peek skips white space and returns the byte at pos, 0 at the end.
func (d *decoder) peek() byte {
	for ; d.pos < len(d.data); d.pos++ {
		switch c := d.data[d.pos]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// literal reads lit (true, false or null).
func (d *decoder) literal(lit string) {
	if !strings.HasPrefix(d.src[d.pos:], lit) {
		d.fail()
		return
	}
	d.pos += len(lit)
}

// null reads null if it comes next, and reports whether it did.
func (d *decoder) null() bool {
	if d.peek() != 'n' {
		return false
	}
	d.literal("null")
	return true
}

func (d *decoder) push() {
	if d.depth++; d.depth > maxDepth {
		d.fail()
	}
}

// begin reads the open bracket of an object or array whose close bracket
// is close, and reports whether a member or element follows.
func (d *decoder) begin(open, close byte) bool {
	if d.peek() != open {
		d.fail()
		return false
	}
	d.pos++
	d.push()
	if d.peek() == close {
		d.pos++
		d.depth--
		return false
	}
	return !d.bad
}

// next reads the comma or close bracket after a member or element, and
// reports whether another one follows.
func (d *decoder) next(close byte) bool {
	switch d.peek() {
	case ',':
		d.pos++
		return true
	case close:
		d.pos++
		d.depth--
		return false
	}
	d.fail()
	return false
}

// beginObject reads the { opening an object, and reports whether a member
// follows.
func (d *decoder) beginObject() bool { return d.begin('{', '}') }

// nextMember reads the comma or } after an object member's value, and
// reports whether another member follows.
func (d *decoder) nextMember() bool { return d.next('}') }

// beginArray reads the [ opening an array, and reports whether an element
// follows.
func (d *decoder) beginArray() bool { return d.begin('[', ']') }

// nextElement reads the comma or ] after an array element, and reports
// whether another element follows.
func (d *decoder) nextElement() bool { return d.next(']') }

// key reads the key of an object member, and the colon after it.
func (d *decoder) key() string {
	if d.peek() != '"' {
		d.fail()
		return ""
	}
	k := d.str()
	if d.peek() != ':' {
		d.fail()
		return ""
	}
	d.pos++
	return k
}

// value reads any JSON value as json.Unmarshal decodes it into an interface.
func (d *decoder) value() any {
	switch c := d.peek(); c {
	case '"':
		return d.str()
	case '{':
		return d.object()
	case '[':
		return d.array()
	case 't':
		d.literal("true")
		return true
	case 'f':
		d.literal("false")
		return false
	case 'n':
		d.literal("null")
		return nil
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return d.number()
		}
	}
	d.fail()
	return nil
}

// member is an object member read, before it goes into a map.
type member struct {
	key string
	val any
}

// object reads an object into a map; the last of duplicate keys wins.
func (d *decoder) object() map[string]any {
	var buf [16]member
	ms := buf[:0]
	for more := d.beginObject(); more; more = d.nextMember() {
		k := d.key()
		ms = append(ms, member{k, d.value()})
	}
	if d.bad {
		return nil
	}
	m := make(map[string]any, len(ms))
	for _, e := range ms {
		m[e.key] = e.val
	}
	return m
}

// array reads an array; an empty one is not nil.
func (d *decoder) array() []any {
	var buf [8]any
	vs := buf[:0]
	for more := d.beginArray(); more; more = d.nextElement() {
		vs = append(vs, d.value())
	}
	if d.bad {
		return nil
	}
	return append(make([]any, 0, len(vs)), vs...)
}

// number reads a number as a float64; like json.Unmarshal, it fails on a
// number beyond float64's range.
func (d *decoder) number() any {
	end := numberEnd(d.src, d.pos)
	if end < 0 {
		d.fail()
		return nil
	}
	f, err := strconv.ParseFloat(d.src[d.pos:end], 64)
	if err != nil {
		d.fail()
		return nil
	}
	d.pos = end
	return f
}

// numberEnd returns the end of the JSON number that starts at s[i], or -1 if
// there is none.
func numberEnd(s string, i int) int {
	digits := func(i int) int {
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(i + 1)
	default:
		return -1
	}
	if i < len(s) && s[i] == '.' {
		if j := digits(i + 1); j > i+1 {
			i = j
		} else {
			return -1
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if j := digits(i); j > i {
			i = j
		} else {
			return -1
		}
	}
	return i
}

// str reads a string.
func (d *decoder) str() string {
	start := d.pos
	end, plain := d.scanString()
	if d.bad {
		return ""
	}
	d.pos = end
	if plain {
		return d.src[start+1 : end-1]
	}
	return unquote(d.data[start+1 : end-1])
}

// scanString checks the string at pos and returns its end, after the closing
// quote. plain reports whether its bytes between the quotes are its value:
// no escapes, no invalid UTF-8.
func (d *decoder) scanString() (end int, plain bool) {
	data := d.data
	plain = true
	for i := d.pos + 1; i < len(data); {
		switch c := data[i]; {
		case c == '"':
			return i + 1, plain
		case c == '\\':
			n := escapeLen(data[i:])
			if n == 0 {
				d.fail()
				return 0, false
			}
			plain = false
			i += n
		case c < ' ':
			d.fail()
			return 0, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			i += size
		}
	}
	d.fail()
	return 0, false
}

// escapeLen returns the length of the escape sequence at the start of s, 0
// if it is not a valid one.
func escapeLen(s []byte) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if hex4(s) < 0 {
			return 0
		}
		return 6
	}
	return 0
}

// hex4 returns the code of the \uXXXX escape at the start of s, -1 if
// there is none.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquote returns the value of the string between the quotes s, which
// scanString has checked. As encoding/json does, it turns invalid UTF-8 and
// unpaired surrogates into U+FFFD.
func unquote(s []byte) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			i += unescape(&b, s[i:])
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			b.WriteRune(r)
			i += size
		}
	}
	return b.String()
}

// unescape writes the character of the escape sequence at the start of s,
// and returns the sequence's length.
func unescape(b *strings.Builder, s []byte) int {
	switch s[1] {
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		r := hex4(s)
		if utf16.IsSurrogate(r) {
			if pair := utf16.DecodeRune(r, hex4(s[6:])); pair != unicode.ReplacementChar {
				b.WriteRune(pair)
				return 12
			}
			r = unicode.ReplacementChar
		}
		b.WriteRune(r)
		return 6
	default: // " \ /
		b.WriteByte(s[1])
	}
	return 2
}

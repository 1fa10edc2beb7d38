package sessionjson

import (
	"encoding/json"
	"maps"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Unmarshal decodes data into s. The result is exactly the one json.Unmarshal
// gives when it decodes the full encoding of the same session, the one
// json.Marshal writes, into s: where data leaves a field out, Unmarshal sets it
// to its zero value (a nil pointer, map or slice, an empty string, a zero
// time), as json.Unmarshal does with a field written as "", null or the zero
// time. Everything present is decoded as json.Unmarshal decodes it: a null
// leaves a string or a time as it was; id_token_claims and headers are
// decoded into the structs s already points to, if any; the entries of
// expires_at, ext and extra are added to the maps s already holds, if any;
// Extra values decode to map[string]any, []any, float64, string, bool or nil.
//
// Unmarshal modifies s only once data has been decoded in full. Whatever its
// parser does not handle (a key that does not spell a field exactly, a field
// given twice, a value of the wrong type, a syntax error) it leaves to
// json.Unmarshal(data, s): odd input decodes, or fails, as it always did.
// (json.Unmarshal leaves the fields that such input leaves out as they were.)
//
// The strings of the result share one copy of data.
func Unmarshal(data []byte, s *openid.DefaultSession) error {
	if s == nil {
		return json.Unmarshal(data, s)
	}
	d := decoder{data: data, src: string(data)}
	var r result
	d.session(s, &r)
	if d.bad {
		return json.Unmarshal(data, s)
	}
	r.commit(s)
	return nil
}

// result is a decoded session before Unmarshal stores it.
type result struct {
	session openid.DefaultSession // without Claims and Headers
	claims  jwt.IDTokenClaims
	headers jwt.Headers

	hasClaims, hasHeaders bool // id_token_claims, headers were objects
	// Whether ext, extra and expires_at were objects, whose entries
	// json.Unmarshal adds to a map that is there.
	mergeExt, mergeExtra, mergeExpiresAt bool
}

// commit stores r in s as json.Unmarshal would: into the structs and maps s
// points to.
func (r *result) commit(s *openid.DefaultSession) {
	if r.hasClaims {
		c := s.Claims
		if c == nil {
			c = new(jwt.IDTokenClaims)
		}
		r.claims.Extra = merge(c.Extra, r.claims.Extra, r.mergeExt)
		*c = r.claims
		r.session.Claims = c
	}
	if r.hasHeaders {
		h := s.Headers
		if h == nil {
			h = new(jwt.Headers)
		}
		r.headers.Extra = merge(h.Extra, r.headers.Extra, r.mergeExtra)
		*h = r.headers
		r.session.Headers = h
	}
	r.session.ExpiresAt = merge(s.ExpiresAt, r.session.ExpiresAt, r.mergeExpiresAt)
	*s = r.session
}

// merge returns the map a field holds after decoding an object into it:
// decoded, added to old if there was one.
func merge[M ~map[K]V, K comparable, V any](old, decoded M, object bool) M {
	if !object || old == nil {
		return decoded
	}
	maps.Copy(old, decoded)
	return old
}

// Session members, in a bit set of those seen.
const (
	sessionClaims = iota
	sessionHeaders
	sessionExpiresAt
	sessionUsername
	sessionSubject
)

func sessionMember(key string) int {
	switch key {
	case "id_token_claims":
		return sessionClaims
	case "headers":
		return sessionHeaders
	case "expires_at":
		return sessionExpiresAt
	case "username":
		return sessionUsername
	case "subject":
		return sessionSubject
	}
	return -1
}

// session reads the whole of data as a session into r; old is the session
// Unmarshal decodes into.
func (d *decoder) session(old *openid.DefaultSession, r *result) {
	var seen uint32
	for more := d.beginObject(); more; more = d.nextMember() {
		m := sessionMember(d.key())
		if m < 0 || seen&(1<<m) != 0 {
			d.fail()
			break
		}
		seen |= 1 << m
		switch m {
		case sessionClaims:
			r.hasClaims, r.mergeExt = d.claims(old.Claims, &r.claims)
		case sessionHeaders:
			r.hasHeaders, r.mergeExtra = d.headers(&r.headers)
		case sessionExpiresAt:
			r.session.ExpiresAt, r.mergeExpiresAt = d.expiresAt()
		case sessionUsername:
			r.session.Username = d.stringField(old.Username)
		case sessionSubject:
			r.session.Subject = d.stringField(old.Subject)
		}
	}
	d.peek()
	if d.pos != len(d.data) {
		d.fail() // data after the object
	}
}

// ID token claims, in a bit set of those seen.
const (
	claimJTI = iota
	claimIssuer
	claimSubject
	claimAudience
	claimNonce
	claimExpiresAt
	claimIssuedAt
	claimRequestedAt
	claimAuthTime
	claimAccessTokenHash
	claimACR
	claimAMR
	claimCodeHash
	claimExtra
)

func claimMember(key string) int {
	switch key {
	case "jti":
		return claimJTI
	case "iss":
		return claimIssuer
	case "sub":
		return claimSubject
	case "aud":
		return claimAudience
	case "nonce":
		return claimNonce
	case "exp":
		return claimExpiresAt
	case "iat":
		return claimIssuedAt
	case "rat":
		return claimRequestedAt
	case "auth_time":
		return claimAuthTime
	case "at_hash":
		return claimAccessTokenHash
	case "acr":
		return claimACR
	case "amr":
		return claimAMR
	case "c_hash":
		return claimCodeHash
	case "ext":
		return claimExtra
	}
	return -1
}

// noClaims stands for the claims of a session that has none.
var noClaims jwt.IDTokenClaims

// claims reads id_token_claims into c: null (object false) or an object.
// old holds the claims json.Unmarshal would decode into. mergeExt reports
// whether ext was an object.
func (d *decoder) claims(old *jwt.IDTokenClaims, c *jwt.IDTokenClaims) (object, mergeExt bool) {
	if d.null() {
		return false, false
	}
	if old == nil {
		old = &noClaims
	}
	var seen uint32
	for more := d.beginObject(); more; more = d.nextMember() {
		m := claimMember(d.key())
		if m < 0 || seen&(1<<m) != 0 {
			d.fail()
			break
		}
		seen |= 1 << m
		switch m {
		case claimJTI:
			c.JTI = d.stringField(old.JTI)
		case claimIssuer:
			c.Issuer = d.stringField(old.Issuer)
		case claimSubject:
			c.Subject = d.stringField(old.Subject)
		case claimAudience:
			c.Audience = d.stringArray(old.Audience)
		case claimNonce:
			c.Nonce = d.stringField(old.Nonce)
		case claimExpiresAt:
			c.ExpiresAt = d.timeField(old.ExpiresAt)
		case claimIssuedAt:
			c.IssuedAt = d.timeField(old.IssuedAt)
		case claimRequestedAt:
			c.RequestedAt = d.timeField(old.RequestedAt)
		case claimAuthTime:
			c.AuthTime = d.timeField(old.AuthTime)
		case claimAccessTokenHash:
			c.AccessTokenHash = d.stringField(old.AccessTokenHash)
		case claimACR:
			c.AuthenticationContextClassReference = d.stringField(old.AuthenticationContextClassReference)
		case claimAMR:
			c.AuthenticationMethodsReferences = d.stringArray(old.AuthenticationMethodsReferences)
		case claimCodeHash:
			c.CodeHash = d.stringField(old.CodeHash)
		case claimExtra:
			c.Extra, mergeExt = d.extra()
		}
	}
	return true, mergeExt
}

// headers reads headers into h: null (object false) or an object. mergeExtra
// reports whether extra was an object.
func (d *decoder) headers(h *jwt.Headers) (object, mergeExtra bool) {
	if d.null() {
		return false, false
	}
	seen := false
	for more := d.beginObject(); more; more = d.nextMember() {
		if d.key() != "extra" || seen {
			d.fail()
			break
		}
		seen = true
		h.Extra, mergeExtra = d.extra()
	}
	return true, mergeExtra
}

// expiresAt reads expires_at: null (object false) or an object of times.
func (d *decoder) expiresAt() (m map[fosite.TokenType]time.Time, object bool) {
	if d.null() {
		return nil, false
	}
	m = make(map[fosite.TokenType]time.Time)
	for more := d.beginObject(); more; more = d.nextMember() {
		k := fosite.TokenType(d.key())
		m[k] = d.timeField(time.Time{})
	}
	return m, true
}

// extra reads ext or extra: null (object false) or an object.
func (d *decoder) extra() (m map[string]any, object bool) {
	if d.null() {
		return nil, false
	}
	return d.object(), true
}

// stringField reads a string, or null, which leaves old as it was.
func (d *decoder) stringField(old string) string {
	switch d.peek() {
	case '"':
		return d.str()
	case 'n':
		d.literal("null")
		return old
	}
	d.fail()
	return old
}

// stringArray reads an array of strings, or null. As json.Unmarshal decodes in
// place into the array under old, a null element leaves the string there, if
// any.
func (d *decoder) stringArray(old []string) []string {
	if d.null() {
		return nil
	}
	var buf [8]string
	ss := buf[:0]
	under := old[:cap(old)]
	for more := d.beginArray(); more; more = d.nextElement() {
		switch d.peek() {
		case '"':
			ss = append(ss, d.str())
		case 'n':
			d.literal("null")
			s := ""
			if i := len(ss); i < len(under) {
				s = under[i]
			}
			ss = append(ss, s)
		default:
			d.fail()
		}
	}
	if d.bad {
		return nil
	}
	return append(make([]string, 0, len(ss)), ss...)
}

// timeField reads a time as time.Time.UnmarshalJSON does (so null leaves old as
// it was).
func (d *decoder) timeField(old time.Time) time.Time {
	switch d.peek() {
	case '"':
		start := d.pos
		end, _ := d.scanString()
		if d.bad {
			return old
		}
		d.pos = end
		var t time.Time
		if err := t.UnmarshalJSON(d.data[start:end]); err != nil {
			d.fail()
		}
		return t
	case 'n':
		d.literal("null")
		return old
	}
	d.fail()
	return old
}

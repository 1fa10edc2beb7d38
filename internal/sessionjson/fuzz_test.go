package sessionjson

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// FuzzUnmarshal decodes arbitrary data with Unmarshal and with the
// reference (json.Unmarshal of the full encoding) into the same targets:
// both must fail with the same error, or give the same session.
func FuzzUnmarshal(f *testing.F) {
	for _, data := range encodings(f) {
		f.Add(data)
	}
	for _, in := range oddInputs {
		if len(in) <= 1024 { // not the deep nesting: it slows fuzzing down
			f.Add([]byte(in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnmarshal(t, data)
	})
}

// FuzzMarshal encodes sessions made of fuzzed values with Marshal and with
// json.Marshal: both must fail, or decode (with Unmarshal or json.Unmarshal)
// to the same session.
func FuzzMarshal(f *testing.F) {
	f.Add("jti", "https://auth.example.com", "app", "email", "demo@example.com", 1.5, true, int64(1741944413), int64(0), 3600, uint8(0))
	f.Add("", "<&>", "", "", "a\u2028\"\\\x01\xff", 1e21, false, int64(-62135596800), int64(999999999), 0, uint8(0xff))
	f.Add("x", "y", "z", "\xed\xa0\x80", "", 1e-7, false, int64(253402300800), int64(1), -86400, uint8(0x55))
	f.Fuzz(func(t *testing.T, jti, iss, aud, key, str string, num float64, flag bool, sec, nsec int64, offset int, mode uint8) {
		s := fuzzSession(jti, iss, aud, key, str, num, flag, sec, nsec, offset, mode)
		data, err := Marshal(s)
		old, errOld := json.Marshal(s)
		if (err == nil) != (errOld == nil) {
			t.Fatalf("Marshal: %v; json.Marshal: %v", err, errOld)
		}
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Marshal wrote invalid JSON: %q", data)
		}
		want := decodeJSON(t, old, emptySession())
		sameSession(t, "Unmarshal(Marshal(s))", decode(t, data, emptySession()), want)
		sameSession(t, "json.Unmarshal(Marshal(s))", decodeJSON(t, data, emptySession()), want)
		sameSession(t, "Unmarshal(json.Marshal(s))", decode(t, old, emptySession()), want)
	})
}

// fuzzSession makes a session of fuzzed values; the bits of mode leave
// parts out or empty.
func fuzzSession(jti, iss, aud, key, str string, num float64, flag bool, sec, nsec int64, offset int, mode uint8) *openid.DefaultSession {
	at := time.Unix(sec, nsec).In(time.FixedZone("", offset))
	s := &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			JTI:                             jti,
			Issuer:                          iss,
			Audience:                        []string{aud, str},
			ExpiresAt:                       at,
			AuthTime:                        time.Unix(sec, 0).UTC(),
			AuthenticationMethodsReferences: []string{},
			Extra: map[string]any{
				key:    str,
				"num":  num,
				"f32":  float32(num),
				"flag": flag,
				"int":  sec,
				"list": []any{str, num, flag, nil, []string{aud}},
				"map":  map[string]any{key: map[string]any{str: num}},
			},
		},
		Headers:   &jwt.Headers{Extra: map[string]any{"alg": str}},
		ExpiresAt: map[fosite.TokenType]time.Time{fosite.TokenType(key): at, fosite.AccessToken: {}},
		Username:  str,
		Subject:   key,
	}
	if mode&1 != 0 {
		s.Claims = nil
	}
	if mode&2 != 0 {
		s.Headers = nil
	}
	if mode&4 != 0 {
		s.ExpiresAt = nil
	}
	if mode&8 != 0 && s.Claims != nil {
		s.Claims.Extra = nil
		s.Claims.Audience = nil
	}
	if mode&16 != 0 && s.Claims != nil {
		s.Claims.ExpiresAt = time.Time{}.In(at.Location())
	}
	if mode&32 != 0 && s.Headers != nil {
		s.Headers.Extra = map[string]any{}
	}
	return s
}

// FuzzAppendObject: AppendObject writes what json.Marshal writes, byte for
// byte, for maps of fuzzed keys and values.
func FuzzAppendObject(f *testing.F) {
	f.Add("access_token", "ory_at_x.y", "<&>\u2028\xff", 3600.5, int64(-1), true)
	f.Add("", "", "\x00\"\\", 1e21, int64(1<<62), false)
	f.Fuzz(func(t *testing.T, key, str, other string, num float64, n int64, flag bool) {
		m := map[string]any{
			key: str, other: []string{str, key}, "n": n, "f": num, "b": flag,
			"nested": map[string]any{str: []any{num, nil, other}},
		}
		want, errWant := json.Marshal(m)
		got, err := AppendObject(nil, m)
		if (err == nil) != (errWant == nil) {
			t.Fatalf("AppendObject: %v; json.Marshal: %v", err, errWant)
		}
		if err == nil && string(got) != string(want) {
			t.Fatalf("AppendObject:\n got %s\nwant %s", got, want)
		}
	})
}

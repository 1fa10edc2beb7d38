package sessionjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// emptySession is what the provider hands fosite to fill from storage.
func emptySession() *openid.DefaultSession {
	return &openid.DefaultSession{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}}
}

var (
	cet    = time.FixedZone("CET", 3600)
	authAt = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	now    = time.Now() // local, with a monotonic reading
)

// loginSession is a session as the provider makes it for a user's login.
func loginSession() *openid.DefaultSession {
	return &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			Issuer:                              "https://auth.example.com",
			Subject:                             "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
			AuthTime:                            authAt,
			RequestedAt:                         authAt.Add(3 * time.Second),
			AuthenticationMethodsReferences:     []string{"pwd"},
			AuthenticationContextClassReference: "1",
			Extra: map[string]any{
				"azp":                "app",
				"sid":                "c0ffee00-1234-5678-9abc-def012345678",
				"email":              "demo@example.com",
				"email_verified":     true,
				"name":               "Demo User",
				"preferred_username": "demo",
				"updated_at":         float64(authAt.Unix()),
				"groups":             []any{"admins", "dev"},
			},
		},
		Headers: &jwt.Headers{Extra: map[string]any{"alg": "ES256"}},
		ExpiresAt: map[fosite.TokenType]time.Time{
			fosite.AccessToken:  authAt.Add(time.Hour),
			fosite.RefreshToken: authAt.Add(30 * 24 * time.Hour),
		},
		Username: "demo",
		Subject:  "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
	}
}

// fullSession has every field set to something other than its zero value,
// so Marshal leaves nothing out.
func fullSession() *openid.DefaultSession {
	return &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			JTI:                                 "jti-1",
			Issuer:                              "https://auth.example.com/<tenant>&x",
			Subject:                             "sub \"quoted\" \\ back\tslash\n",
			Audience:                            []string{"app", "api", "é"},
			Nonce:                               "n-0S6_WzA2Mj",
			ExpiresAt:                           time.Date(2025, 3, 14, 10, 26, 53, 123456789, time.UTC),
			IssuedAt:                            time.Date(2025, 3, 14, 9, 26, 53, 500000000, cet),
			RequestedAt:                         time.Date(2025, 3, 14, 9, 26, 50, 0, time.FixedZone("", -(9*3600+30*60))),
			AuthTime:                            time.Date(1999, 12, 31, 23, 59, 59, 1, time.UTC),
			AccessTokenHash:                     "77QmUPtjPfzWtF2AnpK9RQ",
			AuthenticationContextClassReference: "2",
			AuthenticationMethodsReferences:     []string{"pwd", "otp", "mfa"},
			CodeHash:                            "LDktKdoQak3Pk0cnXxCltA",
			Extra: map[string]any{
				"s":      "x\u2028y\u2029z\x00\x1f\x7f<script>&amp;",
				"bad":    "a\xffb\xed\xa0\x80c",
				"emoji":  "😀 ünïcödé",
				"t":      true,
				"f":      false,
				"nil":    nil,
				"float":  3.25,
				"tiny":   1e-7,
				"huge":   1.5e300,
				"neg":    -0.000001,
				"whole":  float64(1 << 53),
				"int":    42,
				"int64":  int64(-1 << 62),
				"uint8":  uint8(255),
				"f32":    float32(0.1),
				"number": json.Number("12.5e3"),
				"emptyn": json.Number(""),
				"strs":   []string{"a", "b\"c"},
				"nilstr": []string(nil),
				"list":   []any{1.0, "two", false, nil, []any{}, map[string]any{}},
				"map":    map[string]any{"z": 1.0, "a": map[string]any{"deep": []any{"x"}}, "é": "key"},
				"time":   time.Date(2020, 1, 2, 3, 4, 5, 6, cet),
				"struct": struct {
					A string `json:"a"`
					B int    `json:"b,omitempty"`
				}{A: "<a>"},
				"strmap": map[string]string{"k": "v"},
				"raw":    json.RawMessage(`{ "spaced" : [1, 2] }`),
				"\u2028": "key needs escaping <&>",
			},
		},
		Headers: &jwt.Headers{Extra: map[string]any{"alg": "ES256", "kid": "key-1", "typ": "JWT"}},
		ExpiresAt: map[fosite.TokenType]time.Time{
			fosite.AccessToken:   time.Date(2025, 3, 14, 10, 26, 53, 0, time.UTC),
			fosite.RefreshToken:  time.Date(2025, 4, 14, 10, 26, 53, 0, cet),
			fosite.AuthorizeCode: {}, // a map entry is written even when zero
			fosite.IDToken:       time.Date(2025, 3, 14, 10, 26, 53, 0, time.UTC),
		},
		Username: "demo\u00e9",
		Subject:  "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
	}
}

type sessionCase struct {
	name string
	s    func() *openid.DefaultSession
	// full marks sessions without zero fields: Marshal must write the
	// bytes json.Marshal writes.
	full bool
}

var sessionCases = []sessionCase{
	{name: "zero", s: func() *openid.DefaultSession { return &openid.DefaultSession{} }},
	{name: "empty structs", s: emptySession},
	{name: "client credentials", s: func() *openid.DefaultSession {
		return &openid.DefaultSession{
			Subject:   "client-a",
			ExpiresAt: map[fosite.TokenType]time.Time{fosite.AccessToken: authAt.Add(time.Hour)},
		}
	}},
	{name: "login", s: loginSession},
	{name: "full", s: fullSession, full: true},
	{name: "fixed zones", s: func() *openid.DefaultSession {
		s := loginSession()
		s.Claims.AuthTime = authAt.In(cet)
		s.Claims.RequestedAt = authAt.In(time.FixedZone("", 5*3600+45*60)).Add(time.Nanosecond)
		s.Claims.ExpiresAt = authAt.In(time.FixedZone("", -3*3600))
		s.ExpiresAt[fosite.AccessToken] = authAt.In(cet)
		return s
	}},
	{name: "local time", s: func() *openid.DefaultSession {
		s := loginSession()
		s.Claims.AuthTime = now
		s.Claims.IssuedAt = authAt.Local()
		return s
	}},
	{name: "zero instant in a zone", s: func() *openid.DefaultSession {
		s := emptySession()
		s.Claims.ExpiresAt = time.Time{}.In(cet)
		s.Claims.IssuedAt = time.Time{}.In(time.FixedZone("", -3600))
		s.Claims.AuthTime = time.Time{}.UTC()
		return s
	}},
	{name: "empty collections", s: func() *openid.DefaultSession {
		return &openid.DefaultSession{
			Claims: &jwt.IDTokenClaims{
				Audience:                        []string{},
				AuthenticationMethodsReferences: []string{},
				Extra:                           map[string]any{},
			},
			Headers:   &jwt.Headers{Extra: map[string]any{}},
			ExpiresAt: map[fosite.TokenType]time.Time{},
		}
	}},
	{name: "empty strings in collections", s: func() *openid.DefaultSession {
		return &openid.DefaultSession{
			Claims: &jwt.IDTokenClaims{
				Audience: []string{"", ""},
				Extra:    map[string]any{"": "", "e": []any{""}},
			},
			Headers: &jwt.Headers{Extra: map[string]any{"": nil}},
		}
	}},
	{name: "nil claims", s: func() *openid.DefaultSession {
		s := loginSession()
		s.Claims = nil
		return s
	}},
	{name: "nil headers", s: func() *openid.DefaultSession {
		s := loginSession()
		s.Headers = nil
		return s
	}},
}

// encodings returns the encodings of the cases' sessions: Marshal's and
// json.Marshal's.
func encodings(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, c := range sessionCases {
		b, err := Marshal(c.s())
		if err != nil {
			t.Fatalf("%s: Marshal: %v", c.name, err)
		}
		old, err := json.Marshal(c.s())
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", c.name, err)
		}
		out = append(out, b, old)
	}
	return out
}

// decodeJSON is what encoding/json decodes data to in target.
func decodeJSON(t testing.TB, data []byte, target *openid.DefaultSession) *openid.DefaultSession {
	t.Helper()
	if err := json.Unmarshal(data, target); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", data, err)
	}
	return target
}

func decode(t testing.TB, data []byte, target *openid.DefaultSession) *openid.DefaultSession {
	t.Helper()
	if err := Unmarshal(data, target); err != nil {
		t.Fatalf("Unmarshal(%s): %v", data, err)
	}
	return target
}

// sameSession fails t unless got is want.
func sameSession(t testing.TB, what string, got, want *openid.DefaultSession) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\ngot  %s\nwant %s", what, dump(got), dump(want))
	}
}

// dump shows a session with what JSON hides: nil against empty, locations.
func dump(s *openid.DefaultSession) string {
	if s == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString("{")
	if s.Claims == nil {
		b.WriteString("Claims:<nil>")
	} else {
		c := *s.Claims
		for _, tm := range []time.Time{c.ExpiresAt, c.IssuedAt, c.RequestedAt, c.AuthTime} {
			b.WriteString(tm.String() + " loc=" + tm.Location().String() + "; ")
		}
		c.ExpiresAt, c.IssuedAt, c.RequestedAt, c.AuthTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(fmtValue(c)), "\n", " "))
	}
	b.WriteString(" Headers:" + fmtValue(s.Headers))
	b.WriteString(" ExpiresAt:" + fmtValue(s.ExpiresAt))
	b.WriteString(" Username:" + fmtValue(s.Username) + " Subject:" + fmtValue(s.Subject) + "}")
	return b.String()
}

func fmtValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	if v := reflect.ValueOf(v); (v.Kind() == reflect.Map || v.Kind() == reflect.Pointer) && v.IsNil() {
		return "<nil>"
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	for _, c := range sessionCases {
		t.Run(c.name, func(t *testing.T) {
			data, err := Marshal(c.s())
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(data) {
				t.Fatalf("Marshal wrote invalid JSON: %s", data)
			}
			old, err := json.Marshal(c.s())
			if err != nil {
				t.Fatal(err)
			}
			want := decodeJSON(t, old, emptySession())

			sameSession(t, "Unmarshal(Marshal(s))", decode(t, data, emptySession()), want)
			sameSession(t, "json.Unmarshal(Marshal(s))", decodeJSON(t, data, emptySession()), want)
			sameSession(t, "Unmarshal(json.Marshal(s))", decode(t, old, emptySession()), want)
			if c.full && !bytes.Equal(data, old) {
				t.Fatalf("Marshal and json.Marshal differ:\n%s\n%s", data, old)
			}
		})
	}
}

// TestMarshalOmitsZeroFields checks what Marshal leaves out and what it
// keeps.
func TestMarshalOmitsZeroFields(t *testing.T) {
	tests := []struct {
		name string
		s    *openid.DefaultSession
		want string
	}{
		{"nil", nil, `null`},
		{"zero", &openid.DefaultSession{}, `{"id_token_claims":null,"headers":null}`},
		{"empty structs", emptySession(), `{"id_token_claims":{},"headers":{}}`},
		{"empty collections", sessionCases[8].s(), `{"id_token_claims":{"aud":[],"amr":[],"ext":{}},"headers":{"extra":{}},"expires_at":{}}`},
		{"zero instant in a zone", sessionCases[7].s(),
			`{"id_token_claims":{"exp":"0001-01-01T01:00:00+01:00","iat":"0000-12-31T23:00:00-01:00"},"headers":{}}`},
		{"client credentials", sessionCases[2].s(),
			`{"id_token_claims":null,"headers":null,"expires_at":{"access_token":"2025-03-14T10:26:53Z"},"subject":"client-a"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestAppendMarshal(t *testing.T) {
	prefix := []byte("row:")
	got, err := AppendMarshal(prefix, loginSession())
	if err != nil {
		t.Fatal(err)
	}
	want, err := Marshal(loginSession())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "row:"+string(want) {
		t.Fatalf("got %s", got)
	}

	bad := loginSession()
	bad.Claims.Extra["nan"] = func() {}
	got, err = AppendMarshal(prefix, bad)
	if err == nil || string(got) != "row:" {
		t.Fatalf("AppendMarshal = %q, %v; want row:, an error", got, err)
	}
}

func TestMarshalErrors(t *testing.T) {
	zero := 0.0
	tests := []struct {
		name   string
		modify func(s *openid.DefaultSession)
		want   string
	}{{
		name:   "year after 9999",
		modify: func(s *openid.DefaultSession) { s.Claims.AuthTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		want:   "sessionjson: id_token_claims: auth_time: Time.AppendText: year outside of range [0,9999]",
	}, {
		name: "year before 0",
		modify: func(s *openid.DefaultSession) {
			s.ExpiresAt[fosite.AccessToken] = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
		},
		want: `sessionjson: expires_at: "access_token": Time.AppendText: year outside of range [0,9999]`,
	}, {
		name:   "zone offset of a day",
		modify: func(s *openid.DefaultSession) { s.Claims.IssuedAt = authAt.In(time.FixedZone("", 24*3600)) },
		want:   "sessionjson: id_token_claims: iat: Time.AppendText: timezone hour outside of range [0,23]",
	}, {
		name:   "NaN",
		modify: func(s *openid.DefaultSession) { s.Claims.Extra["x"] = zero / zero },
		want:   `sessionjson: id_token_claims: ext: "x": unsupported value: NaN`,
	}, {
		name:   "infinity",
		modify: func(s *openid.DefaultSession) { s.Headers.Extra["x"] = []any{1 / zero} },
		want:   `sessionjson: headers: extra: "x": [0]: unsupported value: +Inf`,
	}, {
		name:   "float32 infinity",
		modify: func(s *openid.DefaultSession) { s.Claims.Extra["x"] = map[string]any{"y": float32(-1 / zero)} },
		want:   `sessionjson: id_token_claims: ext: "x": "y": unsupported value: -Inf`,
	}, {
		name:   "invalid number",
		modify: func(s *openid.DefaultSession) { s.Claims.Extra["x"] = json.Number("1.") },
		want:   `sessionjson: id_token_claims: ext: "x": invalid number literal "1."`,
	}, {
		name:   "unsupported type",
		modify: func(s *openid.DefaultSession) { s.Claims.Extra["x"] = make(chan int) },
		want:   `sessionjson: id_token_claims: ext: "x": json: unsupported type: chan int`,
	}, {
		name: "large map",
		modify: func(s *openid.DefaultSession) {
			for i := range smallMap {
				s.Claims.Extra[strings.Repeat("k", i)] = float64(i)
			}
			s.Claims.Extra["x"] = zero / zero
		},
		want: `sessionjson: id_token_claims: ext: "x": unsupported value: NaN`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loginSession()
			tt.modify(s)
			if _, err := json.Marshal(s); err == nil {
				t.Fatal("json.Marshal did not fail")
			}
			b, err := Marshal(s)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Marshal = %s, %v; want error %s", b, err, tt.want)
			}
		})
	}
}

func TestMarshalCycle(t *testing.T) {
	s := loginSession()
	m := map[string]any{}
	m["self"] = m
	s.Claims.Extra["cycle"] = m
	if _, err := Marshal(s); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("Marshal of a cycle: %v", err)
	}
}

// populatedSession is a target that holds something in every field, with
// room beyond the slices' lengths, as json.Unmarshal leaves them.
func populatedSession() *openid.DefaultSession {
	s := fullSession()
	s.Claims.Audience = []string{"old-a", "old-b", "old-c", "old-d"}[:2]
	s.Claims.AuthenticationMethodsReferences = make([]string, 1, 3)
	s.Claims.AuthenticationMethodsReferences[0] = "old-amr"
	s.Claims.Extra = map[string]any{"azp": "old", "only-old": 1.0}
	s.Headers.Extra = map[string]any{"kid": "old"}
	return s
}

// targets make sessions to decode into.
var targets = []struct {
	name string
	new  func() *openid.DefaultSession
}{
	{"zero", func() *openid.DefaultSession { return &openid.DefaultSession{} }},
	{"empty", emptySession},
	{"fosite default", func() *openid.DefaultSession {
		// openid.NewDefaultSession, at a fixed time.
		return &openid.DefaultSession{Claims: &jwt.IDTokenClaims{RequestedAt: now.UTC()}, Headers: &jwt.Headers{}}
	}},
	{"populated", populatedSession},
}

// TestUnmarshalIntoSession decodes every case into targets that hold values
// already (a session decoded before), against json.Unmarshal of the full
// encoding into the same target.
func TestUnmarshalIntoSession(t *testing.T) {
	for _, prev := range sessionCases {
		prevData, err := json.Marshal(prev.s())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range sessionCases {
			t.Run(prev.name+"/"+c.name, func(t *testing.T) {
				data, old := bothEncodings(t, c.s())
				want := decodeJSON(t, old, decodeJSON(t, prevData, emptySession()))
				got := decode(t, data, decodeJSON(t, prevData, emptySession()))
				sameSession(t, "Unmarshal(Marshal(s))", got, want)
				got = decode(t, old, decodeJSON(t, prevData, emptySession()))
				sameSession(t, "Unmarshal(json.Marshal(s))", got, want)
			})
		}
	}
	for _, target := range targets {
		for _, c := range sessionCases {
			t.Run(target.name+"/"+c.name, func(t *testing.T) {
				data, old := bothEncodings(t, c.s())
				want := decodeJSON(t, old, target.new())
				sameSession(t, "Unmarshal(Marshal(s))", decode(t, data, target.new()), want)
				sameSession(t, "Unmarshal(json.Marshal(s))", decode(t, old, target.new()), want)
			})
		}
	}
}

// TestUnmarshalReusesTarget checks that decoding goes into the structs and
// maps the target holds, as with json.Unmarshal.
func TestUnmarshalReusesTarget(t *testing.T) {
	s := populatedSession()
	claims, headers, ext := s.Claims, s.Headers, s.Claims.Extra
	data, err := Marshal(loginSession())
	if err != nil {
		t.Fatal(err)
	}
	decode(t, data, s)
	if s.Claims != claims || s.Headers != headers {
		t.Error("Unmarshal replaced the claims or headers")
	}
	if ext["only-old"] != 1.0 || ext["azp"] != "app" {
		t.Errorf("ext not merged into the map that was there: %v", ext)
	}
}

// oddInputs are inputs Marshal does not write, which Unmarshal must decode
// as the reference does.
var oddInputs = []string{
	``,
	`null`,
	`[]`,
	`"x"`,
	`1`,
	`{`,
	`{}`,
	`{} {}`,
	`{}x`,
	" \t\r\n{ \"username\" : \"u\" , \"subject\":\"s\" } \n",
	`{"username":null,"subject":null}`,
	`{"username":1}`,
	`{"username":"a","username":"b"}`,
	`{"USERNAME":"a"}`,
	`{"user\u006eame":"escaped key"}`,
	`{"unknown":1}`,
	`{"id_token_claims":null,"headers":null,"expires_at":null}`,
	`{"id_token_claims":1}`,
	`{"id_token_claims":{"jti":null,"aud":null,"exp":null,"ext":null}}`,
	`{"id_token_claims":{"aud":[null,"x",null,null,null]}}`,
	`{"id_token_claims":{"amr":[null,null,null,null]}}`,
	`{"id_token_claims":{"aud":[1]}}`,
	`{"id_token_claims":{"aud":"x"}}`,
	`{"id_token_claims":{"aud":[]}}`,
	`{"id_token_claims":{"aud":["a",]}}`,
	`{"id_token_claims":{"jti":"a"},"id_token_claims":{"iss":"b"}}`,
	`{"id_token_claims":{"jti":"a","JTI":"b"}}`,
	`{"id_token_claims":{"exp":"2025-03-14T10:26:53Z"}}`,
	`{"id_token_claims":{"exp":"2025-03-14T10:26:53+00:00"}}`,
	`{"id_token_claims":{"exp":"2025-03-14T10:26:53.5-07:30"}}`,
	`{"id_token_claims":{"exp":"2025-03-14T10:26:53,5Z"}}`,
	`{"id_token_claims":{"exp":"2025-03-14T1:26:53Z"}}`,
	`{"id_token_claims":{"exp":"2025-03-14t10:26:53z"}}`,
	`{"id_token_claims":{"exp":"2025-03-14T10:26:53\u005a"}}`,
	`{"id_token_claims":{"exp":"10000-01-01T00:00:00Z"}}`,
	`{"id_token_claims":{"exp":1}}`,
	`{"id_token_claims":{"exp":{}}}`,
	`{"id_token_claims":{"ext":{"a":1,"a":{"b":2},"a":[3]}}}`,
	`{"id_token_claims":{"ext":{"n":-0,"e":1E+2,"f":-1.5e-3,"g":0.0}}}`,
	`{"id_token_claims":{"ext":{"n":1e400}}}`,
	`{"id_token_claims":{"ext":{"n":-1e400}}}`,
	`{"id_token_claims":{"ext":{"n":1e-400}}}`,
	`{"id_token_claims":{"ext":{"n":01}}}`,
	`{"id_token_claims":{"ext":{"n":1.}}}`,
	`{"id_token_claims":{"ext":{"n":.1}}}`,
	`{"id_token_claims":{"ext":{"n":-}}}`,
	`{"id_token_claims":{"ext":{"n":+1}}}`,
	`{"id_token_claims":{"ext":{"n":1e}}}`,
	`{"id_token_claims":{"ext":{"t":tru}}}`,
	`{"id_token_claims":{"ext":{"t":truex}}}`,
	`{"id_token_claims":{"ext":{"s":"\ud83d\ude00 \ud83d \ude00 \ud83dx \u00e9\"\\\/\b\f\n\r\t"}}}`,
	`{"id_token_claims":{"ext":{"s":"\x"}}}`,
	`{"id_token_claims":{"ext":{"s":"\u12"}}}`,
	"{\"id_token_claims\":{\"ext\":{\"s\":\"a\x01\"}}}",
	"{\"id_token_claims\":{\"ext\":{\"s\":\"\xff\xfe\xed\xa0\x80\xef\xbf\xbd\"}}}",
	"{\"id_token_claims\":{\"ext\":{\"\xff\":\"invalid key\"}}}",
	"{\"username\":\"\xc3\"}",
	`{"expires_at":{"access_token":"2025-03-14T10:26:53Z","access_token":null,"x":null}}`,
	`{"expires_at":{"a":"bad"}}`,
	`{"expires_at":[]}`,
	`{"headers":{"extra":{"alg":"ES256"},"extra":{}}}`,
	`{"headers":{"Extra":{}}}`,
	`{"headers":{}}`,
	`{"headers":[]}`,
	`{"id_token_claims":{"ext":` + strings.Repeat(`[`, maxDepth-3) + strings.Repeat(`]`, maxDepth-3) + `}}`,
	`{"id_token_claims":{"ext":{"a":` + strings.Repeat(`[`, maxDepth-2) + strings.Repeat(`]`, maxDepth-2) + `}}}`,
}

func TestUnmarshalOddInputs(t *testing.T) {
	for _, in := range oddInputs {
		name := in
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			checkUnmarshal(t, []byte(in))
		})
	}
}

// checkUnmarshal decodes data into each target with Unmarshal and with
// reference, and fails t unless both fail alike or give the same session.
// Into a zero session, it also compares with json.Unmarshal as is.
func checkUnmarshal(t *testing.T, data []byte) {
	t.Helper()
	zeroGot := &openid.DefaultSession{}
	zeroWant := &openid.DefaultSession{}
	compareDecoded(t, "zero target, json.Unmarshal", data,
		Unmarshal(data, zeroGot), zeroGot, json.Unmarshal(data, zeroWant), zeroWant)
	for _, target := range targets {
		got, want := target.new(), target.new()
		compareDecoded(t, target.name+" target", data, Unmarshal(data, got), got, reference(data, want), want)
	}
}

func compareDecoded(t *testing.T, what string, data []byte, errGot error, got *openid.DefaultSession, errWant error, want *openid.DefaultSession) {
	t.Helper()
	switch {
	case errGot == nil && errWant == nil:
		sameSession(t, what+": "+string(data), got, want)
	case errGot == nil || errWant == nil:
		t.Fatalf("%s: %q: Unmarshal: %v; reference: %v", what, data, errGot, errWant)
	case errGot.Error() != errWant.Error():
		t.Fatalf("%s: %q: errors differ:\n%v\n%v", what, data, errGot, errWant)
	}
}

// reference decodes data into s as Unmarshal must: like json.Unmarshal of
// data with every field it leaves out written as its zero value, which is
// json.Unmarshal after zeroing those fields. Data that Unmarshal hands to
// json.Unmarshal as it is (not an object; keys that do not spell a field
// exactly; a field given twice) reference decodes as it is too.
func reference(data []byte, s *openid.DefaultSession) error {
	if p, ok := presentFields(data); ok {
		zeroAbsent(reflect.ValueOf(s).Elem(), p.session)
		if p.claims != nil && s.Claims != nil {
			zeroAbsent(reflect.ValueOf(s.Claims).Elem(), p.claims)
		}
		if p.headers != nil && s.Headers != nil {
			zeroAbsent(reflect.ValueOf(s.Headers).Elem(), p.headers)
		}
	}
	return json.Unmarshal(data, s)
}

// fieldSet holds the JSON names of the fields present in a session's
// encoding, and in its claims and headers when they are objects.
type fieldSet struct {
	session, claims, headers map[string]bool
}

// presentFields returns the fields data holds, and false for data that is
// not an object, or has a key that is not the exact name of a field, or a
// field twice.
func presentFields(data []byte) (fieldSet, bool) {
	var p fieldSet
	var ok bool
	p.session, ok = objectKeys(data, reflect.TypeFor[openid.DefaultSession](), func(key string, val json.RawMessage) bool {
		var ok bool
		switch {
		case len(val) == 0 || val[0] != '{':
			return true
		case key == "id_token_claims":
			p.claims, ok = objectKeys(val, reflect.TypeFor[jwt.IDTokenClaims](), nil)
			return ok
		case key == "headers":
			p.headers, ok = objectKeys(val, reflect.TypeFor[jwt.Headers](), nil)
			return ok
		}
		return true
	})
	return p, ok
}

// objectKeys returns the keys of the object data, which must be fields of
// struct type t, each once; it calls check, if not nil, with each member.
func objectKeys(data []byte, t reflect.Type, check func(key string, val json.RawMessage) bool) (map[string]bool, bool) {
	names := jsonNames(t)
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	keys := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, isString := tok.(string)
		if !isString || !slices.Contains(names, key) || keys[key] {
			return nil, false
		}
		keys[key] = true
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, false
		}
		if check != nil && !check(key, val) {
			return nil, false
		}
	}
	return keys, true
}

func jsonNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// zeroAbsent zeroes the fields of struct v whose JSON names are not in
// present.
func zeroAbsent(v reflect.Value, present map[string]bool) {
	for i, name := range jsonNames(v.Type()) {
		if !present[name] {
			v.Field(i).SetZero()
		}
	}
}

// TestUnmarshalNilTarget checks that a nil target fails as with
// json.Unmarshal.
func TestUnmarshalNilTarget(t *testing.T) {
	err := Unmarshal([]byte(`{}`), nil)
	var invalid *json.InvalidUnmarshalError
	if !errors.As(err, &invalid) {
		t.Fatalf("Unmarshal into nil: %v", err)
	}
}

// TestUnmarshalLeavesTargetOnError checks that a failed decode leaves the
// target as json.Unmarshal would, which had it to itself.
func TestUnmarshalLeavesTargetOnError(t *testing.T) {
	data := []byte(`{"username":"new","id_token_claims":{"jti":"x","exp":"bad"}}`)
	got, want := populatedSession(), populatedSession()
	errGot, errWant := Unmarshal(data, got), json.Unmarshal(data, want)
	if errGot == nil || errWant == nil || errGot.Error() != errWant.Error() {
		t.Fatalf("errors: %v; %v", errGot, errWant)
	}
	sameSession(t, "after error", got, want)
}

// TestFastPath checks that the parser decodes what either encoder writes
// itself, without handing it to json.Unmarshal.
func TestFastPath(t *testing.T) {
	for _, data := range encodings(t) {
		for _, target := range targets {
			d := decoder{data: data, src: string(data)}
			var r result
			d.session(target.new(), &r)
			if d.bad {
				t.Errorf("%s target: the parser gave up on %s", target.name, data)
			}
		}
	}
}

// bothEncodings returns s encoded by Marshal and by json.Marshal (as an
// older version stored it).
func bothEncodings(t *testing.T, s *openid.DefaultSession) (data, old []byte) {
	t.Helper()
	data, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if old, err = json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	return data, old
}

// TestAppendObject compares AppendObject with json.Marshal byte for byte on
// the claim maps the provider writes and on odd values.
func TestAppendObject(t *testing.T) {
	type unknown struct {
		A string `json:"a"`
	}
	tests := []struct {
		name string
		m    map[string]any
	}{
		{"nil", nil},
		{"empty", map[string]any{}},
		{"token response", map[string]any{
			"access_token": "ory_at_AZryNQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.mac", "token_type": "bearer",
			"expires_in": int64(3599), "scope": "openid offline_access", "refresh_token": "ory_rt_x.y",
			"id_token": "eyJhbGciOiJFUzI1NiJ9.e30.sig",
		}},
		{"ID token claims", map[string]any{
			"iss": "https://auth.example.com", "sub": "0f1e2d3c", "aud": []string{"app"},
			"exp": int64(1796619333), "iat": int64(1796615733), "auth_time": int64(1796615700),
			"amr": []string{"pwd", "otp"}, "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
			"groups": []any{"admins", "users"}, "email_verified": true,
		}},
		{"escapes", map[string]any{"<&>": "a\u2028b\u2029\"\\\x01\xff</script>", "é": "ü"}},
		{"numbers", map[string]any{"f": 1e21, "g": 1e-7, "h": 0.1, "i": math.Copysign(0, -1), "n": json.Number("12.50"), "u": uint64(1 << 63), "f32": float32(3.14)}},
		{"nested", map[string]any{"address": map[string]any{"street_address": "1 Main St", "x": []any{nil, 1.5, map[string]any{}}}}},
		{"nil values", map[string]any{"a": nil, "b": []string(nil), "c": []any(nil), "d": map[string]any(nil)}},
		{"marshaled by encoding/json", map[string]any{"t": time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC), "s": unknown{"<x>"}, "p": &unknown{"y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendObject([]byte("prefix:"), tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix:"+string(want) {
				t.Errorf("AppendObject:\n got %s\nwant prefix:%s", got, want)
			}
		})
	}
}

// TestAppendObjectErrors: where json.Marshal fails AppendObject fails too,
// and leaves the buffer as it was.
func TestAppendObjectErrors(t *testing.T) {
	for _, m := range []map[string]any{
		{"nan": math.NaN()},
		{"ok": "x", "z": map[string]any{"inf": math.Inf(1)}},
		{"ch": make(chan int)},
		{"n": json.Number("1x")},
	} {
		if _, err := json.Marshal(m); err == nil {
			t.Fatalf("json.Marshal(%v) did not fail", m)
		}
		got, err := AppendObject([]byte("keep"), m)
		if err == nil {
			t.Errorf("AppendObject(%v) did not fail", m)
		}
		if string(got) != "keep" {
			t.Errorf("AppendObject(%v) left %q, want the buffer as it was", m, got)
		}
	}
}

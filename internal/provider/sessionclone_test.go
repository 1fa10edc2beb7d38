package provider

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
)

// claimValue is a claim of a type cloneJSONValue does not know: it takes
// the reflection path.
type claimValue struct {
	Rooms []string
	Floor *int
}

func fullSession() *openid.DefaultSession {
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	floor := 3
	return &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			JTI: "jti", Issuer: "https://id.example", Subject: "sub-1", Audience: []string{"app", "api"},
			Nonce: "n", ExpiresAt: at.Add(time.Hour), IssuedAt: at, RequestedAt: at, AuthTime: at,
			AccessTokenHash: "ath", AuthenticationContextClassReference: "acr",
			AuthenticationMethodsReferences: []string{"pwd", "otp"}, CodeHash: "ch",
			Extra: map[string]any{
				"name": "Alice", "email_verified": true, "age": float64(42), "n": int64(7),
				"big":     json.Number("12345678901234567890"),
				"groups":  []any{"admins", map[string]any{"id": "g1", "tags": []any{"x"}}},
				"amr":     []string{"pwd"},
				"address": map[string]any{"street_address": "1 Main St", "lines": []string{"a", "b"}},
				"office":  claimValue{Rooms: []string{"101"}, Floor: &floor},
				"none":    nil,
				"empty":   []any{},
				"nilmap":  map[string]any(nil),
			},
		},
		Headers:   &jwt.Headers{Extra: map[string]any{"kid": "k1", "x5c": []any{"c1"}}},
		ExpiresAt: map[fosite.TokenType]time.Time{fosite.AccessToken: at, fosite.RefreshToken: at.Add(time.Hour)},
		Username:  "alice",
		Subject:   "sub-1",
	}
}

// TestCloneSession: cloneSession gives what fosite's reflective Clone gives
// (nil and empty kept apart), and changing the copy anywhere leaves the
// original as it was.
func TestCloneSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *openid.DefaultSession
	}{
		{"every field", fullSession()},
		{"new default session", openid.NewDefaultSession()},
		{"no claims, headers or expiries", &openid.DefaultSession{Username: "bob"}},
		{"empty maps and slices", &openid.DefaultSession{
			Claims:    &jwt.IDTokenClaims{Audience: []string{}, AuthenticationMethodsReferences: []string{}, Extra: map[string]any{}},
			Headers:   &jwt.Headers{Extra: map[string]any{}},
			ExpiresAt: map[fosite.TokenType]time.Time{},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.s.Clone()
			got := cloneSession(tc.s)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("cloneSession differs from Clone:\n got %#v\nwant %#v", got, want)
			}
			before := tc.s.Clone()
			scribble(reflect.ValueOf(got).Elem())
			if !reflect.DeepEqual(tc.s, before) {
				t.Errorf("changing the copy changed the original:\n now %#v\nwas %#v", tc.s, before)
			}
		})
	}
	if cloneSession(nil) != nil {
		t.Error("cloneSession(nil) is not nil")
	}
}

// scribble changes every string, number, bool and time reachable from v,
// through pointers, slices, maps and interfaces.
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if v.Kind() == reflect.Interface {
			// A value in an interface cannot be set: scribble on a copy
			// only when it refers to memory the original could share.
			e := v.Elem()
			switch e.Kind() {
			case reflect.Map, reflect.Slice, reflect.Pointer:
				scribble(e)
			case reflect.Struct:
				for i := range e.NumField() {
					if f := e.Field(i); f.Kind() == reflect.Slice || f.Kind() == reflect.Pointer || f.Kind() == reflect.Map {
						scribble(f)
					}
				}
			}
			return
		}
		scribble(v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if v.CanSet() {
				v.Set(reflect.ValueOf(time.Unix(1, 0)))
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			e := v.Index(i)
			if e.Kind() == reflect.Interface && !e.IsNil() && e.Elem().Kind() == reflect.String {
				e.Set(reflect.ValueOf("scribbled"))
				continue
			}
			scribble(e)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := v.MapIndex(k)
			switch {
			case e.Kind() == reflect.Interface && !e.IsNil() && e.Elem().Kind() == reflect.String:
				v.SetMapIndex(k, reflect.ValueOf("scribbled"))
			case e.Kind() == reflect.Struct && e.Type() == reflect.TypeFor[time.Time]():
				v.SetMapIndex(k, reflect.ValueOf(time.Unix(1, 0)))
			default:
				scribble(e)
			}
		}
		if !v.IsNil() {
			v.SetMapIndex(reflect.ValueOf("added").Convert(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString("scribbled")
		}
	case reflect.Int, reflect.Int64:
		if v.CanSet() {
			v.SetInt(-1)
		}
	case reflect.Bool:
		if v.CanSet() {
			v.SetBool(!v.Bool())
		}
	}
}

// TestCloneSessionKnowsEveryReference fails when fosite's session types gain
// a field that refers to memory (a slice, map, pointer or interface) which
// cloneSession does not copy by name: the struct copy would share it.
func TestCloneSessionKnowsEveryReference(t *testing.T) {
	copied := map[reflect.Type][]string{
		reflect.TypeFor[openid.DefaultSession](): {"Claims", "Headers", "ExpiresAt"},
		reflect.TypeFor[jwt.IDTokenClaims]():     {"Audience", "AuthenticationMethodsReferences", "Extra"},
		reflect.TypeFor[jwt.Headers]():           {"Extra"},
	}
	for typ, names := range copied {
		for i := range typ.NumField() {
			f := typ.Field(i)
			switch f.Type.Kind() {
			case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
				continue
			case reflect.Struct:
				if f.Type == reflect.TypeFor[time.Time]() {
					continue
				}
			}
			known := false
			for _, n := range names {
				known = known || n == f.Name
			}
			if !known {
				t.Errorf("%s.%s (%s) is not copied by cloneSession", typ, f.Name, f.Type)
			}
		}
	}
}

// TestRefreshGrantClonesByHand: the provider's refresh grant handler reads
// grants through refreshGrantStorage (still transactional, so a rotation
// stays one transaction), whose sessions clone by hand into plain
// *openid.DefaultSession values.
func TestRefreshGrantClonesByHand(t *testing.T) {
	p := newBenchProvider(t)
	f, ok := p.oauth2.(*fosite.Fosite)
	if !ok {
		t.Fatalf("oauth2 provider is %T", p.oauth2)
	}
	var found bool
	for _, h := range f.Config.GetTokenEndpointHandlers(context.Background()) {
		if q, ok := h.(quietTokenHandler); ok {
			h = q.TokenEndpointHandler
		}
		rh, ok := h.(*oauth2.RefreshTokenGrantHandler)
		if !ok {
			continue
		}
		found = true
		if _, ok := rh.TokenRevocationStorage.(refreshGrantStorage); !ok {
			t.Errorf("refresh grant handler's storage is %T, want refreshGrantStorage", rh.TokenRevocationStorage)
		}
		if _, ok := rh.TokenRevocationStorage.(storage.Transactional); !ok {
			t.Error("refresh grant handler's storage is not transactional")
		}
	}
	if !found {
		t.Fatal("no refresh grant handler")
	}

	stored := fullSession()
	r := fosite.NewRequest()
	r.SetSession(stored)
	s := refreshGrantStorage{fakeRefreshStorage{r: r}}
	got, err := s.GetRefreshTokenSession(context.Background(), "sig", openid.NewDefaultSession())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.GetSession().(cloningSession); !ok {
		t.Fatalf("session is %T, want cloningSession", got.GetSession())
	}
	clone, ok := got.GetSession().Clone().(*openid.DefaultSession)
	if !ok || !reflect.DeepEqual(clone, stored) || clone == stored {
		t.Errorf("Clone = %#v, want a copy of %#v", got.GetSession().Clone(), stored)
	}
}

// fakeRefreshStorage returns r for any refresh token.
type fakeRefreshStorage struct {
	FositeStorage
	r fosite.Requester
}

func (s fakeRefreshStorage) GetRefreshTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return s.r, nil
}

package claims

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

func fullUser() *users.User {
	return &users.User{
		Username: "bob", FullName: "Bob Smith", Email: "bob@example.com",
		GivenName: "Bob", FamilyName: "Smith", MiddleName: "J", Nickname: "bobby",
		Profile: "https://example.com/bob", Picture: "https://example.com/bob.png", Website: "https://bob.example",
		Gender: "male", Birthdate: "1990-01-02", ZoneInfo: "Europe/Paris", Locale: "fr-FR",
		PhoneNumber: "+1 555 0100", PhoneExtension: "42",
		Address:   &users.Address{StreetAddress: "1 Main St", Locality: "Springfield", Country: "US"},
		UpdatedAt: time.Unix(1700000000, 0),
	}
}

func TestStandardScopes(t *testing.T) {
	set := testSet(t)
	js := func(m map[string]any) string { b, _ := json.Marshal(m); return string(b) }
	for _, tc := range []struct {
		scopes []string
		want   string
	}{
		{[]string{"openid", "profile"}, `{"birthdate":"1990-01-02","family_name":"Smith","gender":"male","given_name":"Bob","locale":"fr-FR","middle_name":"J","name":"Bob Smith","nickname":"bobby","picture":"https://example.com/bob.png","preferred_username":"bob","profile":"https://example.com/bob","updated_at":1700000000,"website":"https://bob.example","zoneinfo":"Europe/Paris"}`},
		{[]string{"openid", "phone"}, `{"phone_number":"+1 555 0100;ext=42","phone_number_verified":false}`},
		{[]string{"openid", "address"}, `{"address":{"country":"US","locality":"Springfield","street_address":"1 Main St"}}`},
		{[]string{"openid"}, `{}`},
	} {
		if got := js(set.Released(nil, fullUser(), tc.scopes)); got != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.scopes, got, tc.want)
		}
	}
	// A user without the optional attributes gets only what exists.
	bare := &users.User{Username: "carol"}
	if got, want := js(set.Released(nil, bare, []string{"profile", "phone", "address"})), `{"name":"carol","preferred_username":"carol"}`; got != want {
		t.Errorf("bare user: %s, want %s", got, want)
	}
	// Without an extension, the number is as written.
	u := fullUser()
	u.PhoneExtension = ""
	if got := set.Released(nil, u, []string{"phone"})["phone_number"]; got != "+1 555 0100" {
		t.Errorf("phone_number without extension = %v", got)
	}
}

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct{ raw, err string }{
		{``, ""},
		{`{"id_token":{"email":{"essential":true},"name":null}}`, ""},
		{`{"userinfo":{"acr":{"values":["2"]}}}`, ""},
		{`not json`, "not a JSON object"},
		{`[1]`, "not a JSON object"},
		{`{"id_token":{"email":{"essential":"yes"}}}`, "not a JSON object"},
		{`{} {}`, "data after"},
	} {
		_, err := ParseRequest(tc.raw)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseRequest(%q) = %v, want %q", tc.raw, err, tc.err)
		}
	}
}

func TestClaimsRequest(t *testing.T) {
	set := testSet(t)
	req, err := ParseRequest(`{"id_token":{"email":{"essential":true},"locale":{"value":"de-DE"},"given_name":null,"phone_number":{"essential":true},"acr":{"essential":true,"values":["2","urn:x"]}},"userinfo":{"address":{"essential":true},"website":null}}`)
	if err != nil {
		t.Fatal(err)
	}
	// Essential claims bring their scopes (the client's only), once.
	allowed := []string{"openid", "profile", "email", "address"}
	if got := strings.Join(set.EssentialScopes(req, allowed, []string{"openid"}), " "); got != "email address" {
		t.Errorf("EssentialScopes = %q, want email address (phone is not the client's)", got)
	}
	if got := set.EssentialScopes(req, allowed, []string{"openid", "email", "address"}); len(got) != 0 {
		t.Errorf("EssentialScopes with the scopes requested = %v", got)
	}
	// The ID token gets requested claims that the granted scopes release
	// and whose value matches: not locale (fr-FR is not de-DE), not
	// phone_number (phone not granted).
	got := set.RequestedIDToken(&Policy{IDToken: []string{}}, fullUser(), []string{"openid", "profile", "email"}, req)
	b, _ := json.Marshal(got)
	if want := `{"email":"bob@example.com","given_name":"Bob"}`; string(b) != want {
		t.Errorf("RequestedIDToken = %s, want %s", b, want)
	}
	values, essential := req.ACR()
	if strings.Join(values, " ") != "2 urn:x" || !essential {
		t.Errorf("ACR = %v %v", values, essential)
	}
	if v, e := (*Request)(nil).ACR(); v != nil || e {
		t.Errorf("nil ACR = %v %v", v, e)
	}
}

func TestClaimRequestMatches(t *testing.T) {
	for _, tc := range []struct {
		req   *ClaimRequest
		value any
		want  bool
	}{
		{nil, "x", true},
		{&ClaimRequest{Essential: true}, "x", true},
		{&ClaimRequest{Value: "x"}, "x", true},
		{&ClaimRequest{Value: "x"}, "y", false},
		{&ClaimRequest{Values: []any{"a", "b"}}, "b", true},
		{&ClaimRequest{Values: []any{"a", "b"}}, "c", false},
		{&ClaimRequest{Value: float64(7)}, 7, true}, // JSON numbers against ints from YAML
		{&ClaimRequest{Value: true}, true, true},
	} {
		if got := tc.req.Matches(tc.value); got != tc.want {
			t.Errorf("%+v.Matches(%v) = %v", tc.req, tc.value, got)
		}
	}
}

func TestRequestSubject(t *testing.T) {
	for raw, want := range map[string]string{
		``:                                     "",
		`{"id_token":{"sub":{"value":"abc"}}}`: "abc",
		`{"userinfo":{"sub":{"value":"def"}}}`: "def",
		`{"id_token":{"sub":null}}`:            "",
		`{"id_token":{"sub":{"value":7}}}`:     "", // not a subject
	} {
		req, err := ParseRequest(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := req.Subject(); got != want {
			t.Errorf("%s: Subject = %q, want %q", raw, got, want)
		}
	}
}

package claims

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// testSet is the package's test fixture: two policies and a custom scope.
func testSet(t *testing.T) *Set {
	t.Helper()
	s, err := New(map[string]Policy{
		"hr":   {IDToken: []string{"name", "employee_id"}, CustomClaims: map[string]string{"employee_id": "", "team": "department", "nested": ""}},
		"none": {IDToken: []string{}},
	}, map[string]Scope{"hr": {Claims: []string{"employee_id", "team", "nested", "locale", "address"}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReleasedClaims(t *testing.T) {
	set := testSet(t)
	hr, err := set.Policy("hr")
	if err != nil {
		t.Fatal(err)
	}
	none, err := set.Policy("none")
	if err != nil {
		t.Fatal(err)
	}
	u := &users.User{
		Username: "alice", FullName: "Alice", Email: "alice@example.com", Locale: "de-CH",
		Address: &users.Address{Locality: "Bern", Country: "CH"},
		// As users.Lookup returns it: JSON-safe (the users package turns YAML's
		// map[any]any into map[string]any; tested there).
		Extra: map[string]any{"employee_id": 7, "department": "ops", "nested": map[string]any{"a": []any{1, map[string]any{"2": "b"}}}},
	}
	scopes := []string{"openid", "profile", "email", "hr"}
	js := func(m map[string]any) string { b, _ := json.Marshal(m); return string(b) }

	if got, want := js(set.Released(hr, u, scopes)), `{"address":{"country":"CH","locality":"Bern"},"email":"alice@example.com","email_verified":true,"employee_id":7,"locale":"de-CH","name":"Alice","nested":{"a":[1,{"2":"b"}]},"preferred_username":"alice","team":"ops"}`; got != want {
		t.Errorf("released to hr-app:\n got %s\nwant %s", got, want)
	}
	if got, want := js(set.IDToken(hr, u, scopes)), `{"employee_id":7,"name":"Alice"}`; got != want {
		t.Errorf("hr-app ID token: %s, want %s", got, want)
	}
	if got := js(set.IDToken(none, u, scopes)); got != `{}` {
		t.Errorf("none-app ID token: %s", got)
	}
	// Without a policy: standard claims of the custom scope, no custom ones,
	// all in the ID token.
	if got, want := js(set.IDToken(nil, u, scopes)), `{"address":{"country":"CH","locality":"Bern"},"email":"alice@example.com","email_verified":true,"locale":"de-CH","name":"Alice","preferred_username":"alice"}`; got != want {
		t.Errorf("app ID token:\n got %s\nwant %s", got, want)
	}
	if got := set.AccessToken(hr, u, scopes); got != nil {
		t.Errorf("access token claims without an access_token list: %v", got)
	}
	if got, want := strings.Join(set.ClaimsSupported(), " "), "address employee_id locale nested team"; got != want {
		t.Errorf("ClaimsSupported = %q, want %q", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policies map[string]Policy
		scopes   map[string]Scope
		want     string
	}{
		{"reserved custom claim", map[string]Policy{"p": {CustomClaims: map[string]string{"iss": ""}}}, nil, `claims_policies "p": custom_claims: "iss" is a protocol claim`},
		{"custom claim shadowing a standard one", map[string]Policy{"p": {CustomClaims: map[string]string{"email": "username"}}}, nil, `"email" is a standard claim`},
		{"unknown claim in access_token", map[string]Policy{"p": {AccessToken: []string{"shoe_size"}}}, nil, `claims_policies "p": access_token: "shoe_size"`},
		{"built-in scope", nil, map[string]Scope{"email": {Claims: []string{"locale"}}}, `scopes "email": a built-in scope`},
		{"scope without claims", nil, map[string]Scope{"x": {}}, `scopes "x": claims: at least one`},
		{"scope with a space", nil, map[string]Scope{"a b": {Claims: []string{"locale"}}}, `"a b" is not a valid scope name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.policies, tc.scopes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

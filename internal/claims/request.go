package claims

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// Request is the claims request parameter (OpenID Connect Core 5.5): the
// claims a client asks for, by name, in the ID token and at userinfo.
type Request struct {
	IDToken  map[string]*ClaimRequest `json:"id_token,omitempty"`
	UserInfo map[string]*ClaimRequest `json:"userinfo,omitempty"`
}

// ClaimRequest is how one claim is asked for; nil (JSON null) is a
// voluntary claim with any value.
type ClaimRequest struct {
	// Essential claims bring the scope that releases them into the
	// request (the user consents to it); voluntary ones are released only
	// when their scope is granted.
	Essential bool `json:"essential,omitempty"`
	// Value or Values restrict the claim: it is released by the request
	// only when the user's value is that one, or one of those.
	Value  any   `json:"value,omitempty"`
	Values []any `json:"values,omitempty"`
}

// ParseRequest parses the claims parameter; nil for an empty one. The
// error is for the client (invalid_request).
func ParseRequest(raw string) (*Request, error) {
	if raw == "" {
		return nil, nil
	}
	var r Request
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("the claims parameter is not a JSON object of id_token and userinfo requests: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("the claims parameter has data after its JSON object")
	}
	return &r, nil
}

// Matches reports whether value satisfies the request's value or values
// (compared as JSON); any value does when neither is given.
func (c *ClaimRequest) Matches(value any) bool {
	if c == nil || (c.Value == nil && len(c.Values) == 0) {
		return true
	}
	got, err := json.Marshal(value)
	if err != nil {
		return false
	}
	for _, want := range append([]any{c.Value}, c.Values...) {
		if want == nil {
			continue
		}
		if w, err := json.Marshal(want); err == nil && bytes.Equal(w, got) {
			return true
		}
	}
	return false
}

// ScopesReleasing lists the scopes that release claim: the standard
// scopes and the custom ones.
func (s *Set) ScopesReleasing(claim string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(StandardScopeClaims)) {
		if slices.Contains(StandardScopeClaims[name], claim) {
			out = append(out, name)
		}
	}
	for _, name := range s.ScopeNames() {
		if slices.Contains(s.scopes[name].Claims, claim) {
			out = append(out, name)
		}
	}
	return out
}

// EssentialScopes returns the scopes, among allowed (the client's) and not
// already in requested, that release the claims r asks for as essential,
// in the ID token or at userinfo. The provider adds them to the request,
// so that the user consents to them and they are granted.
func (s *Set) EssentialScopes(r *Request, allowed, requested []string) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, m := range []map[string]*ClaimRequest{r.IDToken, r.UserInfo} {
		for _, claim := range slices.Sorted(maps.Keys(m)) {
			if m[claim] == nil || !m[claim].Essential {
				continue
			}
			scopes := s.ScopesReleasing(claim)
			if slices.ContainsFunc(scopes, func(sc string) bool { return slices.Contains(requested, sc) || slices.Contains(out, sc) }) {
				continue // already asked for
			}
			for _, sc := range scopes {
				if slices.Contains(allowed, sc) {
					out = append(out, sc)
					break
				}
			}
		}
	}
	return out
}

// RequestedIDToken are the claims r asks for in the ID token that the
// granted scopes release under policy pol and whose value the request
// accepts: they go into the ID token even when the claims policy's
// id_token list leaves them out.
func (s *Set) RequestedIDToken(pol *Policy, u *users.User, scopes []string, r *Request) map[string]any {
	out := map[string]any{}
	if r == nil || len(r.IDToken) == 0 {
		return out
	}
	released := s.Released(pol, u, scopes)
	for claim, req := range r.IDToken {
		if v, ok := released[claim]; ok && req.Matches(v) {
			out[claim] = v
		}
	}
	return out
}

// Subject returns the sub value the request asks for (OpenID Connect Core
// 5.5.1: only that user may be signed in); "" when none.
func (r *Request) Subject() string {
	if r == nil {
		return ""
	}
	for _, m := range []map[string]*ClaimRequest{r.IDToken, r.UserInfo} {
		if c := m["sub"]; c != nil {
			if s, ok := c.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// ACR returns the acr values the request asks for (value and values, in
// the ID token or at userinfo) and whether one of them must be met.
func (r *Request) ACR() (values []string, essential bool) {
	if r == nil {
		return nil, false
	}
	for _, m := range []map[string]*ClaimRequest{r.IDToken, r.UserInfo} {
		c := m["acr"]
		if c == nil {
			continue
		}
		essential = essential || c.Essential
		for _, v := range append([]any{c.Value}, c.Values...) {
			if s, ok := v.(string); ok && !slices.Contains(values, s) {
				values = append(values, s)
			}
		}
	}
	return values, essential
}

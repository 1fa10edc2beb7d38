package storetest

// Fixtures of the fosite storage tests: clients, requests and sessions to
// store, how a stored request is compared with the original, and the kinds of
// request storage that share one behaviour.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// Clients is a clients function over a fixed set of public client IDs,
// standing for one configuration.
func Clients(ids ...string) func(context.Context, string) (fosite.Client, error) {
	m := make(map[string]fosite.Client, len(ids))
	for _, id := range ids {
		m[id] = &fosite.DefaultClient{
			ID:            id,
			Public:        true,
			RedirectURIs:  []string{"https://app.example/cb"},
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"},
			Scopes:        []string{"openid", "offline", "email"},
		}
	}
	return func(_ context.Context, id string) (fosite.Client, error) {
		if c, ok := m[id]; ok {
			return c, nil
		}
		return nil, fosite.ErrNotFound
	}
}

func newSession() *openid.DefaultSession { return openid.NewDefaultSession() }

var testNow = time.Now().UTC()

// NewRequest is a fully populated requester for client "c", including
// form values that must not be stored.
func NewRequest(id string) *fosite.Request { return newTestRequest(id) }

func newTestRequest(id string) *fosite.Request {
	sess := newSession()
	sess.Subject = "3f0a2c4e-sub"
	sess.Username = "alice"
	sess.Claims.Subject = "3f0a2c4e-sub"
	sess.Claims.Issuer = "https://auth.example"
	sess.Claims.Nonce = "nonce-0123456789"
	sess.Claims.AuthTime = testNow.Add(-time.Minute).Truncate(time.Second)
	sess.Claims.AuthenticationMethodsReferences = []string{"pwd", "otp"}
	sess.Claims.Extra = map[string]any{
		"email":          "alice@example.com",
		"email_verified": true,
		"groups":         []any{"admins", "users"},
	}
	for i, tt := range []fosite.TokenType{fosite.AuthorizeCode, fosite.AccessToken, fosite.RefreshToken, fosite.PushedAuthorizeRequestContext} {
		sess.SetExpiresAt(tt, testNow.Add(time.Duration(i+1)*time.Hour).Round(time.Second))
	}
	return &fosite.Request{
		ID:                id,
		RequestedAt:       testNow,
		Client:            &fosite.DefaultClient{ID: "c"},
		RequestedScope:    fosite.Arguments{"openid", "offline", "email"},
		GrantedScope:      fosite.Arguments{"openid", "offline"},
		RequestedAudience: fosite.Arguments{"https://api.example"},
		GrantedAudience:   fosite.Arguments{"https://api.example"},
		Form: url.Values{
			"redirect_uri":   {"https://app.example/cb"},
			"nonce":          {"nonce-0123456789"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
			"scope":          {"openid offline email"},
			"password":       {"hunter2"},
			"client_secret":  {"s3cret"},
			"code_verifier":  {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
		},
		Session: sess,
	}
}

func newTestAuthorizeRequest(id string) *fosite.AuthorizeRequest {
	ar := fosite.NewAuthorizeRequest()
	ar.Request = *newTestRequest(id)
	ar.ResponseTypes = fosite.Arguments{"code"}
	ar.RedirectURI, _ = url.Parse("https://app.example/cb?x=1")
	ar.State = "state-0123456789"
	ar.ResponseMode = fosite.ResponseModeQuery
	ar.DefaultResponseMode = fosite.ResponseModeQuery
	return ar
}

// storedForm is what newTestRequest's form becomes once stored.
var storedForm = url.Values{
	"redirect_uri":   {"https://app.example/cb"},
	"nonce":          {"nonce-0123456789"},
	"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
	"scope":          {"openid offline email"},
}

// HashKey is the stored form of a key that is a credential (hex SHA-256),
// as the store computes it.
func HashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func isNotFound(err error) bool {
	return errors.Is(err, fosite.ErrNotFound) || errors.Is(err, store.ErrNotFound)
}

func isInactive(err error) bool { return errors.Is(err, fosite.ErrInactiveToken) }

// defaultSession returns s as the session type the tests store, or fails
// the test.
func defaultSession(t *testing.T, s fosite.Session) *openid.DefaultSession {
	t.Helper()
	ds, ok := s.(*openid.DefaultSession)
	if !ok {
		t.Fatalf("session is %T", s)
	}
	return ds
}

// checkRequest compares a loaded requester with the stored one.
func checkRequest(t *testing.T, got fosite.Requester, want *fosite.Request) {
	t.Helper()
	if got == nil {
		t.Fatal("requester is nil")
	}
	if got.GetID() != want.ID {
		t.Errorf("ID = %q, want %q", got.GetID(), want.ID)
	}
	if !got.GetRequestedAt().Equal(want.RequestedAt) {
		t.Errorf("RequestedAt = %v, want %v", got.GetRequestedAt(), want.RequestedAt)
	}
	if got.GetClient() == nil || got.GetClient().GetID() != want.Client.GetID() {
		t.Errorf("client = %v, want %q", got.GetClient(), want.Client.GetID())
	}
	for _, l := range []struct {
		name      string
		got, want fosite.Arguments
	}{
		{"requested scopes", got.GetRequestedScopes(), want.RequestedScope},
		{"granted scopes", got.GetGrantedScopes(), want.GrantedScope},
		{"requested audience", got.GetRequestedAudience(), want.RequestedAudience},
		{"granted audience", got.GetGrantedAudience(), want.GrantedAudience},
	} {
		if !slices.Equal(l.got, l.want) {
			t.Errorf("%s = %v, want %v", l.name, l.got, l.want)
		}
	}
	if !reflect.DeepEqual(got.GetRequestForm(), storedForm) {
		t.Errorf("form = %v, want %v", got.GetRequestForm(), storedForm)
	}

	gs, ws := defaultSession(t, got.GetSession()), defaultSession(t, want.Session)
	if gs.Subject != ws.Subject || gs.Username != ws.Username {
		t.Errorf("session subject/username = %q/%q, want %q/%q", gs.Subject, gs.Username, ws.Subject, ws.Username)
	}
	gc, wc := gs.Claims, ws.Claims
	if gc.Subject != wc.Subject || gc.Nonce != wc.Nonce || gc.Issuer != wc.Issuer {
		t.Errorf("claims sub/nonce/iss = %q/%q/%q, want %q/%q/%q", gc.Subject, gc.Nonce, gc.Issuer, wc.Subject, wc.Nonce, wc.Issuer)
	}
	if !gc.AuthTime.Equal(wc.AuthTime) {
		t.Errorf("auth_time = %v, want %v", gc.AuthTime, wc.AuthTime)
	}
	if !slices.Equal(gc.AuthenticationMethodsReferences, wc.AuthenticationMethodsReferences) {
		t.Errorf("amr = %v, want %v", gc.AuthenticationMethodsReferences, wc.AuthenticationMethodsReferences)
	}
	if !reflect.DeepEqual(gc.Extra, wc.Extra) {
		t.Errorf("extra claims = %#v, want %#v", gc.Extra, wc.Extra)
	}
	for _, tt := range []fosite.TokenType{fosite.AuthorizeCode, fosite.AccessToken, fosite.RefreshToken} {
		if g, w := gs.GetExpiresAt(tt), ws.GetExpiresAt(tt); !g.Equal(w) {
			t.Errorf("expiry of %s = %v, want %v", tt, g, w)
		}
	}
}

// storageKind is one requester table seen through fosite's interface.
type storageKind struct {
	name   string
	create func(ctx context.Context, key string, r fosite.Requester) error
	get    func(ctx context.Context, key string, s fosite.Session) (fosite.Requester, error)
	del    func(ctx context.Context, key string) error // nil: no delete
}

func storageKinds(f *store.Fosite) []storageKind {
	return []storageKind{
		{"authorize code", f.CreateAuthorizeCodeSession, f.GetAuthorizeCodeSession, nil},
		{"access token", f.CreateAccessTokenSession, f.GetAccessTokenSession, f.DeleteAccessTokenSession},
		{
			"refresh token",
			func(ctx context.Context, key string, r fosite.Requester) error {
				return f.CreateRefreshTokenSession(ctx, key, "at-"+key, r)
			},
			f.GetRefreshTokenSession, f.DeleteRefreshTokenSession,
		},
		{"pkce", f.CreatePKCERequestSession, f.GetPKCERequestSession, f.DeletePKCERequestSession},
		{
			"openid connect",
			f.CreateOpenIDConnectSession,
			func(ctx context.Context, key string, s fosite.Session) (fosite.Requester, error) {
				return f.GetOpenIDConnectSession(ctx, key, &fosite.Request{Session: s})
			},
			f.DeleteOpenIDConnectSession,
		},
	}
}

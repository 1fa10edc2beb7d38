package provider

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
)

// recordingHandler is a token endpoint handler that takes the grant types
// in takes and records whether its PopulateTokenEndpointResponse ran.
type recordingHandler struct {
	takes     string
	populated bool
}

func (h *recordingHandler) PopulateTokenEndpointResponse(context.Context, fosite.AccessRequester, fosite.AccessResponder) error {
	h.populated = true
	return nil
}

func (h *recordingHandler) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return nil
}

func (h *recordingHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

func (h *recordingHandler) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(h.takes)
}

func TestQuietTokenHandlers(t *testing.T) {
	for _, tc := range []struct {
		name, takes, grant string
		wantPopulated      bool
	}{
		{"the handler's grant", "client_credentials", "client_credentials", true},
		{"another grant", "refresh_token", "client_credentials", false},
		{"no grant", "authorization_code", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &recordingHandler{takes: tc.takes}
			quiet := quietTokenHandlers(fosite.TokenEndpointHandlers{h})[0]
			r := fosite.NewAccessRequest(nil)
			if tc.grant != "" {
				r.GrantTypes = fosite.Arguments{tc.grant}
			}
			err := quiet.PopulateTokenEndpointResponse(context.Background(), r, fosite.NewAccessResponse())
			if h.populated != tc.wantPopulated {
				t.Errorf("populated = %v, want %v", h.populated, tc.wantPopulated)
			}
			if tc.wantPopulated && err != nil {
				t.Errorf("error %v, want none", err)
			}
			if !tc.wantPopulated && !errors.Is(err, fosite.ErrUnknownRequest) {
				t.Errorf("error %v, want fosite.ErrUnknownRequest", err)
			}
		})
	}
}

// TestExplicitHandlerHandlesNothing pins what quietTokenHandler's
// HandleTokenEndpointRequest assumes of fosite's OpenID Connect explicit
// handler: for a code exchange it changes nothing and answers
// fosite.ErrUnknownRequest. A fosite version that does more there fails
// this test, and the shortcut must go.
func TestExplicitHandlerHandlesNothing(t *testing.T) {
	r := fosite.NewAccessRequest(&openid.DefaultSession{})
	r.GrantTypes = fosite.Arguments{"authorization_code"}
	r.Form.Set("code", "a-code")
	before := *r
	explicit := &openid.OpenIDConnectExplicitHandler{}
	if !explicit.CanHandleTokenEndpointRequest(context.Background(), r) {
		t.Fatal("fosite's explicit handler no longer takes code exchanges")
	}
	if err := explicit.HandleTokenEndpointRequest(context.Background(), r); !errors.Is(err, fosite.ErrUnknownRequest) {
		t.Errorf("fosite's explicit handler answers %v, want fosite.ErrUnknownRequest", err)
	}
	if r.ID != before.ID || len(r.GrantedScope) != 0 || r.Session != before.Session {
		t.Errorf("fosite's explicit handler changed the request: %+v", r)
	}

	quiet := quietTokenHandlers(fosite.TokenEndpointHandlers{explicit})[0]
	if err := quiet.HandleTokenEndpointRequest(context.Background(), r); err != fosite.ErrUnknownRequest { //nolint:errorlint // the bare error, no stack
		t.Errorf("quiet explicit handler answers %#v, want the bare fosite.ErrUnknownRequest", err)
	}
	other := &recordingHandler{takes: "authorization_code"}
	if err := quietTokenHandlers(fosite.TokenEndpointHandlers{other})[0].HandleTokenEndpointRequest(context.Background(), r); err != nil {
		t.Errorf("another handler's answer %v, want its own (nil)", err)
	}
}

package provider

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"
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

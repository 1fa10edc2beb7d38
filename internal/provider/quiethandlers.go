package provider

import (
	"context"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
)

// quietTokenHandler calls a token endpoint handler's
// PopulateTokenEndpointResponse only for the requests the handler takes.
//
// fosite calls every token endpoint handler's PopulateTokenEndpointResponse
// for every token request, and each one that does not handle the grant type
// answers errorsx.WithStack(fosite.ErrUnknownRequest), collecting a stack
// trace: five of them per client_credentials request, 8% of its CPU in a
// profile. For those the wrapper answers the bare fosite.ErrUnknownRequest,
// which fosite skips just the same (errors.Is). Every handler fosite and
// this package compose answers ErrUnknownRequest, or nil without doing
// anything (PKCE), for a request its CanHandleTokenEndpointRequest refuses.
type quietTokenHandler struct {
	fosite.TokenEndpointHandler
}

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler.
func (h quietTokenHandler) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return h.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, r, resp)
}

// HandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
//
// fosite's OpenID Connect explicit handler takes every code exchange
// (CanHandleTokenEndpointRequest) and does its work in
// PopulateTokenEndpointResponse; its HandleTokenEndpointRequest does
// nothing but answer errorsx.WithStack(fosite.ErrUnknownRequest), which
// fosite skips. That stack trace cost about 16 000 instructions per
// exchange, 1% of a code flow's (bench/instructions.sh CodeFlow/ES256).
// The wrapper answers the bare error for that handler, and asks every other
// one (TestExplicitHandlerHandlesNothing checks fosite still does nothing
// there).
func (h quietTokenHandler) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if _, ok := h.TokenEndpointHandler.(*openid.OpenIDConnectExplicitHandler); ok {
		return fosite.ErrUnknownRequest
	}
	return h.TokenEndpointHandler.HandleTokenEndpointRequest(ctx, r)
}

// quietTokenHandlers wraps each handler in a quietTokenHandler.
func quietTokenHandlers(hs fosite.TokenEndpointHandlers) fosite.TokenEndpointHandlers {
	out := make(fosite.TokenEndpointHandlers, len(hs))
	for i, h := range hs {
		out[i] = quietTokenHandler{h}
	}
	return out
}

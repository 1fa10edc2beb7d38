package provider

import (
	"github.com/ory/fosite"
)

// checkResponseTypeAndMode refuses, before any page is shown, what fosite
// would refuse only after the user signed in and consented: tokens in the
// query, a form_post to a redirect URI a form cannot post to, and an ID
// token from the authorization endpoint without the openid scope, a nonce
// (OpenID Connect Core 3.2.2.1, 3.3.2.11) or the redirect_uri parameter.
func checkResponseTypeAndMode(ar fosite.AuthorizeRequester) error {
	types, form := ar.GetResponseTypes(), ar.GetRequestForm()
	codeOnly := types.ExactOne("code")
	switch mode := ar.GetResponseMode(); {
	case !codeOnly && mode == fosite.ResponseModeQuery:
		return fosite.ErrUnsupportedResponseMode.WithHintf("The response_mode 'query' cannot carry the tokens of response_type '%s'; use fragment or form_post.", form.Get("response_type"))
	case mode == fosite.ResponseModeFormPost && !canFormPost(ar.GetRedirectURI()):
		return fosite.ErrUnsupportedResponseMode.WithHint("The response_mode 'form_post' needs an http or https redirect_uri.")
	}
	if types.Has("id_token") {
		switch {
		case !ar.GetRequestedScopes().Has("openid"):
			return fosite.ErrInvalidScope.WithHint("The response_type 'id_token' needs the 'openid' scope.")
		case form.Get("nonce") == "":
			return fosite.ErrInvalidRequest.WithHint("Parameter 'nonce' must be set when requesting an ID Token from the authorization endpoint (implicit and hybrid flows).")
		}
	}
	if !codeOnly && ar.GetRequestedScopes().Has("openid") && form.Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter is required when using OpenID Connect 1.0.")
	}
	return nil
}

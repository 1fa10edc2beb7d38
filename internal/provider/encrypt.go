package provider

import (
	"context"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// encryptingIDTokens nests the ID tokens of clients with
// id_token_encrypted_response_alg in a JWE to their key, wherever fosite
// issues one (token endpoint, implicit and hybrid flows, refresh).
type encryptingIDTokens struct {
	openid.OpenIDConnectTokenStrategy
	p *Provider
}

func (s *encryptingIDTokens) GenerateIDToken(ctx context.Context, lifespan time.Duration, requester fosite.Requester) (string, error) {
	restore := hideSessionJKT(requester) // the DPoP binding is no ID token claim (dpop.go)
	token, err := s.OpenIDConnectTokenStrategy.GenerateIDToken(ctx, lifespan, requester)
	restore()
	if err != nil {
		return "", err
	}
	c, ok := requester.GetClient().(*clients.Client)
	if !ok || c.IDTokenEncryption().Alg == "" {
		return token, nil
	}
	jwe, err := s.p.clientAuth.Encrypt(ctx, c, c.IDTokenEncryption(), []byte(token), true)
	if err != nil {
		return "", fosite.ErrServerError.WithHint("The ID token could not be encrypted to the client's key.").WithWrap(err).WithDebug(err.Error())
	}
	return jwe, nil
}

// encryptionDiscovery lists the encryption algorithms.
func encryptionDiscovery(doc map[string]any) {
	for _, kind := range []string{"id_token", "userinfo", "authorization"} {
		doc[kind+"_encryption_alg_values_supported"] = clients.EncryptionAlgs
		doc[kind+"_encryption_enc_values_supported"] = clients.EncryptionEncs
	}
}

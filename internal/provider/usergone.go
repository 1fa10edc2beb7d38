package provider

import (
	"context"
	"errors"

	"github.com/ory/fosite"
	"go.uber.org/zap"
)

// revokeOfGoneUser revokes the grant of a refresh token that was refused
// because its user is gone (deleted, or disabled in the user database):
// the user loses the tokens for good, even if enabled again later.
func (p *Provider) revokeOfGoneUser(ctx context.Context, ar fosite.AccessRequester, err error) {
	if !errors.Is(err, fosite.ErrInvalidGrant) {
		return
	}
	fields := []zap.Field{zap.String("client_id", ar.GetClient().GetID())}
	if rerr := p.storage.RevokeRefreshToken(ctx, ar.GetID()); rerr != nil {
		p.log.Error("revoking the grant of a user who is gone", append(fields, zap.Error(rerr))...)
		return
	}
	if rerr := p.storage.RevokeAccessToken(ctx, ar.GetID()); rerr != nil {
		p.log.Error("revoking the grant of a user who is gone", append(fields, zap.Error(rerr))...)
		return
	}
	p.log.Info("grant revoked: its user is gone or disabled", fields...)
}

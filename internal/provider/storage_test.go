package provider

import (
	"github.com/ory/fosite/handler/oauth2"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/pages"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// The SQL store and its fosite adapter satisfy the interfaces the engine
// declares.
var (
	_ Subjects                                            = (*store.DB)(nil)
	_ pages.Store                                         = (*store.DB)(nil)
	_ FositeStorage                                       = (*store.Fosite)(nil)
	_ clients.JTIStore                                    = (*store.Fosite)(nil)
	_ oauth2.ResourceOwnerPasswordCredentialsGrantStorage = passwordStorage{}
)

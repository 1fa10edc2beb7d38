package clients

import (
	"slices"
	"strings"
)

// Warnings returns what is valid in cfg but probably not what its author
// meant, one sentence each, naming the option. The caller logs them with
// the client ID when the config loads.
func Warnings(cfg Config) []string {
	var w []string
	offline := slices.Contains(cfg.Scopes, "offline_access") || slices.Contains(cfg.Scopes, "offline")
	if slices.Contains(cfg.GrantTypes, GrantRefreshToken) && !offline {
		// As in Authelia, refresh tokens are only issued for the
		// offline_access scope, which the client must be allowed to ask for.
		w = append(w, "grant_types: refresh_token is listed but scopes lacks offline_access, so no refresh token is ever issued; add offline_access to scopes (and have the app request it)")
	}
	if offline && len(cfg.GrantTypes) > 0 && !slices.Contains(cfg.GrantTypes, GrantRefreshToken) {
		w = append(w, "scopes: offline_access is listed but grant_types lacks refresh_token, so the refresh token cannot be used; add refresh_token to grant_types")
	}
	if single := SplitResponseTypes(cfg.ResponseTypes); len(single) > 0 {
		w = append(w, "response_types: "+strings.Join(single, ", ")+" are separate response types; for the combined (hybrid) type write it quoted as one value, e.g. \""+strings.Join(single, " ")+"\"")
	}
	return w
}

// SplitResponseTypes returns the single-word response types of types when
// two or more of code, id_token and token appear as separate values and no
// value combines them: what `response_types code id_token token` without
// quotes becomes. It returns nil otherwise.
func SplitResponseTypes(types []string) []string {
	var single []string
	for _, t := range types {
		switch t {
		case "code", "id_token", "token":
			single = append(single, t)
		default:
			if strings.Contains(strings.TrimSpace(t), " ") {
				return nil
			}
		}
	}
	if len(single) < 2 {
		return nil
	}
	return single
}

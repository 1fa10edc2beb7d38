package caddyoidc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/provider"
)

// AuthorizationPolicy is a named policy, as Authelia's
// identity_providers.oidc.authorization_policies: rules checked in order,
// the first whose subject matches decides, otherwise DefaultPolicy.
type AuthorizationPolicy struct {
	// DefaultPolicy is one_factor, two_factor or deny. Required.
	DefaultPolicy string `json:"default_policy,omitempty"`
	// Rules are checked in order.
	Rules []PolicyRule `json:"rules,omitempty"`
}

// PolicyRule applies Policy to the users matching Subject.
type PolicyRule struct {
	// Policy is one_factor, two_factor or deny.
	Policy string `json:"policy,omitempty"`
	// Subject is "user:<name>" or "group:<name>", a list of them (any
	// matches), or a list of lists (any inner list whose conditions all
	// hold), as in Authelia.
	Subject Subjects `json:"subject,omitempty"`
	// Networks restrict the rule to clients connecting from one of these
	// CIDRs or addresses (Authelia's networks), matched on Caddy's client
	// IP: the forwarded address when the request came through one of the
	// server's trusted_proxies, the remote address otherwise.
	Networks []string `json:"networks,omitempty"`
}

// Subjects accepts Authelia's three shapes of subject: a string, a list of
// strings (OR) and a list of lists (OR of ANDs). It is kept as a list of lists.
type Subjects [][]string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Subjects) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = [][]string{{one}}
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("subject: must be a string, a list of strings or a list of lists")
	}
	out := make([][]string, 0, len(list))
	for _, item := range list {
		if json.Unmarshal(item, &one) == nil {
			out = append(out, []string{one})
			continue
		}
		var all []string
		if err := json.Unmarshal(item, &all); err != nil {
			return fmt.Errorf("subject: must be a string, a list of strings or a list of lists")
		}
		out = append(out, all)
	}
	*s = out
	return nil
}

// Regulation bans a user or client address after repeated failed sign-ins
// (passwords and second factors alike), with Authelia's option names.
type Regulation struct {
	// MaxRetries failures within FindTime ban for BanTime. Default 3;
	// 0 disables regulation.
	MaxRetries *int `json:"max_retries,omitempty"`
	// FindTime is the window failures are counted in. Default 2m.
	FindTime caddy.Duration `json:"find_time,omitempty"`
	// BanTime is how long a ban lasts. Default 5m.
	BanTime caddy.Duration `json:"ban_time,omitempty"`
}

// engineConfig converts to the engine's form.
func (r *Regulation) engineConfig() *authn.RegulationConfig {
	cfg := authn.DefaultRegulation()
	if r == nil {
		return &cfg
	}
	if r.MaxRetries != nil {
		cfg.MaxRetries = *r.MaxRetries
	}
	if r.FindTime != 0 {
		cfg.FindTime = time.Duration(r.FindTime)
	}
	if r.BanTime != 0 {
		cfg.BanTime = time.Duration(r.BanTime)
	}
	return &cfg
}

// WebAuthn is the webauthn option: passkeys and security keys.
type WebAuthn struct {
	// Disable turns passkeys off: no page offers them, the WebAuthn
	// endpoints answer 404 passkeys_unavailable, and registered passkeys
	// (kept) neither sign in nor count as a second factor. The admin API
	// and `caddy oidc passkeys` still list and remove them.
	Disable bool `json:"disable,omitempty"`
	// DisplayName is the relying party name authenticators and password
	// managers show beside a passkey, at most 64 characters. Default: the
	// issuer's host name. Placeholders are resolved.
	DisplayName string `json:"display_name,omitempty"`
}

// engineConfig converts to the engine's form; nil is the default.
func (w *WebAuthn) engineConfig(repl *caddy.Replacer) provider.PasskeyConfig {
	if w == nil {
		return provider.PasskeyConfig{}
	}
	return provider.PasskeyConfig{Disable: w.Disable, DisplayName: repl.ReplaceKnown(w.DisplayName, "")}
}

// policies converts the named policies, naming the policy and rule in errors.
func policies(in map[string]AuthorizationPolicy) (authn.Policies, error) {
	out := authn.Policies{}
	for name, p := range in {
		def, err := authn.ParseLevel(p.DefaultPolicy)
		if err != nil {
			return nil, fmt.Errorf("authorization_policies: %q: default_policy: %w", name, err)
		}
		pol := authn.Policy{Default: def}
		for i, r := range p.Rules {
			lvl, err := authn.ParseLevel(r.Policy)
			if err != nil {
				return nil, fmt.Errorf("authorization_policies: %q: rules[%d]: policy: %w", name, i, err)
			}
			for _, all := range r.Subject {
				for _, cond := range all {
					if err := authn.ValidateSubject(cond); err != nil {
						return nil, fmt.Errorf("authorization_policies: %q: rules[%d]: %w", name, i, err)
					}
				}
			}
			nets, err := authn.ParseNetworks(r.Networks)
			if err != nil {
				return nil, fmt.Errorf("authorization_policies: %q: rules[%d]: networks: %w", name, i, err)
			}
			pol.Rules = append(pol.Rules, authn.Rule{Level: lvl, Subjects: r.Subject, Networks: nets})
		}
		out[name] = pol
	}
	return out, nil
}

// clientIP is Caddy's idea of the client address: the remote address, or the
// forwarded one when the request came through a trusted proxy.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok {
		return ip
	}
	return ""
}

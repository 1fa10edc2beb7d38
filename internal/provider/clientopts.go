package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// setupClientTokens resolves the per-client token options against the
// provider-wide definitions: access token and userinfo signing, pairwise
// sectors (fetching sector_identifier_uri documents), named lifespans, and
// claims policies with the custom scopes.
func (p *Provider) setupClientTokens(cfg Config, httpIssuer bool) error {
	for _, name := range slices.Sorted(maps.Keys(cfg.Lifespans)) {
		if name == "" {
			return fmt.Errorf("lifespans: a lifespan needs a name")
		}
		if err := cfg.Lifespans[name].validate(); err != nil {
			return fmt.Errorf("lifespans %q: %w", name, err)
		}
	}
	algs := cfg.Keys.Algorithms()
	for _, cc := range cfg.Clients {
		c := p.clients[cc.ID]
		var err error
		if c.AccessTokenAlg, err = signingAlg(cc.AccessTokenSignedResponseAlg, algs); err != nil {
			return fmt.Errorf("client %q: access_token_signed_response_alg: %w", cc.ID, err)
		}
		if c.UserinfoAlg, err = signingAlg(cc.UserinfoSignedResponseAlg, algs); err != nil {
			return fmt.Errorf("client %q: userinfo_signed_response_alg: %w", cc.ID, err)
		}
		if err := resolveSector(context.Background(), c, cc.SectorIdentifier, cc.SectorIdentifierURI, httpIssuer); err != nil {
			return fmt.Errorf("client %q: %w", cc.ID, err)
		}
		if cc.Lifespan != "" {
			l, ok := cfg.Lifespans[cc.Lifespan]
			if !ok {
				return fmt.Errorf("client %q: lifespan: %q is not one of the lifespans (%s)", cc.ID, cc.Lifespan, joinQuoted(slices.Sorted(maps.Keys(cfg.Lifespans))))
			}
			c.lifespans = &l
		}
	}
	return p.setupClaims(cfg)
}

// signingAlg checks a per-client response signing algorithm: none (or
// unset) means unsigned and comes back as "".
func signingAlg(alg string, algs []string) (string, error) {
	if alg == "" || alg == "none" {
		return "", nil
	}
	if !slices.Contains(algs, alg) {
		return "", fmt.Errorf("%q is not one of none, %s", alg, strings.Join(algs, ", "))
	}
	return alg, nil
}

// tokenDiscovery adds the metadata of the per-client token options:
// userinfo signing, pairwise subjects, custom scopes and their claims.
func (p *Provider) tokenDiscovery(doc map[string]any) {
	doc["userinfo_signing_alg_values_supported"] = append([]string{"none"}, p.keys.Algorithms()...)
	for _, c := range p.clients {
		if c.Sector != "" {
			doc["subject_types_supported"] = []string{"public", "pairwise"}
			break
		}
	}
	if scopes, ok := doc["scopes_supported"].([]string); ok {
		for _, name := range slices.Sorted(maps.Keys(p.scopes)) {
			if !slices.Contains(scopes, name) {
				scopes = append(scopes, name)
			}
		}
		doc["scopes_supported"] = scopes
	}
	if claims, ok := doc["claims_supported"].([]string); ok {
		claims = slices.Clone(claims)
		for _, c := range p.customClaimsSupported() {
			if !slices.Contains(claims, c) {
				claims = append(claims, c)
			}
		}
		doc["claims_supported"] = claims
	}
}

package autheliaimport

import "strings"

// The provider's named blocks: authorization policies, lifespans, claims
// policies, scopes and CORS.

// policies translates authorization_policies.
func (t *translator) policies(oidc map[string]any) {
	pols, _ := oidc["authorization_policies"].(map[string]any)
	for _, name := range sortedKeys(pols) {
		p, _ := pols[name].(map[string]any)
		t.w.open("authorization_policy", name)
		if v := str(p["default_policy"]); v != "" {
			t.w.line("default_policy", v)
		}
		rules, _ := p["rules"].([]any)
		for i, r := range rules {
			rm, _ := r.(map[string]any)
			subjects := subjectAlternatives(rm["subject"])
			if len(subjects) == 0 {
				t.note("authorization_policies.%s.rules[%d]: no subject; a rule without subject is not supported, left out", name, i)
				continue
			}
			if nets, _ := rm["networks"].([]any); len(nets) > 0 {
				t.note("authorization_policies.%s.rules[%d]: networks are not supported; the rule applies to every network", name, i)
			}
			t.w.line("rule", append([]string{str(rm["policy"])}, subjects...)...)
		}
		t.w.close()
	}
}

// subjectAlternatives turns Authelia's subject (a string, a list of
// strings, or a list of lists) into the Caddyfile's alternatives, each an
// &-joined conjunction.
func subjectAlternatives(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			switch e := e.(type) {
			case string:
				out = append(out, e)
			case []any:
				var and []string
				for _, s := range e {
					and = append(and, str(s))
				}
				out = append(out, strings.Join(and, "&"))
			}
		}
		return out
	}
	return nil
}

// lifespans translates lifespans: the provider-wide values and the named
// custom ones.
func (t *translator) lifespans(oidc map[string]any) {
	ls, _ := oidc["lifespans"].(map[string]any)
	if ls == nil {
		return
	}
	for _, k := range []string{"access_token", "authorize_code", "id_token", "refresh_token", "device_code"} {
		t.duration("lifespans."+k, k+"_lifespan", ls[k])
	}
	custom, _ := ls["custom"].(map[string]any)
	for _, name := range sortedKeys(custom) {
		c, _ := custom[name].(map[string]any)
		t.w.open("lifespan", name)
		for _, k := range []string{"access_token", "authorize_code", "id_token", "refresh_token"} {
			t.duration("lifespans.custom."+name+"."+k, k, c[k])
		}
		if _, ok := c["grants"]; ok {
			t.note("lifespans.custom.%s.grants: lifespans per grant type are not supported; the lifespan's own values apply to every grant", name)
		}
		t.w.close()
	}
	for _, k := range sortedKeys(ls) {
		switch k {
		case "access_token", "authorize_code", "id_token", "refresh_token", "device_code", "custom":
		default:
			t.note("lifespans.%s: not supported, left out", k)
		}
	}
}

// claims translates claims_policies and scopes.
func (t *translator) claims(oidc map[string]any) {
	pols, _ := oidc["claims_policies"].(map[string]any)
	for _, name := range sortedKeys(pols) {
		p, _ := pols[name].(map[string]any)
		t.w.open("claims_policy", name)
		if v, ok := p["id_token"]; ok {
			t.w.line("id_token", strs(v)...)
		}
		if v := strs(p["access_token"]); len(v) > 0 {
			t.w.line("access_token", v...)
		}
		cc, _ := p["custom_claims"].(map[string]any)
		for _, claim := range sortedKeys(cc) {
			attr := ""
			if m, ok := cc[claim].(map[string]any); ok {
				attr = str(m["attribute"])
			}
			if attr != "" && attr != claim {
				t.w.line("custom_claim", claim, attr)
			} else {
				t.w.line("custom_claim", claim)
			}
		}
		for _, k := range sortedKeys(p) {
			switch k {
			case "id_token", "access_token", "custom_claims":
			default:
				t.note("claims_policies.%s.%s: not supported, left out", name, k)
			}
		}
		t.w.close()
	}
	scopes, _ := oidc["scopes"].(map[string]any)
	for _, name := range sortedKeys(scopes) {
		s, _ := scopes[name].(map[string]any)
		t.w.open("scope", name)
		if c := strs(s["claims"]); len(c) > 0 {
			t.w.line("claims", c...)
		}
		t.w.close()
	}
}

// cors translates the cors section.
func (t *translator) cors(oidc map[string]any) {
	c, _ := oidc["cors"].(map[string]any)
	if c == nil {
		return
	}
	t.w.open("cors")
	if v := strs(c["endpoints"]); len(v) > 0 {
		t.w.line("endpoints", v...)
	}
	if v := strs(c["allowed_origins"]); len(v) > 0 {
		t.w.line("allowed_origins", v...)
	}
	if b, _ := c["allowed_origins_from_client_redirect_uris"].(bool); b {
		t.w.line("allowed_origins_from_client_redirect_uris")
	}
	t.w.close()
}

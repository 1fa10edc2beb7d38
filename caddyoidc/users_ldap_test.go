package caddyoidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers/ldaptest"
)

const ldapClients = `
		client ldap-app {
			client_secret "s3cret-ldap"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups ldap_info offline_access
			grant_types authorization_code refresh_token
			consent_mode implicit
		}
		client legacy-app {
			client_secret "s3cret-legacy"
			grant_types password refresh_token
			authorization_policy one_factor
			scopes openid profile email groups offline_access
		}`

// ldapEnv is a provider whose users come from a throwaway slapd in the
// rfc2307bis shape; employeeType=disabled marks a disabled account.
func ldapEnv(t *testing.T, extra ...string) (*env, *ldaptest.Server) {
	srv := ldaptest.Start(t, ldaptest.RFC2307bis)
	t.Setenv("OIDC_TEST_LDAP_PASSWORD", ldaptest.ServicePassword)
	e := newEnv(t, ldapClients)
	e.extra = strings.Join(extra, "") + `		scope ldap_info {
			claims given_name family_name phone_number address
		}
		users ldap {
			address ` + srv.URL + `
			implementation rfc2307bis
			base_dn ` + ldaptest.BaseDN + `
			additional_users_dn ou=users
			additional_groups_dn ou=groups
			users_filter "(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=inetOrgPerson)(!(employeeType=disabled)))"
			user ` + ldaptest.ServiceDN + `
			password {env.OIDC_TEST_LDAP_PASSWORD}
			timeout 2s
			refresh_interval always
			pooling {
				count 3
			}
			attributes {
				given_name   givenName
				family_name  sn
				phone_number telephoneNumber
				locality     l
			}
		}`
	e.start()
	return e, srv
}

func TestLDAPUsersThroughFlows(t *testing.T) {
	e, srv := ldapEnv(t)

	// Sign in by email through the code flow: the ID token names the
	// directory's user, with groups and extended claims.
	r := newRP(t, e.issuer, "ldap-app", "s3cret-ldap", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{oidc.ScopeOpenID, "profile", "email", "groups", "ldap_info", oidc.ScopeOfflineAccess}
	b := newBrowser(t, e.issuer)
	p := b.login(b.get(r.config.AuthCodeURL("st4te-value")), "alice@example.com", ldaptest.AlicePassword)
	cb := callbackParams(t, p, rpCallback)
	tok, err := r.config.Exchange(ctx(t), cb.Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Username   string   `json:"preferred_username"`
		Email      string   `json:"email"`
		Name       string   `json:"name"`
		Groups     []string `json:"groups"`
		GivenName  string   `json:"given_name"`
		FamilyName string   `json:"family_name"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != "alice@example.com" || claims.Name != "Alice Liddell" || strings.Join(claims.Groups, ",") != "admins,dev" {
		t.Errorf("ID token claims %+v", claims)
	}
	ui, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var uic map[string]any
	_ = ui.Claims(&uic)
	addr, _ := uic["address"].(map[string]any)
	if uic["phone_number"] != "+1 555 0100" || uic["given_name"] != "Alice" || uic["family_name"] != "Liddell" || addr["locality"] != "Oxford" {
		t.Errorf("userinfo %v", uic)
	}

	// Sign in by username with the password grant; then bob is disabled in
	// the directory and his refresh token stops working at the next check.
	legacy := newRP(t, e.issuer, "legacy-app", "s3cret-legacy", oauth2.AuthStyleInHeader)
	legacy.config.Scopes = []string{oidc.ScopeOpenID, "groups", oidc.ScopeOfflineAccess}
	bobTok, err := legacy.config.PasswordCredentialsToken(ctx(t), "bob", ldaptest.BobPassword)
	if err != nil {
		t.Fatalf("password grant for bob: %v", err)
	}
	if _, err := refreshWith(t, legacy, bobTok.RefreshToken); err != nil {
		t.Fatalf("refresh while enabled: %v", err)
	}
	srv.Apply("ldapmodify", "dn: uid=bob,ou=users,"+ldaptest.BaseDN+"\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n")
	if _, err := refreshWith(t, legacy, bobTok.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("refresh after bob was disabled: %v, want invalid_grant", err)
	}

	// alice, signed in with the browser b, is disabled: the next check
	// ends her session, so that even once enabled again she must sign in.
	disable := "dn: uid=alice,ou=users," + ldaptest.BaseDN + "\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n"
	srv.Apply("ldapmodify", disable)
	if _, err := refreshWith(t, r, tok.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("refresh after alice was disabled: %v, want invalid_grant", err)
	}
	srv.Apply("ldapmodify", "dn: uid=alice,ou=users,"+ldaptest.BaseDN+"\nchangetype: modify\ndelete: employeeType\n")
	p = b.get(r.config.AuthCodeURL("st4te-value"))
	if !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("alice's session survived her being disabled: %d %s", p.status, p.location)
	}
	if _, err := refreshWith(t, r, tok.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("alice's refresh token survived her being disabled: %v", err)
	}
	tok, err = r.config.Exchange(ctx(t), callbackParams(t, b.login(p, "alice", ldaptest.AlicePassword), rpCallback).Get("code"))
	if err != nil {
		t.Fatalf("exchange after signing in again: %v", err)
	}
	if !strings.Contains(e.logText(), "user disabled or deleted: sessions ended") {
		t.Error("the end of alice's sessions was not logged")
	}

	// Every injection string is refused like a wrong password.
	for _, u := range []string{"*", "a*", "alice)(uid=*", "*)(|(uid=*", "alice\x00", `\2a`, strings.Repeat("a", 5000), "uid=alice,ou=users," + ldaptest.BaseDN} {
		fresh := newBrowser(t, e.issuer)
		p := fresh.login(fresh.get(r.config.AuthCodeURL("st4te-value")), u, ldaptest.AlicePassword)
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Incorrect username or password") {
			t.Errorf("username %.40q: %d, want 401 incorrect", u, p.status)
		}
	}

	// The directory goes down: sign-in says try again later (503), the
	// refresh needing the directory answers 503 temporarily_unavailable;
	// when it is back everything works again without a reload.
	srv.Stop()
	b2 := newBrowser(t, e.issuer)
	p = b2.login(b2.get(r.config.AuthCodeURL("st4te-value")), "alice", ldaptest.AlicePassword)
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "try again") {
		t.Errorf("sign-in while the directory is down: %d %.300s", p.status, p.body)
	}
	status, body := postToken(t, e.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "ldap-app", "s3cret-ldap")
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("refresh while the directory is down: %d %v", status, body)
	}
	if _, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok)); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("userinfo while the directory is down: %v, want 503", err)
	}
	// alice's browser session survives the outage (b signed in again above).
	if p := b.get(e.issuer + "/settings"); p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "try again") {
		t.Errorf("settings while the directory is down: %d, want 503 try again", p.status)
	}
	srv.Restart()
	if p := b.get(e.issuer + "/settings"); p.status != http.StatusOK || !strings.Contains(p.body, "Security settings") {
		t.Errorf("alice's session after the directory came back: %d %.200s", p.status, p.body)
	}
	p = b2.login(b2.get(r.config.AuthCodeURL("st4te-value")), "alice", ldaptest.AlicePassword)
	if cb := callbackParams(t, p, rpCallback); cb.Get("code") == "" {
		t.Errorf("no code after the directory came back")
	}
	if _, err := refreshWith(t, r, tok.RefreshToken); err != nil {
		t.Errorf("refresh after the directory came back: %v", err)
	}

	// No password reaches the log.
	log := e.logText()
	for _, secret := range []string{ldaptest.ServicePassword, ldaptest.AlicePassword, ldaptest.BobPassword} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains the password %q", secret)
		}
	}
}

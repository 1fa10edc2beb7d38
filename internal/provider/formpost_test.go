package provider

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ory/fosite"
)

var (
	fpInputRE  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	fpActionRE = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	fpScriptRE = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
)

// formPostFields returns the hidden inputs of a form_post page.
func formPostFields(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range fpInputRE.FindAllStringSubmatch(page, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

func renderFormPost(t *testing.T, redirect string, params url.Values) string {
	t.Helper()
	var b strings.Builder
	fosite.WriteAuthorizeFormPostResponse(redirect, params, newFormPostTemplate("https://op.example/idp"), &b)
	return b.String()
}

func TestFormPostPage(t *testing.T) {
	params := url.Values{
		"code":  {"abc.def"},
		"state": {`"><script>alert(1)</script>`},
		"iss":   {"https://op.example/idp"},
	}
	page := renderFormPost(t, "https://app.example/cb?a=1&b=2", params)
	m := fpActionRE.FindStringSubmatch(page)
	if m == nil || html.UnescapeString(m[1]) != "https://app.example/cb?a=1&b=2" {
		t.Fatalf("form action: %v\n%s", m, page)
	}
	got := formPostFields(t, page)
	if got.Encode() != params.Encode() {
		t.Errorf("hidden inputs %v, want %v (iss once)", got, params)
	}
	if strings.Count(page, "<script") != 1 || strings.Contains(page, "alert(1)</script>") {
		t.Errorf("parameters were not escaped:\n%s", page)
	}
	for _, external := range []string{"src=", "href=", "<link", "<img", "<iframe", "style", "http-equiv"} {
		if strings.Contains(page, external) {
			t.Errorf("the page has %q: it must load nothing", external)
		}
	}
	if !strings.Contains(page, "<noscript>") || !strings.Contains(page, `<button type="submit">`) {
		t.Error("no submit button for browsers without scripts")
	}
	// The CSP allows exactly the page's script.
	s := fpScriptRE.FindStringSubmatch(page)
	if s == nil {
		t.Fatal("no script")
	}
	sum := sha256.Sum256([]byte(s[1]))
	if want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(formPostCSP, want) {
		t.Errorf("CSP %q does not allow the script (%s)", formPostCSP, want)
	}
	if !strings.HasPrefix(formPostCSP, "default-src 'none';") {
		t.Errorf("CSP %q", formPostCSP)
	}
}

func TestFormPostPageAddsIssToErrors(t *testing.T) {
	errParams := url.Values{"error": {"access_denied"}, "error_description": {"The user said no & left."}, "state": {"xyz"}}
	got := formPostFields(t, renderFormPost(t, "https://app.example/cb", errParams))
	if got.Get("iss") != "https://op.example/idp" || got.Get("error") != "access_denied" || got.Get("error_description") != "The user said no & left." || got.Get("state") != "xyz" {
		t.Errorf("fields %v", got)
	}
	if len(got["iss"]) != 1 {
		t.Errorf("iss %q", got["iss"])
	}
}

func TestFormPostCustomSchemeNeutralized(t *testing.T) {
	page := renderFormPost(t, "javascript:alert(1)", url.Values{"code": {"x"}})
	if strings.Contains(page, "javascript:") {
		t.Errorf("unsafe action rendered:\n%s", page)
	}
}

func TestWithIss(t *testing.T) {
	const iss = "https://op.example/a b"
	cases := []struct {
		loc, mode string
		want      url.Values
	}{
		{"https://app.example/cb?error=access_denied&error_description=a+%26+b%3D%23c&state=s", "query",
			url.Values{"error": {"access_denied"}, "error_description": {"a & b=#c"}, "state": {"s"}, "iss": {iss}}},
		{"https://app.example/cb?keep=1&error=x", "query", url.Values{"keep": {"1"}, "error": {"x"}, "iss": {iss}}},
		{"https://app.example/cb#error=access_denied&error_description=a+%26+b%3D%23c%25&state=s", "fragment",
			url.Values{"error": {"access_denied"}, "error_description": {"a & b=#c%"}, "state": {"s"}, "iss": {iss}}},
		{"https://app.example/cb?keep=1#error=x", "fragment", url.Values{"error": {"x"}, "iss": {iss}}},
		{"app.immich:///oauth-callback?error=x", "query", url.Values{"error": {"x"}, "iss": {iss}}},
	}
	for _, tc := range cases {
		got := withIss(tc.loc, iss)
		u, err := url.Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		var params url.Values
		if tc.mode == "fragment" {
			params, err = url.ParseQuery(u.EscapedFragment())
			if err != nil {
				t.Fatal(err)
			}
			if before, _, _ := strings.Cut(tc.loc, "#"); !strings.HasPrefix(got, before+"#") {
				t.Errorf("%s: the part before the fragment changed: %s", tc.loc, got)
			}
		} else {
			params = u.Query()
		}
		if params.Encode() != tc.want.Encode() {
			t.Errorf("withIss(%s) = %s: params %v, want %v", tc.loc, got, params, tc.want)
		}
	}
}

func TestPrepareErrorResponseMode(t *testing.T) {
	https, _ := url.Parse("https://app.example/cb")
	native, _ := url.Parse("app.native:/cb")
	cases := []struct {
		responseType string
		mode         fosite.ResponseModeType
		redirect     *url.URL
		want         fosite.ResponseModeType
	}{
		{"code", "", https, fosite.ResponseModeQuery},
		{"", "", https, fosite.ResponseModeQuery},
		{"id_token", "", https, fosite.ResponseModeFragment},
		{"code id_token", "", https, fosite.ResponseModeFragment},
		{"token", fosite.ResponseModeFormPost, https, fosite.ResponseModeFormPost},
		{"code", fosite.ResponseModeFormPost, native, fosite.ResponseModeQuery},
		{"code token", fosite.ResponseModeFormPost, native, fosite.ResponseModeFragment},
		{"token", fosite.ResponseModeQuery, https, fosite.ResponseModeQuery}, // fosite's answer: the error carries no token
		{"code", fosite.ResponseModeFragment, https, fosite.ResponseModeFragment},
	}
	for _, tc := range cases {
		ar := fosite.NewAuthorizeRequest()
		ar.Form = url.Values{"response_type": {tc.responseType}}
		ar.ResponseMode = tc.mode
		ar.RedirectURI = tc.redirect
		prepareErrorResponseMode(ar)
		if ar.GetResponseMode() != tc.want {
			t.Errorf("%q %q %s: mode %q, want %q", tc.responseType, tc.mode, tc.redirect, ar.GetResponseMode(), tc.want)
		}
	}
}

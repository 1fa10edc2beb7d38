package caddyoidc

// TestREADMEOptions keeps the one written reference of the options, the
// tables of README.md's "Configuration reference", in step with the
// Caddyfile parser and the JSON config structs.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// readmeRow is one row of an options table.
type readmeRow struct {
	names []string // Caddyfile option names, aliases included
	subs  []string // the options of its block: `name <arg> { a; b; c }`
	json  []string // JSON names the row documents
}

// readmeTable is the options table under the first heading containing
// marker, by its first option name.
type readmeTable map[string]*readmeRow

var (
	codeSpan = regexp.MustCompile("`([^`]*)`")
	jsonSpan = regexp.MustCompile("JSON (?:alias )?`([a-z_]+)`")
	jsonWord = regexp.MustCompile(`[a-z][a-z0-9_]*`)
)

func readREADMETable(t *testing.T, readme, marker string) readmeTable {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n### "+marker)
	if !ok {
		t.Fatalf("README.md: no heading %q", "### "+marker)
	}
	var header []string
	table := readmeTable{}
	for line := range strings.SplitSeq(rest, "\n") {
		if !strings.HasPrefix(line, "|") {
			if header != nil {
				break
			}
			if strings.HasPrefix(line, "#") {
				t.Fatalf("README.md: no options table under %q", marker)
			}
			continue
		}
		cells := splitCells(line)
		if header == nil {
			header = cells
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		row := &readmeRow{}
		for i, span := range codeSpan.FindAllStringSubmatchIndex(cells[0], -1) {
			s := cells[0][span[2]:span[3]]
			before := strings.TrimSpace(cells[0][:span[0]])
			word, _, _ := strings.Cut(s, " ")
			switch {
			case strings.HasSuffix(before, "JSON alias") || strings.HasSuffix(before, "JSON"):
			case strings.HasPrefix(word, "<"): // the directive's argument
			case i == 0 && strings.Contains(cells[0], "the block's argument"):
				row.json = append(row.json, word)
			default:
				row.names = append(row.names, word)
				if _, block, ok := strings.Cut(s, "{"); ok {
					block, _, _ = strings.Cut(block, "}")
					for sub := range strings.SplitSeq(block, ";") {
						if w := strings.Fields(sub); len(w) > 0 && w[0] != "…" && w[0] != "..." {
							row.subs = append(row.subs, strings.Split(w[0], "|")...) // alternatives
						}
					}
				}
			}
		}
		if len(row.names) == 0 && len(row.json) == 0 {
			t.Fatalf("README.md, %s: a row names no option: %s", marker, line)
		}
		if i := slices.Index(header, "JSON"); i >= 0 && cells[i] != "same" {
			for _, span := range codeSpan.FindAllStringSubmatch(cells[i], -1) {
				row.json = append(row.json, jsonWord.FindAllString(span[1], -1)...)
			}
		} else {
			row.json = append(row.json, row.names...)
		}
		for _, m := range jsonSpan.FindAllStringSubmatch(line, -1) {
			row.json = append(row.json, m[1])
		}
		key := row.names
		if len(key) == 0 {
			key = row.json
		}
		table[key[0]] = row
	}
	return table
}

// splitCells splits a table line on the | that are not escaped (\|).
func splitCells(line string) []string {
	line = strings.Trim(strings.TrimSpace(line), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

func (tb readmeTable) names() []string {
	var out []string
	for _, r := range tb {
		out = append(out, r.names...)
	}
	return out
}

func (tb readmeTable) json() []string {
	var out []string
	for _, r := range tb {
		out = append(out, r.json...)
	}
	return out
}

// parserOptions are the option names a parser function accepts: the string
// cases of its switch statements, read from the source.
func parserOptions(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string][]string{}
	for _, file := range []string{"caddyfile.go", "caddyfile_client.go", "caddyfile_blocks.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			name := fn.Name.Name
			if fn.Recv != nil {
				name = recvType(t, fn.Recv.List[0].Type) + "." + name
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if cc, ok := n.(*ast.CaseClause); ok {
					for _, e := range cc.List {
						if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, _ := strconv.Unquote(lit.Value)
							out[name] = append(out[name], s)
						}
					}
				}
				return true
			})
		}
	}
	return out
}

// recvType is the name of a method's receiver type, T or *T.
func recvType(t *testing.T, e ast.Expr) string {
	t.Helper()
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	id, ok := e.(*ast.Ident)
	if !ok {
		t.Fatalf("receiver type %T: want T or *T", e)
	}
	return id.Name
}

// accepts reports whether the parser takes option with one of a few
// typical arguments, inside the given block (open, close).
func accepts(open, option, close string) bool {
	for _, args := range []string{"", "x", "1h", "3", "one_factor", "x {\n key k\n}", "sqlite", "file /x"} {
		input := "oidc_provider https://a {\n" + open + option + " " + args + "\n" + close + "}"
		if new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)) == nil {
			return true
		}
	}
	return false
}

func jsonFields(typ any) []string {
	var out []string
	rt := reflect.TypeOf(typ)
	for i := range rt.NumField() {
		if tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ","); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

func TestREADMEOptions(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	provider := readREADMETable(t, readme, "`oidc_provider`")
	client := readREADMETable(t, readme, "`client <client_id>`")
	cors := readREADMETable(t, readme, "CORS")
	parsed := parserOptions(t)

	row := func(tb readmeTable, name string) *readmeRow {
		t.Helper()
		r, ok := tb[name]
		if !ok {
			t.Fatalf("README.md: no row for option %q", name)
		}
		return r
	}

	// (a) What the parser accepts is documented, and what is documented
	// the parser accepts.
	for _, c := range []struct {
		where       string
		parser      string
		documented  []string
		open, close string
	}{
		{"the oidc_provider table", "Handler.UnmarshalCaddyfile", provider.names(), "", ""},
		{"the client table", "unmarshalClient", client.names(), "client c {\n", "}\n"},
		{"the CORS table", "unmarshalCORS", cors.names(), "cors {\n", "}\n"},
		{"the cors row of the oidc_provider table", "unmarshalCORS", row(provider, "cors").subs, "cors {\n", "}\n"},
		{"the jwk row of the oidc_provider table", "unmarshalJWK", row(provider, "jwk").subs, "jwk x {\n key k\n", "}\n"},
		{"the jwk row of the client table", "unmarshalJWK", row(client, "jwk").subs, "client c {\n jwk x {\n key k\n", "}\n}\n"},
		{"the lifespan row of the oidc_provider table", "unmarshalLifespan", row(provider, "lifespan").subs, "lifespan x {\n", "}\n"},
		{"the claims_policy row of the oidc_provider table", "unmarshalClaimsPolicy", row(provider, "claims_policy").subs, "claims_policy x {\n", "}\n"},
		{"the scope row of the oidc_provider table", "unmarshalScope", row(provider, "scope").subs, "scope x {\n", "}\n"},
		{"the authorization_policy row of the oidc_provider table", "unmarshalPolicy", row(provider, "authorization_policy").subs, "authorization_policy x {\n", "}\n"},
		{"the regulation row of the oidc_provider table", "unmarshalRegulation", row(provider, "regulation").subs, "regulation {\n", "}\n"},
		{"the webauthn row of the oidc_provider table", "unmarshalWebAuthn", row(provider, "webauthn").subs, "webauthn {\n", "}\n"},
	} {
		cases, ok := parsed[c.parser]
		if !ok {
			t.Fatalf("no parser function %s", c.parser)
		}
		for _, opt := range cases {
			if !slices.Contains(c.documented, opt) {
				t.Errorf("option %q: %s accepts it, but README.md does not document it (%s)", opt, c.parser, c.where)
			}
		}
		for _, opt := range c.documented {
			if !accepts(c.open, opt, c.close) {
				t.Errorf("option %q: README.md documents it (%s), but UnmarshalCaddyfile does not accept it", opt, c.where)
			}
		}
	}

	// (b) Every JSON field is documented.
	for _, c := range []struct {
		where      string
		typ        any
		documented []string
	}{
		{"the oidc_provider table", Handler{}, provider.json()},
		{"the client table", Client{}, client.json()},
		{"the CORS table", CORS{}, cors.json()},
		{"the jwk row of the oidc_provider table", JWK{}, row(provider, "jwk").json},
		{"the lifespan row", Lifespan{}, row(provider, "lifespan").json},
		{"the claims_policy row", ClaimsPolicy{}, row(provider, "claims_policy").json},
		{"the claims_policy row", CustomClaim{}, row(provider, "claims_policy").json},
		{"the scope row", Scope{}, row(provider, "scope").json},
		{"the authorization_policy row", AuthorizationPolicy{}, row(provider, "authorization_policy").json},
		{"the authorization_policy row", PolicyRule{}, row(provider, "authorization_policy").json},
		{"the regulation row", Regulation{}, row(provider, "regulation").json},
		{"the webauthn row", WebAuthn{}, row(provider, "webauthn").json},
		{"the users_file row", FileUsers{}, row(provider, "users_file").json},
		{"the storage row", SQLiteStorage{}, row(provider, "storage").json},
	} {
		for _, f := range jsonFields(c.typ) {
			if !slices.Contains(c.documented, f) {
				t.Errorf("JSON field %q of %T is not documented in README.md (%s)", f, c.typ, c.where)
			}
		}
	}
}

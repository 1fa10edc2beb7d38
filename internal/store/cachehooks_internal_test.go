package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestCacheHooks: every function of the package that runs a statement
// changing login sessions or deleting access tokens also tells the caches
// (logincache.go, accessrows.go), which serve what the database no longer
// holds otherwise. A function that only passes such a statement on is fine
// when it calls one of the hooks; EndLoginSessions once did not. (The
// collector's deletions of expired rows build their statements from table
// names, and neither cache serves an expired row.)
func TestCacheHooks(t *testing.T) {
	guarded := map[string][]string{ // statement -> the hooks, any one of which will do
		"sqlUpdateLogin":           {"forgetLogin"},
		"sqlTouchLogin":            {"forgetLogin"},
		"sqlDeleteLogin":           {"forgetLogin"},
		"sqlDeleteLoginOfUser":     {"forgetLoginsOfUser"},
		"sqlDeleteLoginHandle":     {"forgetLogin"},
		"sqlDeleteAccess":          {"forgetAccess"},
		"sqlDeleteAccessOfRequest": {"forgetAccessOfRequest"},
		"sqlDeleteAccessOfClient":  {"forgetWhere"},
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			uses, calls := map[string]bool{}, map[string]bool{}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.Ident:
					if _, ok := guarded[n.Name]; ok {
						uses[n.Name] = true
					}
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
						calls[sel.Sel.Name] = true
					}
				}
				return true
			})
			for stmt := range uses {
				seen[stmt] = true
				ok := false
				for _, hook := range guarded[stmt] {
					ok = ok || calls[hook]
				}
				if !ok {
					t.Errorf("%s: %s runs %s but calls none of %v", fset.Position(fn.Pos()), fn.Name.Name, stmt, guarded[stmt])
				}
			}
		}
	}
	for stmt := range guarded {
		if !seen[stmt] {
			t.Errorf("no function runs %s: is the list of statements current?", stmt)
		}
	}
}

package autheliaimport

import (
	"regexp"
	"strings"
)

// block writes an indented Caddyfile block.
type block struct {
	b     strings.Builder
	depth int
}

// line writes an option and its values, each quoted when it needs to be.
func (w *block) line(opt string, values ...string) {
	w.b.WriteString(strings.Repeat("\t", w.depth))
	w.b.WriteString(opt)
	for _, v := range values {
		w.b.WriteByte(' ')
		w.b.WriteString(quote(v))
	}
	w.b.WriteByte('\n')
}

// open starts a nested block: `opt values... {`.
func (w *block) open(opt string, values ...string) {
	w.b.WriteString(strings.Repeat("\t", w.depth))
	w.b.WriteString(opt)
	for _, v := range values {
		w.b.WriteByte(' ')
		w.b.WriteString(quote(v))
	}
	w.b.WriteString(" {\n")
	w.depth++
}

// close ends the innermost block.
func (w *block) close() {
	w.depth--
	w.b.WriteString(strings.Repeat("\t", w.depth))
	w.b.WriteString("}\n")
}

// bare are the tokens written without quotes.
var bare = regexp.MustCompile(`^[A-Za-z0-9_.:/@+=,-]+$|^\{(env|file)\.[^{}\s"]+\}$`)

// quote returns v as one Caddyfile token.
func quote(v string) string {
	if bare.MatchString(v) && !strings.HasPrefix(v, "#") {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

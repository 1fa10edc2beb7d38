package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// contentTypes lists the types of the files under static/. A fixed table keeps
// the answer independent of the host's /etc/mime.types.
var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".js":  "text/javascript; charset=utf-8",
}

// asset is one embedded static file.
type asset struct {
	data        []byte
	contentType string
	version     string // short content hash, used in URLs and as the ETag
}

func loadAssets() (map[string]asset, error) {
	assets := make(map[string]asset)
	err := fs.WalkDir(staticFS, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("ui: static file %s: no content type for its extension", name)
		}
		data, err := staticFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("ui: static file %s: %w", name, err)
		}
		sum := sha256.Sum256(data)
		assets[strings.TrimPrefix(name, "static/")] = asset{
			data:        data,
			contentType: ct,
			version:     hex.EncodeToString(sum[:6]),
		}
		return nil
	})
	return assets, err
}

// AssetHandler serves the embedded static files (style.css ...), with
// Cache-Control: public, max-age=86400 and a correct Content-Type. Mount it with
// http.StripPrefix(assetPath, ...).
//
// It answers GET and HEAD only, honours If-None-Match, and lists no directories.
func (p *Pages) AssetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		a, ok := p.assets[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+a.version+`"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
	})
}

package pages

// Languages lists the languages the pages speak (BCP 47 tags, English
// first): the built-in catalogues and those from templates_dir/locales,
// for the discovery document's ui_locales_supported.
func (p *Pages) Languages() []string {
	tags := p.ui.Catalog().Languages()
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.String()
	}
	return out
}

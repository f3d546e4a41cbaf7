package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gohugoio/hugo/parser/metadecoders"
	"github.com/gohugoio/hugo/parser/pageparser"
	"github.com/pelletier/go-toml/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The CMS at /cms/ (site/static/cms): Sveltia CMS vendored at a pinned
// version, and its configuration, which must name every front-matter field
// the templates and the content use. The fields are discovered from
// layouts/ and content/, not listed here, so a field added later is caught.

// cmsExceptions are content files no CMS collection edits, each with why.
var cmsExceptions = map[string]string{
	"content/letters/_index.md":    "the letters section's own settings (it publishes the list of letters as data): the site's plumbing, not text for editors",
	"content/letters/_index.es.md": "the same section's settings for the Spanish edition: plumbing, as content/letters/_index.md",
}

// pageFields are Hugo's page methods that read a front-matter key.
var pageFields = map[string]string{"Title": "title", "Description": "description", "LinkTitle": "linkTitle"}

func TestCMSVendored(t *testing.T) {
	root := repoRoot(t)
	lock := readLock(t, filepath.Join(root, "site/cms/sveltia.lock"))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(lock["version"]) {
		t.Errorf("sveltia.lock: version %q is not an exact version", lock["version"])
	}
	files := 0
	for name, want := range lock {
		if name == "version" || name == "tarball-integrity" {
			continue
		}
		p := filepath.Join(root, "site/static/cms", name) // published
		if name == "sveltia-cms.json" {
			p = filepath.Join(root, "site/cms", name) // the schema, for the tests
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: sha256 %s, sveltia.lock records %s: run `bash site/cms/sveltia.sh` to restore the pinned file", p, got, want)
		}
		files++
	}
	if lock["sveltia-cms.js"] == "" || lock["sveltia-cms.json"] == "" || files < 3 {
		t.Errorf("sveltia.lock lists %d files: it lacks the script, the schema or the fonts", files)
	}
	js, err := os.ReadFile(filepath.Join(root, "site/static/cms/sveltia-cms.js"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(js, []byte("cdn.jsdelivr.net")) {
		t.Error("sveltia-cms.js still loads fonts from cdn.jsdelivr.net")
	}
	html, err := os.ReadFile(filepath.Join(root, "site/static/cms/index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte(`<script src="sveltia-cms.js"></script>`)) {
		t.Error("cms/index.html does not load the vendored sveltia-cms.js")
	}
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Find(html); m != nil {
		t.Errorf("cms/index.html loads from another origin: %s", m)
	}
	if !bytes.Contains(html, []byte(`<meta name="robots" content="noindex`)) {
		t.Error("cms/index.html lacks noindex")
	}
}

func readLock(t *testing.T, p string) map[string]string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lock := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(line, "#") {
			lock[f[0]] = f[1]
		}
	}
	return lock
}

// cmsConfig is the CMS configuration, as the CMS reads it.
type cmsConfig struct {
	I18n struct {
		Locales       []string `json:"locales"`
		DefaultLocale string   `json:"default_locale"`
		Structure     string   `json:"structure"`
		OmitDefault   bool     `json:"omit_default_locale_from_file_path"`
	} `json:"i18n"`
	Collections []cmsCollection `json:"collections"`
}

type cmsCollection struct {
	Name      string     `json:"name"`
	Folder    string     `json:"folder"`
	Extension string     `json:"extension"`
	Slug      string     `json:"slug"`
	Files     []cmsFile  `json:"files"`
	Fields    []cmsField `json:"fields"`
	I18n      any        `json:"i18n"`
}

type cmsFile struct {
	Name   string     `json:"name"`
	File   string     `json:"file"`
	Fields []cmsField `json:"fields"`
}

type cmsField struct {
	Name    string     `json:"name"`
	Widget  string     `json:"widget"`
	Modes   []string   `json:"modes"`
	Pattern []string   `json:"pattern"`
	Fields  []cmsField `json:"fields"`
	Field   *cmsField  `json:"field"`
}

// cmsEntry is one kind of content the CMS edits: a file of a file
// collection, or the entries of a folder collection.
type cmsEntry struct {
	name   string
	fields []cmsField
	slug   string // a folder collection's slug template
	match  func(rel string) bool
}

func loadCMSConfig(t *testing.T, root string) (*cmsConfig, map[string]any) {
	b, err := os.ReadFile(filepath.Join(root, "site/static/cms/config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := metadecoders.Default.UnmarshalToMap(b, metadecoders.YAML)
	if err != nil {
		t.Fatalf("site/static/cms/config.yml: %v", err)
	}
	// Through JSON, as the CMS sees it (and as the schema validator takes it).
	j, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var cfg cmsConfig
	if err := json.Unmarshal(j, &cfg); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return &cfg, inst.(map[string]any)
}

// The configuration is what the pinned Sveltia CMS accepts.
func TestCMSConfigSchema(t *testing.T) {
	root := repoRoot(t)
	_, inst := loadCMSConfig(t, root)
	f, err := os.Open(filepath.Join(root, "site/cms/sveltia-cms.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sveltia-cms.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sveltia-cms.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("site/static/cms/config.yml does not fit Sveltia CMS's schema:\n%v", err)
	}
}

// The configuration names every front-matter field the templates read and
// every field the content carries, in the collection that edits it, in
// every language Hugo builds.
func TestCMSConfigCoversFrontMatter(t *testing.T) {
	root := repoRoot(t)
	cfg, _ := loadCMSConfig(t, root)

	// Languages: Hugo's are the CMS's, with the same default.
	var hugo struct {
		DefaultContentLanguage string         `toml:"defaultContentLanguage"`
		Languages              map[string]any `toml:"languages"`
		Params                 map[string]any `toml:"params"`
	}
	hb, err := os.ReadFile(filepath.Join(root, "site/hugo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := toml.Unmarshal(hb, &hugo); err != nil {
		t.Fatal(err)
	}
	langs := []string{hugo.DefaultContentLanguage}
	for l := range hugo.Languages {
		if !slices.Contains(langs, l) {
			langs = append(langs, l)
		}
	}
	if cfg.I18n.DefaultLocale != hugo.DefaultContentLanguage {
		t.Errorf("CMS default locale %q, Hugo's defaultContentLanguage %q", cfg.I18n.DefaultLocale, hugo.DefaultContentLanguage)
	}
	for _, l := range langs {
		if !slices.Contains(cfg.I18n.Locales, l) {
			t.Errorf("Hugo builds the language %q; the CMS's i18n.locales (%v) lack it", l, cfg.I18n.Locales)
		}
	}
	// Hugo's translation by filename: name.md, name.es.md.
	if cfg.I18n.Structure != "multiple_files" || !cfg.I18n.OmitDefault {
		t.Errorf("CMS i18n: structure %q, omit_default_locale_from_file_path %v; Hugo's content is name.md and name.<lang>.md",
			cfg.I18n.Structure, cfg.I18n.OmitDefault)
	}

	entries := cmsEntries(t, cfg)

	// Every content file belongs to a collection that names each of its
	// fields.
	contentDir := filepath.Join(root, "content")
	covered := map[string]*cmsEntry{}
	err = filepath.WalkDir(contentDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := "content/" + filepath.ToSlash(must(filepath.Rel(contentDir, p)))
		if why, ok := cmsExceptions[rel]; ok {
			t.Logf("%s: not in the CMS: %s", rel, why)
			return nil
		}
		var entry *cmsEntry
		for i := range entries {
			if entries[i].match(rel) {
				entry = &entries[i]
				break
			}
		}
		if entry == nil {
			t.Errorf("%s: no CMS collection edits it: add it to site/static/cms/config.yml (or to cmsExceptions, saying why)", rel)
			return nil
		}
		covered[rel] = entry
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		page, err := pageparser.ParseFrontMatterAndContent(f)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		for key, value := range page.FrontMatter {
			checkValue(t, rel, entry.name, key, value, entry.fields)
		}
		body := string(page.Content)
		if strings.TrimSpace(body) != "" {
			f := findField(entry.fields, "body")
			switch {
			case f == nil:
				t.Errorf("%s has a body; CMS %s has no body field", rel, entry.name)
			case strings.Contains(body, "{{<") && richByDefault(f):
				// The rich-text editor re-writes the whole body from its
				// own model on every edit: shortcodes are safest as text.
				t.Errorf("%s: its body holds Hugo shortcodes; CMS %s edits it as rich text (%s widget, modes %v): use widget text or modes [raw, …]",
					rel, entry.name, f.Widget, f.Modes)
			}
		}
		// A folder collection makes the file name from a field: the
		// existing files must agree, or the CMS would write another file.
		if m := regexp.MustCompile(`^\{\{fields\.(\w+)\}\}$`).FindStringSubmatch(entry.slug); m != nil {
			base := strings.SplitN(path.Base(rel), ".", 2)[0]
			v := fmt.Sprint(page.FrontMatter[m[1]])
			if v != base {
				t.Errorf("%s: %s is %q; CMS %s names the file after it", rel, m[1], v, entry.name)
			}
			if f := findField(entry.fields, m[1]); f != nil && len(f.Pattern) > 0 && !regexp.MustCompile(f.Pattern[0]).MatchString(v) {
				t.Errorf("%s: %s %q does not fit the CMS's pattern %s", rel, m[1], v, f.Pattern[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Every front-matter field a template reads is a field of the CMS.
	used := templateFields(t, filepath.Join(root, "layouts"))
	for name, where := range used.params {
		if _, ok := hugo.Params[name]; ok && where.viaParam {
			continue // .Param falls back on the site's params
		}
		found := false
		for _, e := range entries {
			if f := findFieldFold(e.fields, name); f != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("%s reads the front-matter field %q; no CMS collection has it (site/static/cms/config.yml)", where.file, name)
		}
	}
	// Title, Description: every page has them (the page's <title> and
	// description are read from each), so every collection edits them.
	for key, file := range used.builtin {
		for _, e := range entries {
			if findFieldFold(e.fields, key) == nil {
				t.Errorf("%s reads %q of every page; CMS %s lacks it", file, key, e.name)
			}
		}
	}
	// Pages the templates fetch by path are content the CMS edits.
	for p, file := range used.pages {
		found := false
		for _, cand := range []string{p + ".md", p + "/_index.md", p + "/index.md"} {
			if _, ok := covered["content"+cand]; ok {
				found = true
			}
		}
		if !found {
			t.Errorf("%s uses the page %q; no content file for it is edited by the CMS", file, p)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// cmsEntries lists what each collection edits and the files it matches.
func cmsEntries(t *testing.T, cfg *cmsConfig) []cmsEntry {
	var out []cmsEntry
	def := cfg.I18n.DefaultLocale
	for _, c := range cfg.Collections {
		i18n := c.I18n != nil && c.I18n != false
		for _, f := range c.Files {
			var paths []string
			switch {
			case !strings.Contains(f.File, "{{locale}}"):
				paths = []string{f.File}
			default:
				for _, l := range cfg.I18n.Locales {
					if l == def && cfg.I18n.OmitDefault {
						paths = append(paths, strings.ReplaceAll(strings.ReplaceAll(f.File, ".{{locale}}", ""), "{{locale}}/", ""))
					} else {
						paths = append(paths, strings.ReplaceAll(f.File, "{{locale}}", l))
					}
				}
			}
			out = append(out, cmsEntry{name: c.Name + "/" + f.Name, fields: f.Fields, match: func(rel string) bool { return slices.Contains(paths, rel) }})
		}
		if c.Folder != "" {
			folder, ext := strings.TrimSuffix(c.Folder, "/"), c.Extension
			if ext == "" {
				ext = "md"
			}
			locales := cfg.I18n.Locales
			out = append(out, cmsEntry{name: c.Name, fields: c.Fields, slug: c.Slug, match: func(rel string) bool {
				dir, base := path.Split(rel)
				if strings.TrimSuffix(dir, "/") != folder || !strings.HasSuffix(base, "."+ext) || strings.HasPrefix(base, "_index.") {
					return false
				}
				parts := strings.Split(strings.TrimSuffix(base, "."+ext), ".")
				switch len(parts) {
				case 1:
					return true
				case 2:
					return i18n && slices.Contains(locales, parts[1]) && parts[1] != def
				}
				return false
			}})
		}
	}
	if len(out) == 0 {
		t.Fatal("the CMS configuration has no collections")
	}
	return out
}

func findField(fields []cmsField, name string) *cmsField {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
	}
	return nil
}

// findFieldFold finds a field as Hugo finds a param: without regard to case.
func findFieldFold(fields []cmsField, name string) *cmsField {
	for i := range fields {
		if strings.EqualFold(fields[i].Name, name) {
			return &fields[i]
		}
	}
	return nil
}

// richByDefault reports whether a field opens in a rich-text editor.
func richByDefault(f *cmsField) bool {
	if f.Widget != "markdown" && f.Widget != "richtext" {
		return false
	}
	return len(f.Modes) == 0 || f.Modes[0] != "raw"
}

// checkValue checks that a front-matter key is a field, and, for lists of
// objects and objects, that their keys are its subfields.
func checkValue(t *testing.T, file, collection, key string, value any, fields []cmsField) {
	t.Helper()
	f := findField(fields, key)
	if f == nil {
		t.Errorf("%s: front-matter field %q is not a field of CMS %s: editing the file there would drop it", file, key, collection)
		return
	}
	switch v := value.(type) {
	case map[string]any:
		for k, sub := range v {
			checkValue(t, file, collection, key+"."+k, sub, prefixed(key, f.Fields))
		}
	case []any:
		for _, item := range v {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			sub := f.Fields
			if f.Field != nil {
				sub = f.Field.Fields
			}
			for k, x := range m {
				checkValue(t, file, collection, key+"."+k, x, prefixed(key, sub))
			}
		}
	}
}

// prefixed names subfields by their path, as checkValue looks them up.
func prefixed(parent string, fields []cmsField) []cmsField {
	out := make([]cmsField, len(fields))
	for i, f := range fields {
		f.Name = parent + "." + f.Name
		out[i] = f
	}
	return out
}

type fieldUse struct {
	file     string
	viaParam bool
}

type templateUses struct {
	params  map[string]fieldUse // front-matter params, lower case as Hugo keeps them
	builtin map[string]string   // title, description, … → a template reading it
	pages   map[string]string   // paths given to GetPage → a template
}

var (
	// receiver.Params.name, where receiver is a page (., $letter, $page,
	// .page), not site.Params or .Site.Params (the site's settings).
	paramsRef = regexp.MustCompile(`([\w$.]*)\.Params\.(\w+)`)
	// index .Params "name", .Param "name"
	indexRef = regexp.MustCompile(`index\s+([\w$.]*)\.Params\s+"(\w+)"`)
	paramRef = regexp.MustCompile(`\.Param\s+"(\w+)"`)
	// .Title, $page.Description, … (not site.Title)
	builtinRef = regexp.MustCompile(`([\w$.]*)\.(Title|Description|LinkTitle)\b`)
	getPageRef = regexp.MustCompile(`GetPage\s+"(/[^"]*)"`)
)

func isSite(receiver string) bool {
	r := strings.ToLower(receiver)
	return r == "site" || strings.HasSuffix(r, ".site") || r == "$.site"
}

func templateFields(t *testing.T, layouts string) templateUses {
	uses := templateUses{params: map[string]fieldUse{}, builtin: map[string]string{}, pages: map[string]string{}}
	err := filepath.WalkDir(layouts, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel := "layouts/" + filepath.ToSlash(must(filepath.Rel(layouts, p)))
		text := string(b)
		for _, m := range paramsRef.FindAllStringSubmatch(text, -1) {
			if !isSite(m[1]) {
				uses.params[strings.ToLower(m[2])] = fieldUse{file: rel}
			}
		}
		for _, m := range indexRef.FindAllStringSubmatch(text, -1) {
			if !isSite(m[1]) {
				uses.params[strings.ToLower(m[2])] = fieldUse{file: rel}
			}
		}
		for _, m := range paramRef.FindAllStringSubmatch(text, -1) {
			if _, ok := uses.params[strings.ToLower(m[1])]; !ok {
				uses.params[strings.ToLower(m[1])] = fieldUse{file: rel, viaParam: true}
			}
		}
		for _, m := range builtinRef.FindAllStringSubmatch(text, -1) {
			if !isSite(m[1]) {
				uses.builtin[pageFields[m[2]]] = rel
			}
		}
		for _, m := range getPageRef.FindAllStringSubmatch(text, -1) {
			uses.pages[m[1]] = rel
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(uses.params) == 0 {
		t.Fatal("found no .Params in layouts/: the scan is broken")
	}
	keys := make([]string, 0, len(uses.params))
	for k := range uses.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("front-matter fields the templates read: %v; page fields: %v", keys, uses.builtin)
	return uses
}

// netlifyHeaders returns the headers Netlify's _headers file (text) gives
// a path: every value of every rule that matches it, as Netlify applies
// every matching rule. Rules are exact paths or end in /* (a prefix).
func netlifyHeaders(t *testing.T, text, urlPath string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	matches := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#"):
		case !strings.HasPrefix(line, " "):
			rule := strings.TrimSpace(line)
			if prefix, ok := strings.CutSuffix(rule, "*"); ok {
				matches = strings.HasPrefix(urlPath, prefix)
			} else {
				matches = urlPath == rule
			}
		case matches:
			name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				t.Fatalf("_headers: no colon in %q", line)
			}
			out[name] = append(out[name], strings.TrimSpace(value))
		}
	}
	return out
}

// checkHeadersFile checks the policies a built site's _headers gives:
// exactly one per path, the pages' for pages (csp) and the CMS's for /cms/.
func checkHeadersFile(t *testing.T, public, csp string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(public, "_headers"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/cms": cmsCSP, "/cms/": cmsCSP, "/cms/config.yml": cmsCSP, "/cms/sveltia-cms.js": cmsCSP}
	// Every page and file Hugo wrote, but the CMS's.
	err = filepath.WalkDir(public, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := "/" + filepath.ToSlash(must(filepath.Rel(public, p)))
		if strings.HasPrefix(rel, "/cms/") || strings.HasPrefix(path.Base(rel), "_") {
			return nil
		}
		want[rel] = csp
		if page, ok := strings.CutSuffix(rel, "index.html"); ok {
			want[page] = csp
			if page != "/" {
				want[strings.TrimSuffix(page, "/")] = csp
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want["/"] == "" || want["/thanks/"] == "" {
		t.Fatalf("the build has no / or /thanks/ page: %v", want)
	}
	for p, csp := range want {
		got := netlifyHeaders(t, string(b), p)["Content-Security-Policy"]
		if len(got) != 1 || got[0] != csp {
			t.Errorf("_headers gives %s the policies %q, want only %q", p, got, csp)
		}
	}
	if got := netlifyHeaders(t, string(b), "/cms/")["X-Robots-Tag"]; len(got) != 1 || got[0] != "noindex, nofollow" {
		t.Errorf("_headers gives /cms/ X-Robots-Tag %q", got)
	}
}

// `campaign serve` gives /cms/ its own policy and keeps it from search
// engines; the pages keep theirs.
func TestStaticSiteCMSHeaders(t *testing.T) {
	public := t.TempDir()
	os.WriteFile(filepath.Join(public, "index.html"), []byte("<p>page</p>"), 0o644)
	os.MkdirAll(filepath.Join(public, "cms"), 0o755)
	os.WriteFile(filepath.Join(public, "cms", "index.html"), []byte("<p>cms</p>"), 0o644)
	os.WriteFile(filepath.Join(public, "cms", "config.yml"), []byte("backend: {}\n"), 0o644)
	srv := httptest.NewServer(staticSite(public, siteCSP))
	defer srv.Close()
	for p, want := range map[string]string{"/": siteCSP, "/cms/": cmsCSP, "/cms/config.yml": cmsCSP, "/cmsx": siteCSP} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != want {
			t.Errorf("%s: Content-Security-Policy %q, want %q", p, got, want)
		}
		if robots := resp.Header.Get("X-Robots-Tag"); (want == cmsCSP) != (robots == "noindex, nofollow") {
			t.Errorf("%s: X-Robots-Tag %q", p, robots)
		}
	}
}

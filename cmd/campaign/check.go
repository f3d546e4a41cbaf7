package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"

	"campaignkit/handler/letter"
)

// The campaign's own checks, run before Hugo builds: mistakes an editor
// makes in content/ and site/i18n that Hugo would publish without a word
// and the handler would then refuse (or, worse, send). Each problem is one
// sentence that starts with the file (and line) to fix; all are reported
// together. They read the source, not Hugo's output, to name the line.

// campaignCheck is the result: problems fail the build; warnings do not.
type campaignCheck struct {
	root     string // paths in messages are relative to it
	problems []string
	warnings []string
}

// name is file (relative to the project) and line, as messages say it.
func (c *campaignCheck) name(file string, line int) string {
	name := file
	if rel, err := filepath.Rel(c.root, file); err == nil {
		name = filepath.ToSlash(rel)
	}
	if line > 0 {
		name = fmt.Sprintf("%s:%d", name, line)
	}
	return name
}

func (c *campaignCheck) at(file string, line int, format string, args ...any) string {
	return c.name(file, line) + ": " + fmt.Sprintf(format, args...)
}

func (c *campaignCheck) problem(file string, line int, format string, args ...any) {
	c.problems = append(c.problems, c.at(file, line, format, args...))
}

func (c *campaignCheck) warn(file string, line int, format string, args ...any) {
	c.warnings = append(c.warnings, c.at(file, line, format, args...))
}

// err is every problem, one per line, or nil.
func (c *campaignCheck) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	n := "1 problem"
	if len(c.problems) > 1 {
		n = fmt.Sprintf("%d problems", len(c.problems))
	}
	return fmt.Errorf("the campaign has %s; nothing was built:\n  %s", n, strings.Join(c.problems, "\n  "))
}

// letterSource is a letter's Markdown file as the checks read it.
type letterSource struct {
	file, lang, id string
	name           string // the file's name, without language and .md
	idLine         int
}

// checkCampaign checks the campaign whose Hugo project is siteDir.
// production makes a target still at a .example address a problem (a
// production deploy would mail nobody real); elsewhere it is a warning.
func checkCampaign(siteDir string, production bool) *campaignCheck {
	siteDir, _ = filepath.Abs(siteDir)
	c := &campaignCheck{root: filepath.Dir(siteDir)}
	mounts := readMounts(c, siteDir)
	langs := checkTranslations(c, mounts["i18n"], filepath.Join(siteDir, "hugo.toml"))
	content := mounts["content"]
	letters := map[string]map[string]letterSource{} // lang → id → letter
	files, _ := filepath.Glob(filepath.Join(content, "letters", "*.md"))
	sort.Strings(files)
	var found []letterSource
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "_index") {
			continue
		}
		if l, ok := checkLetter(c, f, content, langs, production); ok && l.id != "" {
			found = append(found, l)
		}
	}
	for _, l := range found {
		if letters[l.lang] == nil {
			letters[l.lang] = map[string]letterSource{}
		}
		if first, dup := letters[l.lang][l.id]; dup {
			c.problem(l.file, l.idLine, "id %q is already the id of %s: each letter needs its own (like %q, its file's name)", l.id, c.name(first.file, first.idLine), l.name)
			continue
		}
		letters[l.lang][l.id] = l
	}
	for _, l := range found {
		if l.id != l.name && letters[l.lang][l.id].file == l.file {
			c.problem(l.file, l.idLine, "id %q differs from the file's name: rename the file %s.md or make the id %q (the letter's page is /letters/<file name>/)", l.id, l.id, l.name)
		}
	}
	if len(files) == 0 {
		c.problem(filepath.Join(content, "letters"), 0, "there is no letter: add one with `campaign new letter <id>`")
	}
	checkPagesNameLetters(c, content, langs, letters)
	return c
}

// readMounts finds where the site's content and i18n come from (its
// hugo.toml mounts them from outside site/).
func readMounts(c *campaignCheck, siteDir string) map[string]string {
	dirs := map[string]string{"content": filepath.Join(siteDir, "content"), "i18n": filepath.Join(siteDir, "i18n")}
	raw, err := os.ReadFile(filepath.Join(siteDir, "hugo.toml"))
	if err != nil {
		return dirs
	}
	var cfg struct {
		Module struct {
			Mounts []struct{ Source, Target string }
		}
	}
	if err := toml.Unmarshal(raw, &cfg); err != nil {
		return dirs // Hugo reports it, with its line
	}
	for _, m := range cfg.Module.Mounts {
		if _, ok := dirs[m.Target]; ok {
			dirs[m.Target] = filepath.Join(siteDir, m.Source)
		}
	}
	return dirs
}

// checkTranslations holds every language's i18n file to the same keys, and
// returns the site's languages: those with an i18n file and those
// hugo.toml declares.
func checkTranslations(c *campaignCheck, dir, hugoToml string) map[string]bool {
	langs := map[string]bool{}
	type key struct {
		file string
		line int
	}
	keys := map[string]map[string]key{} // lang → key → where
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(files)
	for _, f := range files {
		lang := strings.TrimSuffix(filepath.Base(f), ".yaml")
		langs[lang] = true
		keys[lang] = map[string]key{}
		raw, err := os.ReadFile(f)
		if err != nil {
			c.problem(f, 0, "%v", err)
			continue
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			c.problem(f, 0, "not valid YAML: %v", err)
			continue
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			keys[lang][m.Content[i].Value] = key{f, m.Content[i].Line}
		}
	}
	var cfg struct {
		DefaultContentLanguage string
		Languages              map[string]any
	}
	if raw, err := os.ReadFile(hugoToml); err == nil && toml.Unmarshal(raw, &cfg) == nil {
		for lang := range cfg.Languages {
			if !langs[lang] {
				c.problem(hugoToml, 0, "the site offers the language %q but has no translations for it: add %s", lang,
					c.name(filepath.Join(dir, lang+".yaml"), 0))
			}
		}
	}
	order := slices.Sorted(func(yield func(string) bool) {
		for l := range keys {
			if !yield(l) {
				return
			}
		}
	})
	for _, lang := range order {
		for _, other := range order {
			if other == lang {
				continue
			}
			var missing []string
			for k := range keys[other] {
				if _, ok := keys[lang][k]; !ok {
					missing = append(missing, k)
				}
			}
			sort.Strings(missing)
			for _, k := range missing {
				// Reported once, against the first language that has it.
				if first := firstWith(order, keys, k); first == other {
					w := keys[other][k]
					c.problem(filepath.Join(dir, lang+".yaml"), 0, "no translation for %q (%s has it on line %d)", k,
						filepath.Base(w.file), w.line)
				}
			}
		}
	}
	return langs
}

func firstWith[K any](order []string, keys map[string]map[string]K, k string) string {
	for _, l := range order {
		if _, ok := keys[l][k]; ok {
			return l
		}
	}
	return ""
}

// frontMatter is a Markdown file split into its YAML front matter (parsed,
// with lines) and its body, with the line the body starts on.
type frontMatter struct {
	root     *yaml.Node // a mapping, or nil
	body     string
	bodyLine int
}

var frontMatterPattern = regexp.MustCompile(`(?s)\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\z)`)

func readFrontMatter(c *campaignCheck, file string) (*frontMatter, bool) {
	raw, err := os.ReadFile(file)
	if err != nil {
		c.problem(file, 0, "%v", err)
		return nil, false
	}
	m := frontMatterPattern.FindSubmatchIndex(raw)
	if m == nil {
		return &frontMatter{body: string(raw), bodyLine: 1}, true
	}
	fm := &frontMatter{body: string(raw[m[1]:]), bodyLine: 1 + bytes.Count(raw[:m[1]], []byte("\n"))}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw[m[2]:m[3]], &doc); err != nil {
		line := 0
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			if n := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error()); n != nil {
				fmt.Sscan(n[1], &line)
				line++ // the opening ---
			}
		}
		c.problem(file, line, "the front matter is not valid YAML: %v", err)
		return nil, false
	}
	if len(doc.Content) > 0 && doc.Content[0].Kind == yaml.MappingNode {
		fm.root = doc.Content[0]
	}
	return fm, true
}

// yamlGet returns the value under key in a mapping node and the line (in the
// file) of its key.
func yamlGet(m *yaml.Node, key string) (*yaml.Node, int) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1], m.Content[i].Line + 1 // + the opening ---
		}
	}
	return nil, 0
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

var (
	// shortcodePattern matches a shortcode call: {{< name args >}} or {{% … %}}.
	shortcodePattern = regexp.MustCompile(`\{\{[<%]\s*(/?)\s*([A-Za-z_-]+)((?:\s+(?:"[^"]*"|[^\s>%"]+))*)\s*/?\s*[>%]\}\}`)
	argPattern       = regexp.MustCompile(`"([^"]*)"|(\S+)`)
	// rawPlaceholderPattern is a merge field typed as {{name}} rather than
	// as the shortcode: the handler merges those too.
	rawPlaceholderPattern = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
)

// checkLetter checks one letter's file.
func checkLetter(c *campaignCheck, file, content string, langs map[string]bool, production bool) (letterSource, bool) {
	l := letterSource{file: file}
	name := strings.TrimSuffix(filepath.Base(file), ".md")
	if i := strings.LastIndex(name, "."); i > 0 && langs[name[i+1:]] {
		name, l.lang = name[:i], name[i+1:]
	}
	fm, ok := readFrontMatter(c, file)
	if !ok {
		return l, false
	}
	if fm.root == nil {
		c.problem(file, 1, "the letter has no front matter: start it with `---`, its id, subject and targets, and `---` (see `campaign new letter`)")
		return l, false
	}
	idNode, idLine := yamlGet(fm.root, "id")
	l.id, l.idLine = scalar(idNode), idLine
	switch {
	case l.id == "":
		c.problem(file, idLine, "the letter has no id: add `id: %s` to its front matter", name)
	case !letter.ValidID(l.id):
		c.problem(file, idLine, "id %q is not a letter id: %s", l.id, letter.IDRule)
		l.id = ""
	}
	l.name = name
	if s, line := yamlGet(fm.root, "subject"); scalar(s) == "" {
		c.problem(file, line, "the letter has no subject: add `subject: \"…\"` to its front matter")
	}
	if n, line := yamlGet(fm.root, "thanks"); line > 0 && !pageExists(content, scalar(n)) {
		c.problem(file, line, "thanks: %q is no page under content/ (like /thanks for content/thanks.md)", scalar(n))
	}
	targets, tLine := yamlGet(fm.root, "targets")
	var names []string
	if targets == nil || targets.Kind != yaml.SequenceNode || len(targets.Content) == 0 {
		c.problem(file, tLine, "the letter has no targets: list who receives it under `targets:` (name, title, email, salutation)")
	} else {
		for i, t := range targets.Content {
			n, _ := yamlGet(t, "name")
			who := fmt.Sprintf("target %d", i+1)
			if scalar(n) == "" {
				c.problem(file, t.Line+1, "%s has no name", who)
			} else {
				who = fmt.Sprintf("target %d (%s)", i+1, scalar(n))
				names = append(names, scalar(n))
			}
			e, eLine := yamlGet(t, "email")
			email := scalar(e)
			if eLine == 0 {
				eLine = t.Line + 1
			}
			if a, err := mail.ParseAddress(email); email == "" || err != nil || a.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
				c.problem(file, eLine, "%s has no valid email address (%q): write it plainly, like name@agency.gov", who, email)
			} else if (letter.Target{Email: email}).Placeholder() {
				if production {
					c.problem(file, eLine, "%s is still at the placeholder address %s: set the real one before a production deploy", who, email)
				} else {
					c.warn(file, eLine, "%s is still at the placeholder address %s: set the real one before launch", who, email)
				}
			}
			if s, sLine := yamlGet(t, "salutation"); scalar(s) == "" {
				if sLine == 0 {
					sLine = t.Line + 1
				}
				c.problem(file, sLine, "%s has no salutation: add one, like `salutation: \"Dear Secretary Nielsen,\"`", who)
			}
		}
	}
	checkBody(c, file, fm, names)
	return l, true
}

// checkBody checks the letter's shortcodes: known merge fields, and
// per-target passages that name targets of this letter and close.
func checkBody(c *campaignCheck, file string, fm *frontMatter, targets []string) {
	lineOf := func(offset int) int { return fm.bodyLine + strings.Count(fm.body[:offset], "\n") }
	openOnly := -1
	for _, m := range shortcodePattern.FindAllStringSubmatchIndex(fm.body, -1) {
		closing, name := fm.body[m[2]:m[3]] == "/", fm.body[m[4]:m[5]]
		var args []string
		for _, a := range argPattern.FindAllStringSubmatch(fm.body[m[6]:m[7]], -1) {
			args = append(args, a[1]+a[2])
		}
		line := lineOf(m[0])
		switch name {
		case "field":
			if len(args) != 1 {
				c.problem(file, line, "a field shortcode names one merge field, like {{< field city >}}")
			} else if !mergeableField(args[0]) {
				c.problem(file, line, "unknown merge field %q: the fields are %s", args[0], strings.Join(mergeFieldNames(), ", "))
			}
		case "only":
			// The marker lines the supporter edits stand on lines of their
			// own: a passage's shortcodes must too, or the handler could not
			// find it and every official would get it, markers included.
			lineStart := strings.LastIndexByte(fm.body[:m[0]], '\n') + 1
			lineEnd := len(fm.body)
			if i := strings.IndexByte(fm.body[m[1]:], '\n'); i >= 0 {
				lineEnd = m[1] + i
			}
			if strings.TrimSpace(fm.body[lineStart:m[0]]) != "" || strings.TrimSpace(fm.body[m[1]:lineEnd]) != "" {
				c.problem(file, line, "%s must stand on a line of its own, with the passage on the lines between", fm.body[m[0]:m[1]])
			}
			if closing {
				if openOnly < 0 {
					c.problem(file, line, "{{< /only >}} closes no {{< only … >}}")
				}
				openOnly = -1
				continue
			}
			if openOnly >= 0 {
				c.problem(file, line, "{{< only … >}} inside another (opened on line %d): close the first with {{< /only >}}", openOnly)
			}
			openOnly = line
			if len(args) == 0 {
				c.problem(file, line, "{{< only >}} names no target: write the names, like {{< only \"%s\" >}}", strings.Join(append(targets, "Name")[:1], ""))
			}
			for _, a := range argPattern.FindAllStringSubmatch(fm.body[m[6]:m[7]], -1) {
				if a[2] != "" {
					c.problem(file, line, "{{< only %s >}}: write the target's name in quotes, like {{< only \"%s\" >}}", a[2], a[2])
				}
			}
			for _, a := range args {
				if !slices.Contains(targets, a) {
					c.problem(file, line, "{{< only %q >}} names no target of this letter: the targets are %s", a, quoteAll(targets))
				}
			}
		}
	}
	if openOnly >= 0 {
		c.problem(file, openOnly, "{{< only … >}} is never closed: end the passage with {{< /only >}}")
	}
	for _, m := range rawPlaceholderPattern.FindAllStringSubmatchIndex(fm.body, -1) {
		if f := fm.body[m[2]:m[3]]; !mergeableField(f) {
			c.problem(file, lineOf(m[0]), "unknown merge field {{%s}}: the fields are %s (write them as {{< field city >}})", f, strings.Join(mergeFieldNames(), ", "))
		}
	}
}

func mergeableField(name string) bool {
	return slices.Contains(mergeFieldNames(), name)
}

func mergeFieldNames() []string {
	names := []string{letter.FullName}
	for _, f := range letter.Fields {
		if f.Merge {
			names = append(names, f.Name)
		}
	}
	return names
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// pageExists reports whether a page path (as site.GetPage takes it) is a
// page under content.
func pageExists(content, page string) bool {
	page = strings.Trim(page, "/")
	if page == "" {
		return false
	}
	for _, f := range []string{page + ".md", filepath.Join(page, "index.md"), filepath.Join(page, "_index.md")} {
		if _, err := os.Stat(filepath.Join(content, filepath.FromSlash(f))); err == nil {
			return true
		}
	}
	return false
}

// checkPagesNameLetters holds each page's `letter:` to a letter that
// exists (in the page's language, when there is one of its own).
func checkPagesNameLetters(c *campaignCheck, content string, langs map[string]bool, letters map[string]map[string]letterSource) {
	files, _ := filepath.Glob(filepath.Join(content, "*.md"))
	sort.Strings(files)
	for _, f := range files {
		fm, ok := readFrontMatter(c, f)
		if !ok {
			continue
		}
		n, line := yamlGet(fm.root, "letter")
		if line == 0 {
			if strings.HasPrefix(filepath.Base(f), "_index") {
				c.problem(f, 0, "the campaign page names no letter to feature: add `letter: <id>` to its front matter")
			}
			continue
		}
		id := scalar(n)
		lang := ""
		name := strings.TrimSuffix(filepath.Base(f), ".md")
		if i := strings.LastIndex(name, "."); i > 0 && langs[name[i+1:]] {
			lang = name[i+1:]
		}
		if _, ok := letters[lang][id]; ok {
			continue
		}
		if _, ok := letters[""][id]; ok {
			continue // a translated page may feature the letter of the default language
		}
		var ids []string
		for _, byID := range letters {
			for id := range byID {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		sort.Strings(ids)
		c.problem(f, line, "letter %q does not exist: the letters are %s (in content/letters/)", id, quoteAll(ids))
	}
}

// letterErrorPattern finds the letter a published letter's problem is about
// (letter.Validate's `letter "id": …`).
var letterErrorPattern = regexp.MustCompile(`(?m)^letter "([a-z0-9-]+)": `)

// nameLetterFiles starts each of the handler's complaints about a published
// letter with the letter's file (content/letters/<id>.md, as the checks hold
// ids to file names), for what only Hugo's output shows.
func nameLetterFiles(err error) error {
	return fmt.Errorf("%s", letterErrorPattern.ReplaceAllString(err.Error(), `content/letters/$1.md: letter "$1": `))
}

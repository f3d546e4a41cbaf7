package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// copyProject copies the campaign's editable parts (site/, content/,
// layouts/) into a temp folder, a project of its own to spoil.
func copyProject(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	for _, dir := range []string{"site", "content", "layouts"} {
		src := filepath.Join(repoRoot(t), dir)
		err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot(t), path)
			if d.Name() == ".hugo_build.lock" {
				return nil
			}
			if d.IsDir() {
				if rel == filepath.Join("site", "resources") {
					return fs.SkipDir
				}
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// edit rewrites a file of the project: old must be there.
func edit(t testing.TB, proj, file, old, new string) {
	t.Helper()
	path := filepath.Join(proj, file)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func write(t testing.TB, proj, file, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(proj, file)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, file), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// campaignIn runs the real binary in the project folder proj.
func campaignIn(t testing.TB, proj string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = proj
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CAMPAIGN_DATA_DIR=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const seed = "content/letters/family-separation.md"

// Each mistake an editor can make fails `campaign build` (what Netlify
// runs) with a sentence that names the file and, where there is one, the line.
func TestBuildRefusesABrokenCampaign(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		spoil func(t *testing.T, proj string)
		want  []string // in the output, besides "nothing was built"
	}{
		{"a letter without targets", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "targets:", "old_targets:")
		}, []string{seed + ": the letter has no targets"}},
		{"a target without a valid address", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "email: secretary@dhs.example", "email: secretary at dhs")
		}, []string{seed + ":25: target 2 (Kirstjen Nielsen) has no valid email address (\"secretary at dhs\")"}},
		{"a target without a salutation", nil, func(t *testing.T, p string) {
			edit(t, p, seed, `    salutation: "Dear Secretary Nielsen,"`+"\n", "")
		}, []string{seed + ":23: target 2 (Kirstjen Nielsen) has no salutation"}},
		{"an unknown merge field", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "{{< field city >}}", "{{< field town >}}")
		}, []string{seed + ":51: unknown merge field \"town\""}},
		{"a misspelled placeholder", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "I am writing", "I, {{first_nam}}, am writing")
		}, []string{seed + ":28: unknown merge field {{first_nam}}"}},
		{"a letter without an id", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "id: family-separation\n", "")
		}, []string{seed + ": the letter has no id: add `id: family-separation`"}},
		{"an id that is no letter id", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "id: family-separation", "id: Family Separation")
		}, []string{seed + ":3: id \"Family Separation\" is not a letter id: use lower-case letters"}},
		{"a duplicate id", nil, func(t *testing.T, p string) {
			raw, _ := os.ReadFile(filepath.Join(p, seed))
			write(t, p, "content/letters/second.md", string(raw))
		}, []string{"content/letters/second.md:3: id \"family-separation\" is already the id of " + seed + ":3"}},
		{"a page naming a letter that does not exist", nil, func(t *testing.T, p string) {
			edit(t, p, "content/_index.md", "letter: family-separation", "letter: family-separaton")
		}, []string{"content/_index.md:13: letter \"family-separaton\" does not exist: the letters are \"family-separation\""}},
		{"a campaign page without a letter", nil, func(t *testing.T, p string) {
			edit(t, p, "content/_index.md", "letter: family-separation\n", "")
		}, []string{"content/_index.md: the campaign page names no letter to feature"}},
		{"a thank-you page that does not exist", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "confirm: true", "thanks: /thank-you\nconfirm: true")
		}, []string{seed + ":7: thanks: \"/thank-you\" is no page under content/"}},
		{"a missing translation", nil, func(t *testing.T, p string) {
			edit(t, p, "site/i18n/en.yaml", `send: "Sign and send the letter"`+"\n", "")
			write(t, p, "site/i18n/fr.yaml", `send: "Signer et envoyer la lettre"`+"\n")
		}, []string{"site/i18n/en.yaml: no translation for \"send\" (es.yaml has it on line",
			"site/i18n/fr.yaml: no translation for \"back_to_campaign\" (en.yaml has it on line"}},
		{"a language without translations", nil, func(t *testing.T, p string) {
			edit(t, p, "site/hugo.toml", "\n[params]", "\n[languages.fr]\n  weight = 3\n\n[params]")
		}, []string{"site/hugo.toml: the site offers the language \"fr\" but has no translations for it: add site/i18n/fr.yaml"}},
		{"a passage for a target the letter does not have", nil, func(t *testing.T, p string) {
			edit(t, p, seed, `{{< only "Kirstjen Nielsen" >}}`, `{{< only "Kirstjen Nielson" >}}`)
		}, []string{seed + ":", `{{< only "Kirstjen Nielson" >}} names no target of this letter: the targets are "Donald J. Trump", "Kirstjen Nielsen"`}},
		{"a passage never closed", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "{{< /only >}}\n\nFamily", "\n\nFamily")
		}, []string{seed + ":38: {{< only … >}} is never closed"}},
		{"a passage inside another", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "{{< /only >}}\n\n{{< only", "\n\n{{< only")
		}, []string{seed + ":38: {{< only … >}} inside another (opened on line 34)"}},
		{"a passage written inside a paragraph", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "{{< only \"Kirstjen Nielsen\" >}}\n", "{{< only \"Kirstjen Nielsen\" >}} ")
		}, []string{seed + ":38: {{< only \"Kirstjen Nielsen\" >}} must stand on a line of its own"}},
		{"a passage naming a target without quotes", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "{{< only \"Donald J. Trump\" >}}", "{{< only Trump >}}")
		}, []string{seed + ":34: {{< only Trump >}}: write the target's name in quotes"}},
		{"a placeholder address in production", []string{"CONTEXT=production"}, func(t *testing.T, p string) {
		}, []string{seed + ":21: target 1 (Donald J. Trump) is still at the placeholder address president@whitehouse.example: set the real one before a production deploy",
			seed + ":25: target 2 (Kirstjen Nielsen) is still at the placeholder address"}},
		{"several mistakes at once", nil, func(t *testing.T, p string) {
			edit(t, p, seed, "email: secretary@dhs.example", "email: ")
			edit(t, p, seed, "{{< field zip >}}", "{{< field zipcode >}}")
		}, []string{"2 problems", seed + ":25: target 2", seed + ":51: unknown merge field \"zipcode\""}},
		{"what only the published letter shows names the letter's file", nil, func(t *testing.T, p string) {
			edit(t, p, "site/data/form.yaml", "  - {name: zip, half: true, type: text, autocomplete: postal-code, required: true, maxlength: 10, inputmode: numeric}\n", "")
		}, []string{seed + `: letter "family-separation": form field "zip" is required by the handler but missing from the form (site/data/form.yaml)`}},
		{"Hugo's own error keeps its file and line", nil, func(t *testing.T, p string) {
			edit(t, p, "layouts/page.html", "{{ .Content }}", "{{ .Content }\n")
		}, []string{"page.html:11: unexpected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proj := copyProject(t)
			tt.spoil(t, proj)
			out, err := campaignIn(t, proj, tt.env, "build", "-public", filepath.Join(t.TempDir(), "public"), "-function", "")
			if err == nil {
				t.Fatalf("campaign build succeeded:\n%s", out)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("the output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// Outside production a placeholder address is a warning that names its
// line, and the build goes on.
func TestBuildWarnsOfPlaceholdersOutsideProduction(t *testing.T) {
	proj := copyProject(t)
	public := filepath.Join(t.TempDir(), "public")
	out, err := campaignIn(t, proj, []string{"CONTEXT=deploy-preview"}, "build", "-public", public, "-function", "")
	if err != nil {
		t.Fatalf("campaign build: %v\n%s", err, out)
	}
	if !strings.Contains(out, "warning: "+seed+":21: target 1 (Donald J. Trump) is still at the placeholder address") {
		t.Errorf("no warning naming the placeholder's line:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(public, "index.html")); err != nil {
		t.Error(err)
	}
}

// `campaign new letter <id>` makes a letter from the archetype that explains
// every field the templates read, refuses an id in use or one the handler
// would not take, and the new letter builds: its placeholder target warns
// outside production and does not fail the build.
func TestNewLetter(t *testing.T) {
	proj := copyProject(t)
	out, err := campaignIn(t, proj, nil, "new", "letter", "asylum-now")
	if err != nil {
		t.Fatalf("campaign new letter: %v\n%s", err, out)
	}
	if !strings.Contains(out, "created content/letters/asylum-now.md") {
		t.Errorf("the output does not name the new file:\n%s", out)
	}
	raw, err := os.ReadFile(filepath.Join(proj, "content/letters/asylum-now.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if !strings.Contains(text, "\nid: asylum-now\n") {
		t.Errorf("the new letter's id is not its file's name:\n%s", text)
	}
	// Every front-matter field a template reads is in the archetype, each
	// after a comment that explains it.
	var params []string
	filepath.WalkDir(filepath.Join(repoRoot(t), "layouts"), func(path string, d fs.DirEntry, err error) error {
		// layouts/page.html is the plain pages' (thank-you, privacy):
		// its fields (next, ask, share) are no letter's.
		if err == nil && !d.IsDir() && path != filepath.Join(repoRoot(t), "layouts", "page.html") {
			raw, _ := os.ReadFile(path)
			for _, m := range paramPattern.FindAllStringSubmatch(string(raw), -1) {
				// A letter's own, not the site's (site.Params) or the
				// campaign page's choice of letter.
				if !strings.HasPrefix(m[0], "site") && m[1] != "letter" && !slices.Contains(params, m[1]) {
					params = append(params, m[1])
				}
			}
		}
		return err
	})
	if len(params) < 5 {
		t.Fatalf("found only %v read by the templates", params)
	}
	lines := strings.Split(text, "\n")
	for _, p := range params {
		i := slices.IndexFunc(lines, func(l string) bool {
			return strings.HasPrefix(strings.TrimLeft(l, " #-"), p+":")
		})
		// A comment line explains it: the field's own (commented out, like
		// `# goal: 10000`) or the line before.
		if i < 1 || !strings.HasPrefix(lines[i], "#") && !strings.HasPrefix(lines[i-1], "#") {
			t.Errorf("the archetype does not explain %q", p)
		}
	}
	for _, p := range []string{"title", "name", "email", "salutation"} {
		if !strings.Contains(text, " "+p+": ") {
			t.Errorf("the archetype has no %q", p)
		}
	}
	for _, tt := range []struct{ args, want string }{
		{"asylum-now", "content/letters/asylum-now.md already exists"},
		{"family-separation", "content/letters/family-separation.md already exists"},
		{"Asylum_Now", `"Asylum_Now" cannot be a letter's id: use lower-case letters a-z, digits and dashes`},
		{"-x", "cannot be a letter's id"},
	} {
		out, err := campaignIn(t, proj, nil, "new", "letter", tt.args)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("new letter %s: %v, output lacks %q:\n%s", tt.args, err, tt.want, out)
		}
	}
	public := filepath.Join(t.TempDir(), "public")
	out, err = campaignIn(t, proj, nil, "build", "-public", public, "-function", "")
	if err != nil {
		t.Fatalf("the new letter does not build: %v\n%s", err, out)
	}
	if !strings.Contains(out, "warning: content/letters/asylum-now.md:") || !strings.Contains(out, "placeholder address") {
		t.Errorf("no warning for the new letter's placeholder target:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(public, "letters/asylum-now/index.html")); err != nil {
		t.Errorf("the new letter has no page: %v", err)
	}
	if _, err := campaignIn(t, proj, []string{"CONTEXT=production"}, "build", "-public", public, "-function", ""); err == nil {
		t.Error("a production build took the new letter's placeholder target")
	}
}

var paramPattern = regexp.MustCompile(`(?:site)?\.Params\.([a-z_]+)`)

// BenchmarkCheckCampaign1000 measures the checks alone on a campaign of
// 1,000 letters (go test ./cmd/campaign -run - -bench CheckCampaign).
func BenchmarkCheckCampaign1000(b *testing.B) {
	proj := copyProject(b)
	raw, err := os.ReadFile(filepath.Join(proj, seed))
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i < 1000; i++ {
		id := fmt.Sprintf("letter-%04d", i)
		write(b, proj, "content/letters/"+id+".md", strings.Replace(string(raw), "id: family-separation", "id: "+id, 1))
	}
	for b.Loop() {
		if c := checkCampaign(filepath.Join(proj, "site"), false); c.err() != nil || len(c.warnings) != 2000 {
			b.Fatalf("%v, %d warnings", c.err(), len(c.warnings))
		}
	}
}

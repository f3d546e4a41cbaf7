package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"campaignkit/handler/letter"
	"campaignkit/netlify/buildinfo"
)

// A preview build (HUGO_PARAMS_PREVIEW=true, as a deploy preview sets it)
// tells every visitor that letters are not delivered; a normal build does not.
func TestPreviewBanner(t *testing.T) {
	for _, preview := range []bool{false, true} {
		public := filepath.Join(t.TempDir(), "public")
		// A temp function folder: the repository's belongs to the function's own tests.
		cmd := exec.Command(binary, "build", "-public", public, "-function", t.TempDir())
		cmd.Dir = repoRoot(t)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		if preview {
			cmd.Env = append(cmd.Env, "HUGO_PARAMS_PREVIEW=true")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("campaign build: %v\n%s", err, out)
		}
		for _, page := range []string{"index.html", "thanks/index.html"} {
			html, err := os.ReadFile(filepath.Join(public, page))
			if err != nil {
				t.Fatal(err)
			}
			has := strings.Contains(string(html), `<p class=banner role=status>Preview: letters are not delivered.</p>`)
			if has != preview {
				t.Errorf("preview=%v: %s has the banner: %v", preview, page, has)
			}
		}
	}
}

// On Netlify, a deploy preview's build (CONTEXT=deploy-preview) shows the
// banner and tells the function it is a preview; production's does neither.
func TestDeployContextReachesPageAndFunction(t *testing.T) {
	for _, deployContext := range []string{"production", "deploy-preview", "branch-deploy"} {
		public, function := filepath.Join(t.TempDir(), "public"), t.TempDir()
		cmd := exec.Command(binary, "build", "-public", public, "-function", function)
		cmd.Dir = repoRoot(t)
		if deployContext == "production" {
			// Production refuses the seed's placeholder addresses: a copy
			// with real-looking ones.
			cmd.Dir = copyProject(t)
			for _, f := range []string{seed, strings.Replace(seed, ".md", ".es.md", 1)} {
				edit(t, cmd.Dir, f, "president@whitehouse.example", "president@whitehouse.gov")
				edit(t, cmd.Dir, f, "secretary@dhs.example", "secretary@dhs.gov")
			}
		}
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CONTEXT=" + deployContext}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("campaign build: %v\n%s", err, out)
		}
		html, err := os.ReadFile(filepath.Join(public, "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		preview := deployContext != "production"
		if has := strings.Contains(string(html), "Preview: letters are not delivered."); has != preview {
			t.Errorf("%s: banner shown %v, want %v", deployContext, has, preview)
		}
		files := os.DirFS(function)
		info, err := buildinfo.Read(files)
		if err != nil || info.Context != deployContext || info.Preview() != preview {
			t.Errorf("%s: function build info %+v, %v", deployContext, info, err)
		}
		letters, err := letter.Load(buildinfo.Site(files))
		if err != nil {
			t.Errorf("%s: the function's letters do not load: %v", deployContext, err)
		} else if es := letters["family-separation"].In("es"); es.Lang != "es" || !strings.Contains(es.Body, "Le escribo") {
			t.Errorf("%s: the function lacks the Spanish letter", deployContext)
		}
	}
}

// TestEveryI18nKeyInEveryLanguage: each key of site/i18n/en.yaml is in
// every other language's file, with words, and no file has a key the
// English lacks: a missing one would show English, or nothing, to a
// Spanish reader.
func TestEveryI18nKeyInEveryLanguage(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "site", "i18n")
	keys := func(name string) map[string]string {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, match := range i18nKey.FindAllStringSubmatch(string(raw), -1) {
			if _, dup := m[match[1]]; dup {
				t.Errorf("%s: %s twice", name, match[1])
			}
			m[match[1]] = strings.Trim(strings.TrimSpace(match[2]), `"`)
		}
		return m
	}
	en := keys("en.yaml")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("site/i18n holds %v (%v): no translation", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "en.yaml" {
			continue
		}
		other := keys(name)
		for k := range en {
			if v, ok := other[k]; !ok || v == "" {
				t.Errorf("%s lacks %s", name, k)
			}
		}
		for k := range other {
			if _, ok := en[k]; !ok {
				t.Errorf("%s has %s, which en.yaml lacks", name, k)
			}
		}
	}
	if len(en) < 100 {
		t.Errorf("en.yaml has %d keys: the pattern misreads it", len(en))
	}
}

// i18nKey is a top-level key of an i18n file and the rest of its line
// (a block scalar's "|").
var i18nKey = regexp.MustCompile(`(?m)^([a-z_]+):(.*)$`)

package main

import (
	"os"
	"os/exec"
	"path/filepath"
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
			edit(t, cmd.Dir, seed, "president@whitehouse.example", "president@whitehouse.gov")
			edit(t, cmd.Dir, seed, "secretary@dhs.example", "secretary@dhs.gov")
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
		if _, err := letter.Load(files); err != nil {
			t.Errorf("%s: the function's letters do not load: %v", deployContext, err)
		}
	}
}

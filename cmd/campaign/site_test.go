package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A preview build (HUGO_PARAMS_PREVIEW=true, as a deploy preview sets it)
// tells every visitor that letters are not delivered; a normal build does not.
func TestPreviewBanner(t *testing.T) {
	for _, preview := range []bool{false, true} {
		public := filepath.Join(t.TempDir(), "public")
		cmd := exec.Command(binary, "build", "-public", public)
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

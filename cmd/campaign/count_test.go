package main

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
)

var countImg = regexp.MustCompile(`<p class=count><img src=/api/letters/family-separation/count\.svg width=320 height=(\d+) loading=lazy alt="([^"]+)"></p>`)

// `campaign serve` shows the count on the campaign page, as an image its
// handler draws from the database, and the count follows the letters sent.
func TestServeShowsTheCount(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: append(mailgunEnv(mg), noConfirm)})
	_, page := get(t, inst.URL+"/")
	m := countImg.FindStringSubmatch(page)
	if m == nil || m[1] != "24" || m[2] != "How many people have signed so far" {
		t.Fatalf("the campaign page shows no count image as expected (no goal: 24 px high): %q", m)
	}
	form := url.Values{"letter": {"family-separation"}, "first_name": {"Jane"}, "last_name": {"Doe"}, "email": {"jane@example.org"},
		"address": {"12 Elm St"}, "city": {"Springfield"}, "state": {"IL"}, "zip": {"62701"}}
	resp, err := http.PostForm(inst.URL+"/api/sign", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, svg := get(t, inst.URL+"/api/letters/family-separation/count.svg")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/svg+xml") ||
		resp.Header.Get("Cache-Control") != "public, max-age=30" || !strings.Contains(svg, "<title id=\"count-title\">1 signature</title>") {
		t.Errorf("count.svg after one letter sent: %d %q %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), svg)
	}
	if _, body := get(t, inst.URL+"/api/letters/family-separation/count"); strings.TrimSpace(body) != `{"letter":"family-separation","count":1,"goal":0}` {
		t.Errorf("count: %s", body)
	}
}

// A letter's goal reaches the handler as a whole number (the minified JSON
// would write 10000 as 1e4) and the page's image, sized for the bar. A
// build that sees no DATABASE_URL (a Netlify site whose function has none)
// leaves the image out: it would be broken.
func TestGoalReachesPageAndHandler(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{"site", "layouts", "content"} {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join(repoRoot(t), dir))); err != nil {
			t.Fatal(err)
		}
	}
	md := filepath.Join(root, "content/letters/family-separation.md")
	raw, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	withGoal := strings.Replace(string(raw), "\ntargets:", "\ngoal: 10000\ntargets:", 1)
	if withGoal == string(raw) {
		t.Fatal("found no targets: in the letter's front matter")
	}
	if err := os.WriteFile(md, []byte(withGoal), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, database := range []bool{true, false} {
		public := filepath.Join(t.TempDir(), "public")
		cmd := exec.Command(binary, "build", "-public", public, "-function", t.TempDir(), "-migrate=false")
		cmd.Dir = root
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		if database {
			cmd.Env = append(cmd.Env, "DATABASE_URL=postgres://db.example/campaign")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("campaign build: %v\n%s", err, out)
		}
		letters, err := letter.Load(os.DirFS(public))
		if err != nil {
			t.Fatal(err)
		}
		if g := letters["family-separation"].Goal; g != 10000 {
			t.Errorf("the handler reads a goal of %d, want 10000", g)
		}
		page, err := os.ReadFile(filepath.Join(public, "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		m := countImg.FindStringSubmatch(string(page))
		switch {
		case !database && strings.Contains(string(page), "count.svg"):
			t.Errorf("built without DATABASE_URL, the page still shows the count")
		case database && (m == nil || m[1] != "42" || !strings.Contains(m[2], "the goal of 10,000 signatures")):
			t.Errorf("built with DATABASE_URL: count image %q, want 42 px high with the goal in its alt text", m)
		}
	}
}

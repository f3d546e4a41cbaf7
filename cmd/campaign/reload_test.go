package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler/mailgun/mailguntest"

	"github.com/chromedp/chromedp"
)

// editFile changes a file as editors save: a new file written beside it
// and renamed over it.
func editFile(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := edit(string(old))
	if text == string(old) {
		t.Fatalf("the edit changes nothing in %s", path)
	}
	tmp := path + ".tmp-save"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// within polls cond until it holds or d has passed since start, and says
// how long it took.
func within(start time.Time, d time.Duration, cond func() bool) (time.Duration, bool) {
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const (
	letterFile   = "content/letters/family-separation.md"
	seedSentence = "I am writing to voice my concern"
)

// An edit to the letter's Markdown under a running serve is on the page
// and in the next letter sent within 2 s; a broken edit keeps the last
// good letter live and says what is wrong, in the terminal and to the
// page; fixing it goes live again.
func TestServeReloadsAnEditedLetter(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	proj := copyProject(t)
	inst := startServe(t, serveOpts{Root: proj, Watch: true, Env: append(mailgunEnv(mg), noConfirm)})
	file := filepath.Join(proj, letterFile)

	if _, page := get(t, inst.URL+"/"); !strings.Contains(page, seedSentence) {
		t.Fatalf("the page lacks the letter's sentence %q", seedSentence)
	}
	signed := 0
	sign := func() string {
		t.Helper()
		resp, err := loadtest.Client().PostForm(inst.URL+"/api/sign", loadtest.Form(signed))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /api/sign = %d\n%s", resp.StatusCode, inst.Logs())
		}
		signed++
		msgs := mg.WaitFor(2*signed, 20*time.Second)
		if len(msgs) != 2*signed {
			t.Fatalf("the stand-in got %d messages, want %d\n%s", len(msgs), 2*signed, inst.Logs())
		}
		return msgs[len(msgs)-1].Get("text")
	}
	onPage := func(s string) func() bool {
		return func() bool {
			resp, err := http.Get(inst.URL + "/")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := readAll(resp)
			return strings.Contains(b, s)
		}
	}

	const edited = "I am writing, as a parent, to voice my concern"
	start := time.Now()
	editFile(t, file, func(s string) string { return strings.Replace(s, seedSentence, edited, 1) })
	took, ok := within(start, 2*time.Second, onPage(edited))
	if !ok {
		t.Fatalf("the edited letter is not on the page %v after the edit\n%s", took, inst.Logs())
	}
	if text := sign(); !strings.Contains(text, edited) || strings.Contains(text, seedSentence) {
		t.Fatalf("the letter sent after the edit is not the edited one:\n%s", text)
	}
	t.Logf("edit to page: %v", took)

	// A broken edit: front matter that is not YAML.
	events := openEvents(t, inst.URL)
	editFile(t, file, func(s string) string {
		return strings.Replace(s, `title: "Protect children, end family separation"`, `title: [oops`, 1)
	})
	start = time.Now()
	if took, ok := within(start, 2*time.Second, func() bool { return strings.Contains(inst.Logs(), "your edit did not build") }); !ok {
		t.Fatalf("no error in the terminal %v after a broken edit\n%s", took, inst.Logs())
	}
	logs := inst.Logs()
	if !strings.Contains(logs, letterFile+":") || strings.Count(logs, "your edit did not build") != 1 {
		t.Errorf("the terminal does not name %s once:\n%s", letterFile, logs)
	}
	if ev := events.next(t, "broken"); !strings.Contains(ev, letterFile) {
		t.Errorf("the page is told of the error without its file: %s", ev)
	}
	if !onPage(edited)() {
		t.Error("after a broken edit the page is no longer the last good one")
	}
	if text := sign(); !strings.Contains(text, edited) {
		t.Fatalf("after a broken edit the letter sent is not the last good one:\n%s", text)
	}
	// A page opened now is told at once.
	if ev := openEvents(t, inst.URL).next(t, "broken"); !strings.Contains(ev, letterFile) {
		t.Errorf("a page opened while the edit is broken is not told: %s", ev)
	}

	// Fixed, with a new sentence: live again, and the open page reloads.
	const fixed = "I am writing, as a grandparent, to voice my concern"
	editFile(t, file, func(s string) string {
		return strings.Replace(strings.Replace(s, `title: [oops`, `title: "Protect children, end family separation"`, 1), edited, fixed, 1)
	})
	if took, ok := within(time.Now(), 2*time.Second, onPage(fixed)); !ok {
		t.Fatalf("the fixed letter is not on the page %v after the edit\n%s", took, inst.Logs())
	}
	events.next(t, "reload")
	if text := sign(); !strings.Contains(text, fixed) {
		t.Fatalf("the letter sent after the fix is not the fixed one:\n%s", text)
	}
	if !strings.Contains(inst.Logs(), "fixed: the site and letters are rebuilt") {
		t.Errorf("the terminal does not say the edit is fixed:\n%s", inst.Logs())
	}
	if strings.Contains(inst.Logs(), "signer0@example.org") {
		t.Error("the log carries a supporter's address")
	}
}

// A new folder, a file in it, a broken template and deletions are seen.
func TestServeReloadsNewFoldersAndDeletions(t *testing.T) {
	proj := copyProject(t)
	inst := startServe(t, serveOpts{Root: proj, Watch: true})
	status := func(path string) func() int {
		return func() int {
			resp, err := http.Get(inst.URL + path)
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}
	}
	is := func(what string, got func() int, want int) {
		t.Helper()
		if took, ok := within(time.Now(), 2*time.Second, func() bool { return got() == want }); !ok {
			t.Fatalf("%s: %d, want %d, %v after the edit\n%s", what, got(), want, took, inst.Logs())
		}
	}
	dir := filepath.Join(proj, "content", "more", "about")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	page := "---\ntitle: \"About the coalition\"\n---\nWe are families.\n"
	if err := os.WriteFile(filepath.Join(dir, "index.md"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	is("a page in a new folder", status("/more/about/"), http.StatusOK)

	// A template that does not parse: the site stays as it was.
	layout := filepath.Join(proj, "layouts", "page.html")
	good, err := os.ReadFile(layout)
	if err != nil {
		t.Fatal(err)
	}
	editFile(t, layout, func(s string) string { return "{{ if }}" + s })
	if _, ok := within(time.Now(), 2*time.Second, func() bool { return strings.Contains(inst.Logs(), "your edit did not build") }); !ok {
		t.Fatalf("a broken template is not reported\n%s", inst.Logs())
	}
	if !strings.Contains(inst.Logs(), "layouts/page.html") {
		t.Errorf("the error does not name the template:\n%s", inst.Logs())
	}
	is("the last good page, after a broken template", status("/more/about/"), http.StatusOK)
	if err := os.WriteFile(layout, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// A letter the campaign's checks refuse (a target without a plain
	// address): neither its page nor its letters go live.
	const unseen = "I am writing, with a typo in an address, to voice my concern"
	editFile(t, filepath.Join(proj, letterFile), func(s string) string {
		s = strings.Replace(s, "secretary@dhs.example", "the secretary", 1)
		return strings.Replace(s, seedSentence, unseen, 1)
	})
	refused := `content/letters/family-separation.md:25: target 2 (Kirstjen Nielsen) has no valid email address ("the secretary")`
	if _, ok := within(time.Now(), 2*time.Second, func() bool { return strings.Contains(inst.Logs(), refused) }); !ok {
		t.Fatalf("a letter the handler refuses is not reported\n%s", inst.Logs())
	}
	if _, page := get(t, inst.URL+"/"); strings.Contains(page, unseen) || !strings.Contains(page, seedSentence) {
		t.Error("a letter the handler refuses went live on the page")
	}
	editFile(t, filepath.Join(proj, letterFile), func(s string) string {
		return strings.Replace(strings.Replace(s, "the secretary", "secretary@dhs.example", 1), unseen, seedSentence, 1)
	})

	// A stylesheet edit renames the fingerprinted file: the page and the
	// local outbox link the new one, which is there.
	stylesheet := regexp.MustCompile(`href="?(/css/[^" >]+\.css)`)
	_, before := get(t, inst.URL+"/outbox/")
	old := stylesheet.FindStringSubmatch(before)
	if old == nil {
		t.Fatalf("the outbox links no stylesheet:\n%s", before)
	}
	editFile(t, filepath.Join(proj, "site", "assets", "css", "site.css"), func(s string) string { return s + "\n.reload-test{color:red}\n" })
	if _, ok := within(time.Now(), 2*time.Second, func() bool {
		_, page := get(t, inst.URL+"/")
		m := stylesheet.FindStringSubmatch(page)
		return m != nil && m[1] != old[1]
	}); !ok {
		t.Fatalf("the page still links %s after a stylesheet edit", old[1])
	}
	_, after := get(t, inst.URL+"/outbox/")
	if m := stylesheet.FindStringSubmatch(after); m == nil || m[1] == old[1] {
		t.Errorf("the outbox links %v after a stylesheet edit, not the new one", m)
	} else if r, css := get(t, inst.URL+m[1]); r.StatusCode != http.StatusOK || !strings.Contains(css, "reload-test") {
		t.Errorf("the outbox's stylesheet %s = %d", m[1], r.StatusCode)
	}

	if err := os.RemoveAll(filepath.Join(proj, "content", "more")); err != nil {
		t.Fatal(err)
	}
	is("a deleted folder's page", status("/more/about/"), http.StatusNotFound)
	is("the campaign page", status("/"), http.StatusOK)
	// The replaced site is removed just after the swap.
	left := func() bool { entries, _ := filepath.Glob(inst.Public + ".*"); return len(entries) == 0 }
	if _, ok := within(time.Now(), 2*time.Second, left); !ok {
		entries, _ := filepath.Glob(inst.Public + ".*")
		t.Errorf("rebuilds left folders behind: %v", entries)
	}
}

// The reload script and its endpoint exist only under serve, only for
// this machine's browser: never in what `campaign build` publishes, nor
// for a visitor through a proxy, nor with -watch=false.
func TestReloadScriptOnlyUnderServe(t *testing.T) {
	public := filepath.Join(t.TempDir(), "public")
	build := exec.Command(binary, "build", "-function", "", "-public", public)
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("campaign build: %v\n%s", err, out)
	}
	files := 0
	filepath.WalkDir(public, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "__campaign") || strings.Contains(string(raw), "EventSource") {
			t.Errorf("the published %s carries live reload", p)
		}
		return nil
	})
	if files < 5 {
		t.Fatalf("the build wrote only %d files", files)
	}
	headers, err := os.ReadFile(filepath.Join(public, "_headers"))
	if err != nil || !strings.Contains(string(headers), "Content-Security-Policy: "+siteCSP+"\n") {
		t.Errorf("the published policy is not the site's own: %s %v", headers, err)
	}

	watching := startServe(t, serveOpts{Watch: true})
	resp, page := get(t, watching.URL+"/letters/family-separation/")
	if !strings.Contains(page, `<script src=/__campaign/reload.js data-gen=`) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("a page under serve lacks the reload script, or may be cached (%q)", resp.Header.Get("Cache-Control"))
	}
	// The script is the site's own origin's: the pages' policy needs no
	// exception for it.
	if csp := resp.Header.Get("Content-Security-Policy"); csp != siteCSP {
		t.Errorf("the policy under serve = %q, want the published one", csp)
	}
	if r, js := get(t, watching.URL+"/__campaign/reload.js"); r.StatusCode != http.StatusOK || !strings.Contains(js, "EventSource") {
		t.Errorf("/__campaign/reload.js = %d", r.StatusCode)
	}
	for _, path := range []string{"/", "/__campaign/reload.js", "/__campaign/events"} {
		req, _ := http.NewRequest("GET", watching.URL+path, nil)
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := readAll(resp)
		resp.Body.Close()
		if strings.Contains(body, "__campaign") || (path != "/" && resp.StatusCode != http.StatusNotFound) {
			t.Errorf("through a proxy, %s = %d with live reload", path, resp.StatusCode)
		}
	}

	still := startServe(t, serveOpts{})
	if _, page := get(t, still.URL+"/"); strings.Contains(page, "__campaign") {
		t.Error("serve -watch=false adds the reload script")
	}
	if r, _ := get(t, still.URL+"/__campaign/events"); r.StatusCode != http.StatusNotFound {
		t.Errorf("serve -watch=false answers /__campaign/events: %d", r.StatusCode)
	}
}

func readAll(resp *http.Response) (string, error) {
	var b strings.Builder
	_, err := bufio.NewReader(resp.Body).WriteTo(&b)
	return b.String(), err
}

// eventStream reads /__campaign/events as a page does.
type eventStream struct {
	lines chan string
}

func openEvents(t *testing.T, base string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/__campaign/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("/__campaign/events = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &eventStream{lines: make(chan string, 100)}
	go func() {
		defer resp.Body.Close()
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	if ev := s.next(t, "hello"); ev == "" {
		t.Fatal("the stream's hello names no build")
	}
	return s
}

// next skips to the next event called name and returns its data.
func (s *eventStream) next(t *testing.T, name string) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	current := ""
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("the event stream ended before %q", name)
			}
			switch {
			case strings.HasPrefix(line, "event: "):
				current = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && current == name:
				return strings.TrimPrefix(line, "data: ")
			}
		case <-timeout:
			t.Fatalf("no %q event within 5s", name)
		}
	}
}

// An open page reloads by itself after an edit, shows a broken edit's
// error as an alert over the last good page, and reloads again once the
// edit is fixed.
func TestBrowserReloadsAfterAnEdit(t *testing.T) {
	proj := copyProject(t)
	inst := startServe(t, serveOpts{Root: proj, Watch: true})
	ctx := newBrowser(t, true)
	defer screenshot(t, ctx, "reload")
	file := filepath.Join(proj, letterFile)

	do(t, ctx, chromedp.Navigate(inst.URL+"/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	// A mark that only this load of the page carries: gone after a reload.
	// (An edit before the page's stream opens is caught by its hello.)
	value(t, ctx, chromedp.Evaluate[bool](`window.loadedBeforeEdit = true`))

	const edited = "I am writing, as a parent, to voice my concern"
	editFile(t, file, func(s string) string { return strings.Replace(s, seedSentence, edited, 1) })
	waitFor(t, ctx, "the page to reload with the edit",
		`!window.loadedBeforeEdit && document.querySelector("textarea#body").value.includes(`+jsQuote(edited)+`)`)

	editFile(t, file, func(s string) string {
		return strings.Replace(s, `title: "Protect children, end family separation"`, `title: [oops`, 1)
	})
	waitFor(t, ctx, "the error on the page",
		`document.querySelector("#campaign-rebuild-error[role=alert]").textContent.includes(`+jsQuote(letterFile)+`)`)
	if !strings.Contains(jsString(t, ctx, `document.querySelector("textarea#body").value`), edited) {
		t.Error("under the error the page is not the last good one")
	}
	// The banner is checked by axe-core when it is there (its absence
	// skips only this check: the reload is this test's point).
	if axe := os.Getenv("CAMPAIGN_AXE_JS"); axe != "" {
		src, err := os.ReadFile(axe)
		if err != nil {
			t.Fatalf("CAMPAIGN_AXE_JS: %v", err)
		}
		axeCheck(t, ctx, string(src), "the page with a rebuild's error")
	} else {
		t.Log("CAMPAIGN_AXE_JS unset: the error banner is not checked by axe-core")
	}
	value(t, ctx, chromedp.Evaluate[bool](`window.loadedBeforeFix = true`))
	editFile(t, file, func(s string) string {
		return strings.Replace(s, `title: [oops`, `title: "Protect children, end family separation"`, 1)
	})
	waitFor(t, ctx, "the page to reload once fixed, without the error",
		`!window.loadedBeforeFix && document.querySelector("#campaign-rebuild-error").textContent === ""`)
}

func jsQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

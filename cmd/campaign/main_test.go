package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// binary is the campaign program, built once for the tests that run it.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "campaign-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "campaign")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building campaign:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is where `campaign serve` runs in these tests, as a user would.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// instance is a running `campaign serve`.
type instance struct {
	*loadtest.Process
	Public string
}

// serveOpts says how to start one.
type serveOpts struct {
	Root    string // the project to serve; default the repository
	DataDir string
	Public  string
	Env     []string
	Watch   bool // live reload on (serve's default; off in most tests)
}

// startServe runs the real binary on port 0 with a temp data folder, waits
// until it serves, and stops it (SIGTERM) when the test ends.
func startServe(t testing.TB, o serveOpts) *instance {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Public == "" {
		o.Public = filepath.Join(t.TempDir(), "public")
	}
	if o.Root == "" {
		o.Root = repoRoot(t)
	}
	p, err := loadtest.Start(loadtest.Options{Binary: binary, Root: o.Root, DataDir: o.DataDir, Public: o.Public, Env: o.Env, Watch: o.Watch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
	return &instance{Process: p, Public: o.Public}
}

func mailgunEnv(mg *mailguntest.Server) []string {
	return []string{
		"MAILGUN_API_KEY=" + mg.APIKey, "MAILGUN_DOMAIN=mg.example", "MAILGUN_API_BASE=" + mg.APIBase(),
		"CAMPAIGN_FROM=Families Belong Together <letters@mg.example>",
	}
}

// noConfirm sends letters without the signer's confirmation, for tests of
// the sending itself.
const noConfirm = "CAMPAIGN_CONFIRM=off"

func get(t testing.TB, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var (
	textareaPattern = regexp.MustCompile(`(?s)<textarea[^>]*name=body[^>]*>(.*?)</textarea>`)
	hiddenPattern   = regexp.MustCompile(`<input type=hidden name=(\w+) value=([^>]*)>`)
)

func TestServeSignAndSend(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: append(mailgunEnv(mg), noConfirm)})

	resp, page := get(t, inst.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d", resp.StatusCode)
	}
	textarea := textareaPattern.FindStringSubmatch(page)
	if textarea == nil {
		t.Fatalf("the page has no letter field:\n%s", page)
	}
	body := html.UnescapeString(textarea[1])
	// The editable letter is the letter the handler merges: the same text
	// once the words shown for merge fields ("[your city]") are turned back
	// into the letter's placeholders, as the handler does.
	_, raw := get(t, inst.URL+"/letters/family-separation/index.json")
	var published struct {
		Body         string            `json:"body"`
		Placeholders map[string]string `json:"placeholders"`
	}
	if err := json.Unmarshal([]byte(raw), &published); err != nil {
		t.Fatal(err)
	}
	if len(published.Placeholders) == 0 || published.Placeholders["city"] != "[your city]" {
		t.Errorf("the letter's placeholders = %v, want city as [your city]", published.Placeholders)
	}
	back := body
	for name, words := range published.Placeholders {
		back = strings.ReplaceAll(back, words, "{{"+name+"}}")
	}
	if back != published.Body || strings.Contains(body, "{{") {
		t.Fatalf("the editable letter is not the published one, in plain words:\nfield:     %q\npublished: %q", body, published.Body)
	}
	// Its signature block shows the merge fields as plain words too.
	if !strings.Contains(page, ">[your city]</mark>") {
		t.Errorf("the letter's signature block does not show [your city]")
	}
	// Post the form as a browser would: every field the page has.
	form := url.Values{"body": {body}}
	for _, m := range hiddenPattern.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], strings.Trim(m[2], `"`))
	}
	for k, v := range map[string]string{"first_name": "Jane", "last_name": "Doe", "email": "jane@example.org",
		"address": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701", "subject": "Protect children, end family separation"} {
		form.Set(k, v)
	}
	if form.Get("letter") != "family-separation" {
		t.Fatalf("hidden letter field = %q", form.Get("letter"))
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(inst.URL+"/api/sign", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /api/sign = %d", resp.StatusCode)
	}
	thanks, thanksPage := get(t, inst.URL+resp.Header.Get("Location"))
	if thanks.StatusCode != http.StatusOK || !strings.Contains(thanksPage, "Thank you") {
		t.Fatalf("thank-you page: %d", thanks.StatusCode)
	}

	msgs := mg.WaitFor(2, 20*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("stand-in got %d messages, want 2\n%s", len(msgs), inst.Logs())
	}
	slices.SortFunc(msgs, func(a, b mailguntest.Received) int {
		return strings.Compare(a.Get("h:Message-Id"), b.Get("h:Message-Id"))
	})
	letters, err := letter.Load(os.DirFS(inst.Public))
	if err != nil {
		t.Fatal(err)
	}
	loaded := letters["family-separation"]
	for i, name := range []string{"president", "secretary"} {
		text := msgs[i].Get("text")
		// The words sent are the words on the page, with the passages
		// for this target only.
		if !strings.Contains(text, "\n\n"+letter.BodyFor(loaded.Passages, body, loaded.Targets[i].Name)+"\n\n") {
			t.Errorf("%s: the sent text does not carry the page's letter word for word:\n%s", name, text)
		}
		golden(t, filepath.Join("testdata", "golden", name+".txt"), text)
		if from := msgs[i].Get("from"); from != `"Jane Doe via Families Belong Together" <letters@mg.example>` {
			t.Errorf("%s: from = %q", name, from)
		}
	}
}

var subjectPattern = regexp.MustCompile(`<input id=subject name=subject [^>]*value="([^"]*)"`)

// TestServeSignAndSendInSpanish: a supporter on /es/ posts the Spanish
// form as a browser without JavaScript would, and the Spanish letter, the
// page's words, reaches the same targets with their Spanish salutations.
func TestServeSignAndSendInSpanish(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: append(mailgunEnv(mg), noConfirm)})

	resp, page := get(t, inst.URL+"/es/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<html lang=es-US>") {
		t.Fatalf("GET /es/ = %d, or not in Spanish", resp.StatusCode)
	}
	textarea := textareaPattern.FindStringSubmatch(page)
	subject := subjectPattern.FindStringSubmatch(page)
	if textarea == nil || subject == nil {
		t.Fatalf("the Spanish page has no letter field or subject:\n%s", page)
	}
	body := html.UnescapeString(textarea[1])
	// The editable letter is the Spanish letter the handler merges, its
	// merge fields in Spanish plain words ("[su ciudad]").
	_, raw := get(t, inst.URL+"/es/letters/family-separation/index.json")
	var published struct {
		Body         string            `json:"body"`
		Placeholders map[string]string `json:"placeholders"`
		Passages     []letter.Passage  `json:"passages"`
	}
	if err := json.Unmarshal([]byte(raw), &published); err != nil {
		t.Fatal(err)
	}
	if published.Placeholders["city"] != "[su ciudad]" {
		t.Errorf("the Spanish letter's placeholders = %v, want city as [su ciudad]", published.Placeholders)
	}
	back := body
	for name, words := range published.Placeholders {
		back = strings.ReplaceAll(back, words, "{{"+name+"}}")
	}
	if back != published.Body || strings.Contains(body, "{{") {
		t.Fatalf("the Spanish editable letter is not the published one:\nfield:     %q\npublished: %q", body, published.Body)
	}
	form := url.Values{"body": {body}, "subject": {html.UnescapeString(subject[1])}}
	for _, m := range hiddenPattern.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], strings.Trim(m[2], `"`))
	}
	if form.Get("lang") != "es" || form.Get("letter") != "family-separation" {
		t.Fatalf("hidden fields: lang %q, letter %q", form.Get("lang"), form.Get("letter"))
	}
	for k, v := range map[string]string{"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.org",
		"address": "12 Elm St", "city": "El Paso", "state": "TX", "zip": "79901"} {
		form.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(inst.URL+"/api/sign", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/es/thanks/" {
		t.Fatalf("POST /api/sign = %d to %q, want 303 to /es/thanks/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if thanks, thanksPage := get(t, inst.URL+"/es/thanks/"); thanks.StatusCode != http.StatusOK || !strings.Contains(thanksPage, "Gracias") {
		t.Fatalf("Spanish thank-you page: %d", thanks.StatusCode)
	}

	msgs := mg.WaitFor(2, 20*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("stand-in got %d messages, want 2\n%s", len(msgs), inst.Logs())
	}
	slices.SortFunc(msgs, func(a, b mailguntest.Received) int {
		return strings.Compare(a.Get("h:Message-Id"), b.Get("h:Message-Id"))
	})
	// Each target's copy keeps only the passages for them.
	targetNames := []string{"Donald J. Trump", "Kirstjen Nielsen"}
	for i, want := range []struct{ to, salutation string }{
		{`"Donald J. Trump" <president@whitehouse.example>`, "Estimado presidente Trump:"},
		{`"Kirstjen Nielsen" <secretary@dhs.example>`, "Estimada secretaria Nielsen:"},
	} {
		m := msgs[i]
		wantText := want.salutation + "\n\n" + letter.BodyFor(published.Passages, body, targetNames[i]) + "\n\nAtentamente,\n\nAna Ruiz\n12 Elm St\nEl Paso, TX 79901\n"
		if m.Get("to") != want.to || m.Get("text") != wantText || m.Get("subject") != form.Get("subject") {
			t.Errorf("message %d: to %q, subject %q, text:\n%s\nwant to %q, the page's subject %q, text:\n%s",
				i, m.Get("to"), m.Get("subject"), m.Get("text"), want.to, form.Get("subject"), wantText)
		}
	}
}

// golden compares got with the file, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// The handler's tests read a copy of the published letter; it must be the
// letter this site publishes.
func TestHandlerFixtureMatchesPublishedLetter(t *testing.T) {
	public := filepath.Join(t.TempDir(), "public")
	if err := buildSite(filepath.Join(repoRoot(t), "site"), public, "", "", false); err != nil {
		t.Fatal(err)
	}
	read := func(path string) map[string]any {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, p := range []string{"letters/index.json", "letters/family-separation/index.json", "es/letters/index.json", "es/letters/family-separation/index.json"} {
		built := read(filepath.Join(public, p))
		fixture := read(filepath.Join(repoRoot(t), "handler/testdata/site", p))
		for _, k := range []string{"letters", "translations", "id", "subject", "targets", "body", "signature", "thanks_url", "url", "form", "pages", "goal", "lang", "messages"} {
			b, _ := json.Marshal(built[k])
			f, _ := json.Marshal(fixture[k])
			if string(b) != string(f) {
				t.Errorf("handler/testdata differs from the published letter in %q: copy public/%s there\nbuilt:   %s\nfixture: %s", k, p, b, f)
			}
		}
	}
}

func TestServeWithoutMailgunKeepsLettersInOutbox(t *testing.T) {
	// The data lives in another project's folder, where status is run from
	// a subfolder below.
	proj := t.TempDir()
	for _, dir := range []string{"site", "content"} {
		if err := os.MkdirAll(filepath.Join(proj, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(proj, "site", "hugo.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(proj, ".campaign")
	inst := startServe(t, serveOpts{DataDir: data})
	form := url.Values{"letter": {"family-separation"}, "first_name": {"Jane"}, "last_name": {"Doe"},
		"email": {"jane@example.org"}, "address": {"12 Elm St"}, "city": {"Springfield"}, "state": {"IL"}, "zip": {"62701"}}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(inst.URL+"/api/sign", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/check-your-inbox/" {
		t.Fatalf("POST /api/sign = %d to %q, want 303 to /check-your-inbox/", resp.StatusCode, resp.Header.Get("Location"))
	}
	outbox := func(n int) []string {
		t.Helper()
		var files []string
		deadline := time.Now().Add(20 * time.Second)
		for len(files) < n && time.Now().Before(deadline) {
			files, _ = filepath.Glob(filepath.Join(data, "outbox", "*.eml"))
			time.Sleep(20 * time.Millisecond)
		}
		if len(files) != n {
			t.Fatalf("outbox holds %d emails, want %d\n%s", len(files), n, inst.Logs())
		}
		return files
	}
	// The newcomer finds the confirmation in the outbox and follows it.
	eml, err := os.ReadFile(outbox(1)[0])
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`http://localhost:\d+(/api/confirm/[A-Za-z0-9_-]+)`).FindSubmatch(eml)
	if link == nil || !strings.Contains(string(eml), "To: <jane@example.org>") {
		t.Fatalf("the confirmation in the outbox has no link to this server, or goes elsewhere:\n%s", eml)
	}
	if r, page := get(t, inst.URL+string(link[1])); r.StatusCode != http.StatusOK || !strings.Contains(page, "Dear Secretary Nielsen,") {
		t.Fatalf("the confirmation page: %d\n%s", r.StatusCode, page)
	}
	resp, err = client.Post(inst.URL+string(link[1]), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/thanks/" {
		t.Fatalf("confirming = %d to %q, want 303 to /thanks/", resp.StatusCode, resp.Header.Get("Location"))
	}
	outbox(3)
	_, page := get(t, inst.URL+"/outbox/")
	for _, want := range []string{"NOT sent", "Dear President Trump,", "Dear Secretary Nielsen,", "president@whitehouse.example", "Jane Doe"} {
		if !strings.Contains(page, want) {
			t.Errorf("outbox page lacks %q", want)
		}
	}
	// A reverse proxy on this machine connects from loopback too: what
	// comes through it is refused.
	req, _ := http.NewRequest("GET", inst.URL+"/outbox/", nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	proxied, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	proxied.Body.Close()
	if proxied.StatusCode != http.StatusNotFound {
		t.Errorf("the outbox through a proxy: %d, want 404", proxied.StatusCode)
	}
	if !strings.Contains(inst.Logs(), "placeholder address") {
		t.Error("serve did not warn about the placeholder target addresses")
	}
	if strings.Contains(inst.Logs(), "jane@example.org") || strings.Contains(inst.Logs(), "Jane") {
		t.Errorf("the log carries the supporter's personal data:\n%s", inst.Logs())
	}
	// Run from a subfolder, as an editor in content/ might, with the
	// default data folder: the project's data is found, and the outbox is
	// called what it is, whatever the machine running status has set.
	for _, env := range [][]string{nil, {"MAILGUN_API_KEY=key", "MAILGUN_DOMAIN=mg.example"}} {
		status := exec.CommandContext(context.Background(), binary, "status")
		status.Dir = filepath.Join(proj, "content")
		status.Env = env
		out, err := status.CombinedOutput()
		if err != nil {
			t.Fatalf("campaign status: %v\n%s", err, out)
		}
		for _, want := range []string{"signatures 1\n", "signatures confirmed    1\n", "messages kept in outbox 2\n", "messages sent           0\n",
			"messages queued         0\n", "messages failed         0\n", "NOT sent"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("campaign status (env %v) lacks %q:\n%s", env, want, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(proj, "content", ".campaign")); err == nil {
		t.Error("campaign status made a data folder in the subfolder it ran from")
	}
}

// Outside any campaign project, a command says where it looked instead of
// making an empty database there.
func TestCommandOutsideTheProjectSaysWhereItLooked(t *testing.T) {
	dir := t.TempDir()
	status := exec.Command(binary, "status")
	status.Dir = dir
	out, err := status.CombinedOutput()
	if err == nil {
		t.Fatalf("campaign status outside a project succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "site/hugo.toml") || !strings.Contains(string(out), dir) {
		t.Errorf("the error does not say where it looked:\n%s", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("campaign status left %d files in %s", len(entries), dir)
	}
}

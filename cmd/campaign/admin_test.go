package main

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"campaignkit/handler/mailgun/mailguntest"
)

// The organizer's room in a browser, on the real `campaign serve`: the
// sign-in, the dashboard and the release of a held letter, each checked by
// axe and at 320 px; then `campaign export` of the same signatures.
func TestBrowserOrganizerRoom(t *testing.T) {
	axe := axeSource(t)
	mg := mailguntest.New()
	defer mg.Close()
	const token = "organizer-token-0123456789abcdef"
	data := t.TempDir()
	env := append(mailgunEnv(mg), noConfirm, "CAMPAIGN_ADMIN_TOKEN="+token, "CAMPAIGN_MAX_SIGN_RATE=1")
	inst := startServe(t, serveOpts{DataDir: data, Env: env})
	// The first signature's letters go out; the second passes the ceiling
	// (one a minute) and is held.
	for _, email := range []string{"ann@example.org", "bo@example.org"} {
		resp, err := noFollow.PostForm(inst.URL+"/api/sign", url.Values{"letter": {"family-separation"}, "first_name": {"Ann"},
			"last_name": {"Lee"}, "email": {email}, "address": {"1 Oak St"}, "city": {"Salem"}, "state": {"OR"}, "zip": {"97301"},
			"source": {"newsletter"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign %s: %d", email, resp.StatusCode)
		}
	}
	sentTexts(t, mg, 2)

	ctx := newBrowser(t, true)
	defer screenshot(t, ctx, "admin")
	do(t, ctx, chromedp.Navigate(inst.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("token")))
	axeCheck(t, ctx, axe, "sign-in page")
	reflowCheck(t, ctx, "sign-in page")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), "not-the-organizer-token-at-all"), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("token-error")))
	axeCheck(t, ctx, axe, "sign-in page with an error")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("totals")))
	if cookies := jsString(t, ctx, `document.cookie`); cookies != "" {
		t.Errorf("the session cookie is readable by scripts: %q", cookies)
	}
	page := jsString(t, ctx, `document.querySelector("main").innerText`)
	for _, want := range []string{"Signatures: 2", "held by the ceiling", "Ann Lee, Salem, OR", "newsletter", "Every letter sent"} {
		if !strings.Contains(page, want) {
			t.Errorf("the dashboard lacks %q:\n%s", want, page)
		}
	}
	if got := jsString(t, ctx, `(s => s.getAttribute("role") + " " + s.querySelector("title").textContent)(document.querySelector(".chart svg"))`); !strings.HasPrefix(got, "img Signatures per hour") {
		t.Errorf("the chart is not an image with a title: %q", got)
	}
	axeCheck(t, ctx, axe, "dashboard")
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(d => d.open = true)`))
	axeCheck(t, ctx, axe, "dashboard with its tables open")
	reflowCheck(t, ctx, "dashboard")

	// Release the held letter from the page.
	do(t, ctx, chromedp.Click(chromedp.CSS(`input[name=id]`)), chromedp.Click(chromedp.CSS(`button[value=release]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role=status]`)))
	if got := jsString(t, ctx, `document.querySelector("[role=status]").innerText`); !strings.HasPrefix(got, "1 signature released") {
		t.Errorf("after the release the page says %q", got)
	}
	axeCheck(t, ctx, axe, "dashboard after a release")
	sentTexts(t, mg, 4)

	// The same signatures from the terminal.
	file := filepath.Join(t.TempDir(), "signers.csv")
	cmd := exec.Command(binary, "export", "-o", file)
	cmd.Dir, cmd.Env = repoRoot(t), append(env, "CAMPAIGN_DATA_DIR="+data)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "exported 2 signatures to "+file) {
		t.Fatalf("campaign export: %v\n%s", err, out)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the export's file mode: %v, %v; want 0600", st.Mode(), err)
	}
	f, _ := os.Open(file)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("the exported CSV: %v\n%q", err, rows)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	if rows[1][col["status"]] != "sent" || rows[1][col["held_for"]] != "" || rows[2][col["held_for"]] != "ceiling" || rows[2][col["source"]] != "newsletter" {
		t.Errorf("the exported CSV:\n%q", rows)
	}
	if logs := inst.Logs(); strings.Contains(logs, "ann@example.org") || strings.Contains(logs, token) {
		t.Errorf("the log carries personal data or the token:\n%s", logs)
	}
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

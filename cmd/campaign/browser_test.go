package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"campaignkit/handler/mailgun/mailguntest"
)

// The browser tests drive Debian's Chromium (CAMPAIGN_CHROMIUM, else
// "chromium" on PATH) against the real `campaign serve`, as supporters meet
// the pages: with JavaScript off and on, and checked by axe-core.

// chromium returns the browser to drive, or skips the test when there is none.
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CAMPAIGN_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CAMPAIGN_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: no Chromium (set CAMPAIGN_CHROMIUM or `apt-get install chromium`; .ci/run does)")
	return ""
}

// newBrowser starts headless Chromium for one test and returns a tab's
// context that ends with the test (or after two minutes). With js false,
// the page's own scripts are off, as for a supporter who blocks them.
func newBrowser(t *testing.T, js bool) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.DisableGPU,
		chromedp.WindowSize(1024, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser and binds it to tab, not to the
	// timeout below.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, 2*time.Minute)
	t.Cleanup(cancel)
	if !js {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
	}
	return ctx
}

// do runs browser steps and fails the test at the first error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// value runs one browser action and returns its value.
func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitFor waits up to ten seconds until a JavaScript condition holds in
// the page. It evaluates from DevTools (chromedp.Poll binds to one execution
// context, which a navigation or a back/forward cache restore replaces).
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var ok bool
		if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waiting for %s (%s): not true after 10s (last error: %v)", what, cond, err)
}

// supporter is what the tests type into the form.
var supporter = []struct{ id, text string }{
	{"first_name", "Jane"}, {"last_name", "Doe"}, {"email", "jane@example.org"},
	{"address", "12 Elm St"}, {"city", "Springfield"}, {"state", "Illinois"}, {"zip", "62701"},
}

// fill types the supporter's details, with override replacing some values.
func fill(override map[string]string) chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	for _, f := range supporter {
		text := f.text
		if v, ok := override[f.id]; ok {
			text = v
		}
		steps = append(steps, chromedp.SendKeys(chromedp.ID(f.id), text))
	}
	return chromedp.Steps(steps...)
}

// retype replaces a text field's content by keyboard, as a person would.
func retype(id, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Focus(chromedp.ID(id)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(kb.Backspace),
		chromedp.SendKeys(chromedp.ID(id), text),
	)
}

// appendText types at the end of a text area.
func appendText(id, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Focus(chromedp.ID(id)),
		chromedp.KeyEvent(kb.End, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.SendKeys(chromedp.ID(id), text),
	)
}

// back goes back in the tab's history as the browser's Back button does.
// Unlike chromedp.NavigateBack it does not wait for a load event, which a
// page restored from the back/forward cache never fires.
func back() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		h, err := cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
		if err != nil {
			return err
		}
		if h.CurrentIndex < 1 {
			return fmt.Errorf("no page to go back to")
		}
		_, err = cdp.Call(ctx, t, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[h.CurrentIndex-1].ID})
		return err
	})
}

// sentTexts waits for n letters at the stand-in and returns their texts.
func sentTexts(t *testing.T, mg *mailguntest.Server, n int) []string {
	t.Helper()
	var texts []string
	for deadline := time.Now().Add(20 * time.Second); len(texts) < n && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		texts = texts[:0]
		for _, m := range mg.Messages() {
			if m.Get("o:tag") == "family-separation" {
				texts = append(texts, m.Get("subject")+"\n"+m.Get("text"))
			}
		}
	}
	if len(texts) != n {
		t.Fatalf("stand-in Mailgun got %d letters, want %d", len(texts), n)
	}
	slices.Sort(texts)
	return texts
}

// confirmationLink waits for the confirmation emailed to address and
// returns its link's path.
func confirmationLink(t *testing.T, mg *mailguntest.Server, address string) string {
	t.Helper()
	link := regexp.MustCompile(`/api/confirm/[A-Za-z0-9_-]+`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, m := range mg.Messages() {
			if m.Get("o:tag") == "confirm" && strings.Contains(m.Get("to"), address) {
				if p := link.FindString(m.Get("text")); p != "" {
					return p
				}
				t.Fatalf("the confirmation email has no link:\n%s", m.Get("text"))
			}
		}
	}
	t.Fatalf("no confirmation email to %s", address)
	return ""
}

// confirmInBrowser follows the signer from "check your inbox" to the link
// in their email: the page shows the letter holding want, nothing is sent
// until its button is pressed, then the thank-you page.
func confirmInBrowser(t *testing.T, ctx context.Context, inst *instance, mg *mailguntest.Server, want string) {
	t.Helper()
	if loc := value(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/check-your-inbox/") {
		t.Fatalf("after sending the browser is at %s, want /check-your-inbox/", loc)
	}
	do(t, ctx, chromedp.Navigate(inst.URL+confirmationLink(t, mg, "jane@example.org")), chromedp.WaitVisible(chromedp.CSS("form.confirm button")))
	letters := value(t, ctx, chromedp.Evaluate[string](`[...document.querySelectorAll(".letter-text")].map(e => e.innerText).join("\n---\n")`))
	if strings.Count(letters, want) != 2 || !strings.Contains(letters, "Dear President Trump,") || !strings.Contains(letters, "Dear Secretary Nielsen,") {
		t.Fatalf("the confirmation page does not show both letters with the supporter's words:\n%s", letters)
	}
	if n := len(mg.Messages()); n != 1 {
		t.Fatalf("%d messages sent before the button was pressed, want the confirmation alone", n)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS("form.confirm button")), chromedp.WaitVisible(chromedp.ID("share-heading")))
	if loc := value(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/thanks/") {
		t.Fatalf("after confirming the browser is at %s, want /thanks/", loc)
	}
}

// screenshot keeps a picture of the page for a failed test's reader.
func screenshot(t *testing.T, ctx context.Context, name string) {
	if !t.Failed() {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err == nil {
		p := filepath.Join(t.TempDir(), name+".jpg")
		if os.WriteFile(p, buf, 0o644) == nil {
			t.Logf("screenshot: %s", p)
		}
	}
}

func TestBrowserWithoutJavaScript(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: mailgunEnv(mg)})
	ctx := newBrowser(t, false)
	defer screenshot(t, ctx, "nojs")

	do(t, ctx, chromedp.Navigate(inst.URL+"/?source=newsletter"), chromedp.WaitVisible(chromedp.ID("sign-form")))
	// With scripts off campaign.js must not have run: it would have set novalidate.
	if a := value(t, ctx, chromedp.AttributeValue(chromedp.ID("sign-form"), "novalidate")); a.Exists {
		t.Fatal("the page's script ran although JavaScript is off")
	}
	const ps = "\n\nP.S. Typed without JavaScript: my own family was kept apart."
	// ZIP "123" passes the browser's own checks; the handler refuses it.
	do(t, ctx, fill(map[string]string{"zip": "123"}), appendText("body", ps))
	typedBody := value(t, ctx, chromedp.Value(chromedp.ID("body")))
	if !strings.HasSuffix(typedBody, ps) {
		t.Fatalf("typing did not reach the letter field:\n%q", typedBody)
	}

	// An invalid submission: the handler's HTML error page, which keeps everything.
	do(t, ctx, chromedp.Click(chromedp.CSS("#sign-form button[type=submit]")), chromedp.WaitVisible(chromedp.ID("problems")))
	if loc := value(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/api/sign") {
		t.Fatalf("after an invalid post the browser is at %s, want the error page", loc)
	}
	problems := value(t, ctx, chromedp.Text(chromedp.ID("problems")))
	if !strings.Contains(problems, "ZIP code") {
		t.Errorf("the error page does not name the ZIP problem:\n%s", problems)
	}
	if a := value(t, ctx, chromedp.AttributeValue(chromedp.ID("zip"), "aria-invalid")); a.Value != "true" {
		t.Error("the ZIP field on the error page is not marked aria-invalid")
	}
	for id, want := range map[string]string{"first_name": "Jane", "city": "Springfield", "zip": "123", "body": typedBody} {
		if got := value(t, ctx, chromedp.Value(chromedp.ID(id))); got != want {
			t.Errorf("error page: %s = %q, want %q", id, got, want)
		}
	}

	// Going back: the campaign page still holds what was typed. (A page
	// restored from the back/forward cache is read by script, from DevTools:
	// chromedp's DOM queries do not see the restored document.)
	do(t, ctx, back())
	waitFor(t, ctx, "the campaign page after going back", `location.pathname === "/" && !!document.getElementById("sign-form")`)
	for id, want := range map[string]string{"first_name": "Jane", "email": "jane@example.org", "zip": "123", "body": typedBody} {
		if got := value(t, ctx, chromedp.Evaluate[string](fmt.Sprintf("document.getElementById(%q).value", id))); got != want {
			t.Errorf("back on the campaign page: %s = %q, want %q", id, got, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Fix the ZIP and send with the keyboard (Enter submits the form): the
	// thank-you page, and the edited letter at the stand-in Mailgun.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("zip").select()`),
		chromedp.KeyEvent("62701\r"), chromedp.WaitVisible(chromedp.ID("share-heading")))
	confirmInBrowser(t, ctx, inst, mg, strings.TrimSpace(ps))
	for _, text := range sentTexts(t, mg, 2) {
		if !strings.Contains(text, strings.TrimSpace(ps)) || !strings.Contains(text, "Springfield, IL 62701") {
			t.Errorf("a sent letter lacks the supporter's edit or details:\n%s", text)
		}
	}
}

// jsString evaluates a JavaScript expression in the page.
func jsString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	return value(t, ctx, chromedp.Evaluate[string](expr))
}

// failSign answers the page's next sends to /api/sign with these failures
// in turn, as a dropped network or an overloaded server would, and lets
// later sends through.
func failSign(t *testing.T, ctx context.Context, failures ...func(fetch.RequestID) error) {
	t.Helper()
	ictx, stop := context.WithCancel(ctx)
	paused := chromedp.Events(ictx, fetch.RequestPaused)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range paused {
			if err != nil {
				return
			}
			if len(failures) == 0 {
				chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			f := failures[0]
			failures = failures[1:]
			if err := f(ev.RequestID); err != nil {
				t.Errorf("intercepting /api/sign: %v", err)
			}
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/sign"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); <-done })
}

func dropConnection(ctx context.Context) func(fetch.RequestID) error {
	return func(id fetch.RequestID) error {
		_, err := chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: id, ErrorReason: network.ErrorReasonInternetDisconnected})
		return err
	}
}

func serverError(ctx context.Context, status int64) func(fetch.RequestID) error {
	return func(id fetch.RequestID) error {
		_, err := chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
			RequestID: id, ResponseCode: status, Body: []byte("<h1>Bad gateway</h1>"),
			ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html"}},
		})
		return err
	}
}

func TestBrowserWithJavaScript(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: mailgunEnv(mg)})
	ctx := newBrowser(t, true)
	defer screenshot(t, ctx, "js")

	do(t, ctx, chromedp.Navigate(inst.URL+"/?utm_source=share-test"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	if got := value(t, ctx, chromedp.Value(chromedp.CSS("input[name=source]"))); got != "share-test" {
		t.Errorf("source = %q, want the link's utm_source", got)
	}
	mark := func(field string) string {
		return fmt.Sprintf(`document.querySelector("[data-preview=signature] mark[data-field=%s]").textContent`, field)
	}
	if got := jsString(t, ctx, mark("city")); got != "[your city]" {
		t.Fatalf("before typing the signature's city shows %q, want the plain words [your city]", got)
	}

	// The letter's signature block follows the typing.
	do(t, ctx, fill(map[string]string{"email": "jane-at-example.org"}))
	for field, want := range map[string]string{"first_name": "Jane", "last_name": "Doe", "address": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701"} {
		waitFor(t, ctx, "the preview to show "+field, mark(field)+" === "+fmt.Sprintf("%q", want))
	}
	const subject = "Reunite the families now"
	const ps = "P.S. Typed with JavaScript on: please answer me."
	do(t, ctx, retype("subject", subject), appendText("body", "\n\n"+ps))
	// The letter is shown once: no second copy of its text on the page.
	if n := jsString(t, ctx, `String(document.body.innerText.split("Seeking asylum should never be treated as a crime").length - 1)`); n != "0" {
		t.Errorf("the letter's text appears %s times outside its field, want only in the field", n)
	}
	typed := map[string]string{}
	for _, id := range []string{"first_name", "email", "city", "zip", "subject", "body"} {
		typed[id] = value(t, ctx, chromedp.Value(chromedp.ID(id)))
	}
	if !strings.HasSuffix(typed["body"], ps) {
		t.Fatalf("the letter field does not end with the typed P.S.:\n%s", typed["body"])
	}
	kept := func(when string) {
		t.Helper()
		for id, want := range typed {
			if got := value(t, ctx, chromedp.Value(chromedp.ID(id))); got != want {
				t.Errorf("%s: %s = %q, want %q", when, id, got, want)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}

	// An invalid email: an inline error, announced, and nothing lost.
	do(t, ctx, chromedp.Click(chromedp.CSS("#sign-form button[type=submit]")))
	waitFor(t, ctx, "the email field marked invalid", `document.getElementById("email").getAttribute("aria-invalid") === "true"`)
	if got := jsString(t, ctx, `document.getElementById("email-error").textContent`); !strings.Contains(got, "email address") {
		t.Errorf("the inline error says %q", got)
	}
	if got := jsString(t, ctx, `document.getElementById("email").getAttribute("aria-describedby")`); got != "email-error email-hint" {
		t.Errorf("email aria-describedby = %q, want the error and the hint", got)
	}
	if got := jsString(t, ctx, `String(document.getElementById("first_name").getAttribute("aria-invalid"))`); got != "null" {
		t.Errorf("a valid field is marked aria-invalid=%s", got)
	}
	summary := jsString(t, ctx, `document.getElementById("form-status").textContent`)
	if !strings.Contains(summary, "Please check your letter") || !strings.Contains(summary, "Email: Please enter an email address") {
		t.Errorf("the announced summary reads %q", summary)
	}
	if got := jsString(t, ctx, `document.getElementById("form-status").getAttribute("role") + " " + document.activeElement.id + " " + location.pathname`); got != "alert form-status /" {
		t.Errorf("summary role, focus and page = %q, want an alert that has focus, on the campaign page", got)
	}
	kept("after the inline error")

	// A reload keeps the draft (sessionStorage).
	do(t, ctx, chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	kept("after a reload")
	waitFor(t, ctx, "the restored preview", mark("city")+` === "Springfield"`)

	// A dropped connection and a failing server: a clear message, nothing lost.
	do(t, ctx, retype("email", "jane@example.org"))
	typed["email"] = "jane@example.org"
	failSign(t, ctx, dropConnection(ctx), serverError(ctx, 502))
	do(t, ctx, chromedp.Click(chromedp.CSS("#sign-form button[type=submit]")))
	waitFor(t, ctx, "the network error", `document.getElementById("form-status").textContent.includes("could not reach the server")`)
	kept("after a network error")
	do(t, ctx, chromedp.Click(chromedp.CSS("#sign-form button[type=submit]")))
	waitFor(t, ctx, "the server error", `document.getElementById("form-status").textContent.includes("the server is busy")`)
	kept("after a 502")

	// Now it goes through: "check your inbox", the draft cleared; then
	// the link in the email, and the letters sent.
	do(t, ctx, chromedp.Click(chromedp.CSS("#sign-form button[type=submit]")), chromedp.WaitVisible(chromedp.ID("share-heading")))
	if n := jsString(t, ctx, `String(Object.keys(sessionStorage).filter(k => k.startsWith("campaign-draft:")).length)`); n != "0" {
		t.Errorf("%s drafts left in sessionStorage after success", n)
	}
	confirmInBrowser(t, ctx, inst, mg, ps)
	for _, text := range sentTexts(t, mg, 2) {
		if !strings.HasPrefix(text, subject+"\n") || !strings.Contains(text, ps) || !strings.Contains(text, "Springfield, IL 62701") {
			t.Errorf("a sent letter lacks the supporter's subject, edit or details:\n%s", text)
		}
	}
}

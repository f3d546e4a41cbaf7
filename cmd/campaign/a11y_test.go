package main

import (
	"campaignkit/handler/mailgun/mailguntest"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axeSource returns axe-core's script: CAMPAIGN_AXE_JS (set by .ci/run),
// else the copy that `npm install --prefix .ci/npm axe-core@4.10.3` leaves.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CAMPAIGN_AXE_JS")
	if path == "" {
		path = filepath.Join(repoRoot(t), ".ci", "npm", "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(path); err != nil {
			t.Skip("accessibility test skipped: no axe-core (set CAMPAIGN_AXE_JS or `npm install --prefix .ci/npm axe-core@4.10.3`; .ci/run does)")
		}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("CAMPAIGN_AXE_JS: %v", err)
	}
	return string(src)
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// axeCheck injects axe-core into the page (from DevTools, so the page's
// CSP does not apply) and fails the test on every violation of any rule
// axe runs by default: WCAG 2.0/2.1 A and AA and its best practices.
func axeCheck(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate[chromedp.Void](axe))
	raw := value(t, ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
		r.violations.map(v => ({ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.map(n => n.target.join(" "))}))))`,
		chromedp.EvalAwaitPromise))
	var violations []axeViolation
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		t.Fatalf("%s: axe answered %q: %v", page, raw, err)
	}
	for _, v := range violations {
		t.Errorf("%s: axe %s (%s): %s at %s", page, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
	}
}

// reflowCheck fails when the page scrolls sideways at 320 CSS pixels (WCAG
// 1.4.10; 1280 px at 400 % zoom, and more than 200 % zoom of a phone).
func reflowCheck(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	do(t, ctx, chromedp.EmulateViewport(320, 640))
	defer do(t, ctx, chromedp.EmulateViewport(1024, 900))
	w := value(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if w > 320 {
		t.Errorf("%s: at 320 px wide the page is %d px wide and scrolls sideways", page, w)
	}
}

func TestBrowserAccessibility(t *testing.T) {
	axe := axeSource(t)
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: mailgunEnv(mg)})
	ctx := newBrowser(t, true)
	defer screenshot(t, ctx, "a11y")

	// The campaign page as it loads.
	do(t, ctx, chromedp.Navigate(inst.URL+"/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	if lang := jsString(t, ctx, `document.documentElement.lang`); lang == "" {
		t.Error("the campaign page has no lang")
	}
	axeCheck(t, ctx, axe, "campaign page")
	reflowCheck(t, ctx, "campaign page")

	// A letter's own page, with its form.
	do(t, ctx, chromedp.Navigate(inst.URL+"/letters/family-separation/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	axeCheck(t, ctx, axe, "letter page")
	reflowCheck(t, ctx, "letter page")
	do(t, ctx, chromedp.Navigate(inst.URL+"/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))

	// Keyboard alone: the first Tab reaches a visible skip link, Enter
	// follows it, and the next Tab lands in the form with a visible focus ring.
	do(t, ctx, chromedp.KeyEvent(kb.Tab))
	if got := jsString(t, ctx, `(e => e.className + " " + (e.getBoundingClientRect().left >= 0 && e.getBoundingClientRect().top >= 0))(document.activeElement)`); got != "skip true" {
		t.Errorf("first Tab: focus %q, want the skip link shown on screen", got)
	}
	do(t, ctx, chromedp.KeyEvent(kb.Enter), chromedp.KeyEvent(kb.Tab))
	if got := jsString(t, ctx, `document.activeElement.id + " " + getComputedStyle(document.activeElement).outlineStyle`); got != "first_name solid" {
		t.Errorf("skip link then Tab: focus and outline %q, want the first field with a solid outline", got)
	}

	// The campaign page showing inline errors.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("first_name"), "Jane"), chromedp.SendKeys(chromedp.ID("email"), "not-an-address"),
		chromedp.Click(chromedp.CSS("#sign-form button[type=submit]")))
	waitFor(t, ctx, "inline errors", `!!document.getElementById("email-error")`)
	axeCheck(t, ctx, axe, "campaign page with inline errors")
	reflowCheck(t, ctx, "campaign page with inline errors")

	// The handler's HTML error page, as a browser without the script gets it.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); document.getElementById("sign-form").submit()`),
		chromedp.WaitVisible(chromedp.ID("problems")))
	if title := value(t, ctx, chromedp.Title()); !strings.HasPrefix(title, "Please check your letter · ") {
		t.Fatalf("expected the error page, got %q", title)
	}
	axeCheck(t, ctx, axe, "error page")
	reflowCheck(t, ctx, "error page")

	// The error page when the honeypot is the problem: it shows, labelled.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("website").value = "x"; document.getElementById("sign-form").submit()`),
		chromedp.WaitVisible(chromedp.ID("website-error")))
	if got := jsString(t, ctx, `(e => String(e.getBoundingClientRect().left >= 0 && !e.closest("[aria-hidden]") && e.tabIndex >= 0))(document.getElementById("website"))`); got != "true" {
		t.Error("the honeypot with a problem is not shown on screen, to assistive technology and to the keyboard")
	}
	axeCheck(t, ctx, axe, "error page with the honeypot shown")
	reflowCheck(t, ctx, "error page with the honeypot shown")

	// "Check your inbox", then the page the emailed link opens.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`(v => { for (const k in v) document.getElementById(k).value = v[k]; })({
		website: "", first_name: "Jane", last_name: "Doe", email: "jane@example.org", address: "12 Elm St",
		city: "Springfield", state: "IL", zip: "62701"}); document.getElementById("sign-form").submit()`),
		chromedp.WaitVisible(chromedp.ID("share-heading")))
	axeCheck(t, ctx, axe, "check-your-inbox page")
	reflowCheck(t, ctx, "check-your-inbox page")
	do(t, ctx, chromedp.Navigate(inst.URL+confirmationLink(t, mg, "jane@example.org")), chromedp.WaitVisible(chromedp.CSS("form.confirm")))
	axeCheck(t, ctx, axe, "confirmation page")
	reflowCheck(t, ctx, "confirmation page")
	do(t, ctx, chromedp.Navigate(inst.URL+"/api/confirm/unknown"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	axeCheck(t, ctx, axe, "expired-link page")

	// The thank-you page, with its share links.
	do(t, ctx, chromedp.Navigate(inst.URL+"/thanks/"), chromedp.WaitVisible(chromedp.ID("share-heading")))
	axeCheck(t, ctx, axe, "thank-you page")
	reflowCheck(t, ctx, "thank-you page")
	links := jsString(t, ctx, `[...document.querySelectorAll(".share a")].map(a => a.href).join("\n")`)
	for _, want := range []string{"mailto:?subject=", "https://x.com/intent/tweet?", "https://www.facebook.com/sharer/sharer.php?u="} {
		if !strings.Contains(links, want) {
			t.Errorf("share links lack %q:\n%s", want, links)
		}
	}
	// Built with a relative baseURL, the links carry this server's address.
	if want := fmt.Sprintf("u=%s", strings.ReplaceAll(strings.ReplaceAll(inst.URL+"/", ":", "%3A"), "/", "%2F")); !strings.Contains(links, want) {
		t.Errorf("the share links do not carry the campaign's address %s:\n%s", want, links)
	}
}

// TestBrowserAccessibilitySpanish runs axe on the Spanish edition's pages:
// the campaign page, the handler's error page (a form posted without the
// script), check-your-inbox, the confirmation page and the thank-you
// page, each in Spanish and saying so.
func TestBrowserAccessibilitySpanish(t *testing.T) {
	axe := axeSource(t)
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: mailgunEnv(mg)})
	ctx := newBrowser(t, true)
	defer screenshot(t, ctx, "a11y-es")
	spanish := func(page string) {
		t.Helper()
		if lang := jsString(t, ctx, `document.documentElement.lang`); lang != "es-US" {
			t.Errorf("%s: lang %q, want es-US", page, lang)
		}
		// The switch to English, labelled in English.
		if got := jsString(t, ctx, `(a => a ? a.lang + " " + a.textContent : "")(document.querySelector("header .languages a"))`); got != "en English" {
			t.Errorf("%s: language switch %q, want an English link labelled English", page, got)
		}
		axeCheck(t, ctx, axe, page)
		reflowCheck(t, ctx, page)
	}

	do(t, ctx, chromedp.Navigate(inst.URL+"/es/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	spanish("Spanish campaign page")

	do(t, ctx, chromedp.SendKeys(chromedp.ID("first_name"), "Ana"), chromedp.SendKeys(chromedp.ID("email"), "no-es-un-correo"),
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); document.getElementById("sign-form").submit()`),
		chromedp.WaitVisible(chromedp.ID("problems")))
	if title := value(t, ctx, chromedp.Title()); !strings.HasPrefix(title, "Por favor, revise su carta · ") {
		t.Fatalf("expected the Spanish error page, got %q", title)
	}
	spanish("Spanish error page")

	do(t, ctx, chromedp.Evaluate[chromedp.Void](`(v => { for (const k in v) document.getElementById(k).value = v[k]; })({
		first_name: "Ana", last_name: "Ruiz", email: "ana@example.org", address: "12 Elm St",
		city: "El Paso", state: "TX", zip: "79901"}); document.getElementById("sign-form").submit()`),
		chromedp.WaitVisible(chromedp.ID("share-heading")))
	if title := value(t, ctx, chromedp.Title()); !strings.HasPrefix(title, "Revise su correo") {
		t.Fatalf("expected the Spanish check-your-inbox page, got %q", title)
	}
	spanish("Spanish check-your-inbox page")
	do(t, ctx, chromedp.Navigate(inst.URL+confirmationLink(t, mg, "ana@example.org")), chromedp.WaitVisible(chromedp.CSS("form.confirm")))
	spanish("Spanish confirmation page")
	do(t, ctx, chromedp.Navigate(inst.URL+"/es/thanks/"), chromedp.WaitVisible(chromedp.ID("share-heading")))
	spanish("Spanish thank-you page")
}

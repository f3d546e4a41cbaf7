package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // the share image is a JPEG
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"campaignkit/handler/mailgun/mailguntest"
)

// The campaign page as supporters first meet it: what a phone and a
// desktop show without scrolling, the pages' screenshots, sharing, the
// privacy page, and axe with JavaScript off.

// artifactDir is where the browser tests leave their screenshots:
// $CAMPAIGN_ARTIFACTS/screenshots (CI keeps that folder), else
// campaign-screenshots in the system's temp folder. The test logs it.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "campaign-screenshots")
	if a := os.Getenv("CAMPAIGN_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// shoot saves two screenshots of what the tab shows at width: the first
// screen (NAME-WIDTH-first.png, what shows without scrolling) and the
// whole page (NAME-WIDTH.jpg; there the form's column, which stays in view
// on a desktop, shows where the first screen has it).
func shoot(t *testing.T, ctx context.Context, dir, name string, width, height int64) {
	t.Helper()
	do(t, ctx, chromedp.EmulateViewport(width, height))
	first := value(t, ctx, chromedp.CaptureScreenshot())
	full := value(t, ctx, chromedp.FullScreenshot(90))
	for file, buf := range map[string][]byte{fmt.Sprintf("%s-%d-first.png", name, width): first, fmt.Sprintf("%s-%d.jpg", name, width): full} {
		if err := os.WriteFile(filepath.Join(dir, file), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rect is an element's box in the viewport, in CSS pixels.
type rect struct{ Top, Bottom, Left, Right float64 }

func box(t *testing.T, ctx context.Context, selector string) rect {
	t.Helper()
	return value(t, ctx, chromedp.Evaluate[rect](fmt.Sprintf(
		`(b => ({Top: b.top, Bottom: b.bottom, Left: b.left, Right: b.right}))(document.querySelector(%q).getBoundingClientRect())`, selector)))
}

// TestBrowserFirstScreen holds the first screen's rules: on a phone
// (375x740) the headline, the sentences under it and the "Sign the letter"
// button show without scrolling, and the button takes the supporter to the
// form; on a desktop (1280x800) the form is a column of its own beside the
// story, its first field in view without scrolling and still in view after
// scrolling the story. It saves screenshots at 375, 768 and 1280 px.
func TestBrowserFirstScreen(t *testing.T) {
	inst := startServe(t, serveOpts{})
	ctx := newBrowser(t, true)
	dir := artifactDir(t)

	// A phone.
	do(t, ctx, chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(inst.URL+"/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	for _, sel := range []string{"h1", ".lede", ".cta"} {
		if b := box(t, ctx, sel); b.Top < 0 || b.Bottom > 740 || b.Right > 375 {
			t.Errorf("375x740: %s at %+v, want it on the first screen", sel, b)
		}
	}
	cta := box(t, ctx, ".cta")
	t.Logf("375x740: the call to action spans %.0f–%.0f px from the top", cta.Top, cta.Bottom)
	if b := box(t, ctx, "#first_name"); b.Top < 740 {
		t.Logf("375x740: the form's first field is on the first screen too (%.0f px)", b.Top)
	}
	if got := jsString(t, ctx, `document.querySelector(".cta").textContent + " " + document.querySelector(".cta").getAttribute("href")`); got != "Sign the letter #sign" {
		t.Errorf("the call to action is %q, want \"Sign the letter\" to #sign", got)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(".cta")))
	waitFor(t, ctx, "the form in view after the button", `(b => b.top >= -2 && b.top < 100)(document.getElementById("sign").getBoundingClientRect())`)
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo({top: 0, behavior: "instant"})`))
	shoot(t, ctx, dir, "campaign", 375, 740)

	// A tablet: one column still.
	do(t, ctx, chromedp.EmulateViewport(768, 1024), chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	shoot(t, ctx, dir, "campaign", 768, 1024)

	// A desktop.
	do(t, ctx, chromedp.EmulateViewport(1280, 800), chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	story, act := box(t, ctx, ".story"), box(t, ctx, ".act")
	if act.Left < story.Right {
		t.Errorf("1280x800: the form's column (%+v) is not beside the story (%+v)", act, story)
	}
	if b := box(t, ctx, "#first_name"); b.Top < 0 || b.Bottom > 800 {
		t.Errorf("1280x800: the first field at %+v, want it visible without scrolling", b)
	}
	if b := box(t, ctx, "#sign-form button[type=submit]"); b.Bottom > 800 {
		t.Errorf("1280x800: the send button at %+v, want the whole form on the first screen", b)
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo({top: document.getElementById("letter").offsetTop, behavior: "instant"})`))
	waitFor(t, ctx, "the page scrolled", `window.scrollY > 300`)
	if b := box(t, ctx, "#first_name"); b.Top < 0 || b.Bottom > 800 {
		t.Errorf("1280x800: scrolled to the letter, the first field is at %+v: the form's column does not stay in view", b)
	}
	if b := box(t, ctx, ".cta"); b.Bottom > b.Top {
		t.Error("1280x800: the \"Sign the letter\" button shows although the form is beside it")
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo({top: 0, behavior: "instant"})`))
	shoot(t, ctx, dir, "campaign", 1280, 800)

	// The other pages a supporter sees, at the same widths.
	for _, p := range []string{"thanks", "check-your-inbox", "privacy"} {
		do(t, ctx, chromedp.Navigate(inst.URL+"/"+p+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
		for _, w := range []int64{375, 768, 1280} {
			shoot(t, ctx, dir, p, w, 800)
		}
	}
	// The handler's error page (a form post with nothing filled in).
	do(t, ctx, chromedp.Navigate(inst.URL+"/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")),
		chromedp.Evaluate[chromedp.Void](`sessionStorage.clear(); document.getElementById("sign-form").submit()`),
		chromedp.WaitVisible(chromedp.ID("problems")))
	for _, w := range []int64{375, 1280} {
		shoot(t, ctx, dir, "error", w, 800)
	}
	t.Logf("screenshots: %s", dir)

	// Without JavaScript the page is the same first screen.
	nojs := newBrowser(t, false)
	do(t, nojs, chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(inst.URL+"/"), chromedp.WaitVisible(chromedp.ID("sign-form")))
	if b := box(t, nojs, ".cta"); b.Top < 0 || b.Bottom > 740 {
		t.Errorf("375x740 without JavaScript: the button at %+v, want it on the first screen", b)
	}
	shoot(t, nojs, dir, "campaign-nojs", 375, 740)
	do(t, nojs, chromedp.EmulateViewport(1280, 800), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("sign-form")))
	if b := box(t, nojs, "#first_name"); b.Top < 0 || b.Bottom > 800 {
		t.Errorf("1280x800 without JavaScript: the first field at %+v, want it visible", b)
	}
	shoot(t, nojs, dir, "campaign-nojs", 1280, 800)
}

// TestBrowserOneLetterAndLighterForm: the letter shows once, greeting each
// target, merge fields as plain words that fill in as the supporter types;
// only the optional field is marked; first and last name share a row.
func TestBrowserOneLetterAndLighterForm(t *testing.T) {
	inst := startServe(t, serveOpts{})
	ctx := newBrowser(t, true)
	do(t, ctx, chromedp.EmulateViewport(375, 740), chromedp.Navigate(inst.URL+"/"), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	letter := jsString(t, ctx, `document.getElementById("letter").innerText`)
	for _, want := range []string{"Dear President Trump,", "Dear Secretary Nielsen,", "[your first name]", "[your city]"} {
		if !strings.Contains(letter, want) {
			t.Errorf("the letter's view lacks %q:\n%s", want, letter)
		}
	}
	if strings.Contains(jsString(t, ctx, `document.documentElement.outerHTML`), "{{") {
		t.Error("the page shows a {{…}} placeholder")
	}
	if got := jsString(t, ctx, `String(document.querySelectorAll("textarea, #letter .paper").length)`); got != "2" {
		t.Errorf("%s textareas and letter views, want the one letter once", got)
	}
	marks := jsString(t, ctx, `[...document.querySelectorAll("#sign-form .req")].map(e => e.closest(".field").querySelector("input,select").name + e.textContent).join(" ")`)
	if marks != "phone(optional)" {
		t.Errorf("marked fields: %q, want only phone marked optional", marks)
	}
	if first, last := box(t, ctx, "#first_name"), box(t, ctx, "#last_name"); first.Top != last.Top || last.Left <= first.Right {
		t.Errorf("at 375 px first name (%+v) and last name (%+v) are not on one row", first, last)
	}
	if sub := box(t, ctx, "#subject"); sub.Right > 375 {
		t.Errorf("the subject field ends at %.0f px, beyond a 375 px phone", sub.Right)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("first_name"), "Jane"), chromedp.SendKeys(chromedp.ID("city"), "Springfield"))
	waitFor(t, ctx, "the signature to fill in", `document.querySelector("#letter .signature").innerText.includes("Jane") && document.querySelector("#letter .signature").innerText.includes("Springfield") && document.querySelector("#letter .signature").innerText.includes("[your last name]")`)
}

// TestBrowserThanksPageShares: plain share links for six channels, no
// script of anyone else's, the share sheet and copy button only with
// JavaScript, what happens next, and no second ask unless one is set.
func TestBrowserThanksPageShares(t *testing.T) {
	inst := startServe(t, serveOpts{})
	for _, js := range []bool{false, true} {
		ctx := newBrowser(t, js)
		do(t, ctx, chromedp.Navigate(inst.URL+"/thanks/"), chromedp.WaitVisible(chromedp.ID("share-heading")))
		links := jsString(t, ctx, `[...document.querySelectorAll(".share a")].map(a => a.href).join("\n")`)
		for _, want := range []string{"https://wa.me/?text=", "sms:?&body=", "mailto:?subject=", "https://x.com/intent/tweet?", "https://www.facebook.com/sharer/sharer.php?u=", "https://bsky.app/intent/compose?text="} {
			if !strings.Contains(links, want) {
				t.Errorf("js=%v: share links lack %q:\n%s", js, want, links)
			}
		}
		if n := jsString(t, ctx, `String([...document.scripts].filter(s => s.src && new URL(s.src).origin !== location.origin).length)`); n != "0" {
			t.Errorf("js=%v: %s scripts from another origin", js, n)
		}
		if got := jsString(t, ctx, `String(document.querySelector(".share-js").hidden)`); got != fmt.Sprint(!js) {
			t.Errorf("js=%v: the copy-link block hidden = %s", js, got)
		}
		steps := jsString(t, ctx, `document.querySelector(".steps").innerText`)
		if !strings.Contains(steps, "Confirm it from the email") || !strings.Contains(jsString(t, ctx, `document.querySelector("[aria-current=step]").innerText`), "goes to each official") {
			t.Errorf("js=%v: what happens next reads %q", js, steps)
		}
		if jsString(t, ctx, `String(!!document.querySelector(".ask"))`) != "false" {
			t.Errorf("js=%v: a second ask shows although the page sets none", js)
		}
	}
}

// TestBrowserAccessibilityWithoutJavaScript: axe finds nothing on the pages a
// supporter reaches without the page's script, and none scrolls sideways at
// 320 px. The browser blocks the site's script rather than turning
// JavaScript off: axe itself needs timers, which a page without scripting
// never runs.
func TestBrowserAccessibilityWithoutJavaScript(t *testing.T) {
	axe := axeSource(t)
	mg := mailguntest.New()
	defer mg.Close()
	inst := startServe(t, serveOpts{Env: mailgunEnv(mg)})
	ctx := newBrowser(t, true)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/js/*", Block: true}}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "thanks/", "check-your-inbox/", "privacy/"} {
		do(t, ctx, chromedp.Navigate(inst.URL+"/"+p), chromedp.WaitVisible(chromedp.CSS("h1")))
		if p == "" && jsString(t, ctx, `String(document.getElementById("sign-form").noValidate)`) != "false" {
			t.Fatal("the page's script ran although it is blocked")
		}
		axeCheck(t, ctx, axe, "/"+p+" without JavaScript")
		reflowCheck(t, ctx, "/"+p+" without JavaScript")
	}
	// The browser's own check would stop an empty form: post it as it is.
	do(t, ctx, chromedp.Navigate(inst.URL+"/"), chromedp.WaitVisible(chromedp.ID("sign-form")), chromedp.Evaluate[chromedp.Void](`document.getElementById("sign-form").submit()`), chromedp.WaitVisible(chromedp.ID("problems")))
	axeCheck(t, ctx, axe, "error page without JavaScript")
	reflowCheck(t, ctx, "error page without JavaScript")
}

// buildWith runs `campaign build` on a copy of the site (content edited by
// edit, when given) with env, and returns the public folder.
func buildWith(t *testing.T, env []string, edit func(root string)) string {
	t.Helper()
	root, public := repoRoot(t), filepath.Join(t.TempDir(), "public")
	site := filepath.Join(root, "site")
	if edit != nil {
		copyRoot := t.TempDir()
		for _, d := range []string{"content", "layouts", "site"} {
			if out, err := exec.Command("cp", "-r", filepath.Join(root, d), copyRoot).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v\n%s", err, out)
			}
		}
		edit(copyRoot)
		site = filepath.Join(copyRoot, "site")
	}
	cmd := exec.Command(binary, "build", "-site", site, "-public", public, "-function", t.TempDir())
	cmd.Dir = root
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("campaign build: %v\n%s", err, out)
	}
	return public
}

func readPublic(t *testing.T, public, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(public, page))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var metaPattern = regexp.MustCompile(`<meta (?:property|name)="?([a-z:_]+)"? content="([^"]*)"`)

// TestShareTags: with the site's public address, the campaign page carries
// Open Graph and Twitter card tags with a canonical address and a 1200x630
// image drawn at build, which no tag of the page loads; the thank-you page
// shares the campaign, not itself.
func TestShareTags(t *testing.T) {
	public := buildWith(t, []string{"CAMPAIGN_SITE_URL=https://families.example/"}, nil)
	page := readPublic(t, public, "index.html")
	meta := map[string]string{}
	for _, m := range metaPattern.FindAllStringSubmatch(page, -1) {
		meta[m[1]] = m[2]
	}
	for k, want := range map[string]string{"og:url": "https://families.example/", "og:title": "Protect children. End family separation.",
		"twitter:card": "summary_large_image", "og:image:width": "1200", "og:image:height": "630"} {
		if meta[k] != want {
			t.Errorf("%s = %q, want %q", k, meta[k], want)
		}
	}
	if !strings.Contains(page, `<link rel=canonical href=https://families.example/>`) {
		t.Error("no canonical link to the public address")
	}
	// Each language's page, for search engines, at its absolute address.
	for _, l := range []string{`<link rel=alternate hreflang=en href=https://families.example/>`, `<link rel=alternate hreflang=es href=https://families.example/es/>`} {
		if !strings.Contains(page, l) {
			t.Errorf("the campaign page lacks %s", l)
		}
	}
	img := meta["og:image"]
	if !strings.HasPrefix(img, "https://families.example/img/") || meta["og:description"] == "" {
		t.Fatalf("og:image %q, og:description %q", img, meta["og:description"])
	}
	f, err := os.Open(filepath.Join(public, strings.TrimPrefix(img, "https://families.example/")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil || cfg.Width != 1200 || cfg.Height != 630 {
		t.Errorf("the share image is %dx%d (%v), want 1200x630", cfg.Width, cfg.Height, err)
	}
	name := filepath.Base(img)
	for _, tag := range fetchingTag.FindAllString(page, -1) {
		if strings.Contains(tag, name) {
			t.Errorf("the page loads its share image: %s", tag)
		}
	}
	thanks := readPublic(t, public, "thanks/index.html")
	if !strings.Contains(thanks, `og:url" content="https://families.example/"`) || !strings.Contains(thanks, "https%3A%2F%2Ffamilies.example%2F") {
		t.Error("the thank-you page does not share the campaign's public address")
	}

	// Without an address the tags that need one are left out, not made relative.
	local := readPublic(t, buildWith(t, nil, nil), "index.html")
	if strings.Contains(local, "og:url") || strings.Contains(local, "og:image") || strings.Contains(local, "canonical") || strings.Contains(local, "rel=alternate") {
		t.Error("a build without the public address has og:url, og:image, a canonical or an alternate-language link")
	}
}

// TestPrivacyPageStatesTheSettings: the privacy page says what this deploy
// does: its retention, the confirmation link's life or that letters go at
// once, and the opt-in's exact words.
func TestPrivacyPageStatesTheSettings(t *testing.T) {
	def := readPublic(t, buildWith(t, nil, nil), "privacy/index.html")
	for _, want := range []string{"deleted 365 days after you sign", "within 7 days", "Keep me informed about this campaign by email.", "hello@families-together.example"} {
		if !strings.Contains(def, want) {
			t.Errorf("default privacy page lacks %q", want)
		}
	}
	if strings.Contains(def, "sent as soon as you sign") {
		t.Error("default privacy page says letters go without confirmation")
	}
	set := readPublic(t, buildWith(t, []string{"CAMPAIGN_RETENTION=90d", "CAMPAIGN_CONFIRM=off"}, nil), "privacy/index.html")
	if !strings.Contains(set, "deleted 90 days after you sign") || !strings.Contains(set, "sent as soon as you sign") || strings.Contains(set, "Nothing is sent until you confirm") {
		t.Errorf("privacy page with CAMPAIGN_RETENTION=90d CAMPAIGN_CONFIRM=off does not say so")
	}
	cmd := exec.Command(binary, "build", "-public", t.TempDir())
	cmd.Dir = repoRoot(t)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CAMPAIGN_RETENTION=soon"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "CAMPAIGN_RETENTION") {
		t.Errorf("a build with CAMPAIGN_RETENTION=soon: %v\n%s", err, out)
	}
}

// TestSecondAsk: the thank-you page's front matter `ask` shows a second
// ask, with its link.
func TestSecondAsk(t *testing.T) {
	public := buildWith(t, nil, func(root string) {
		p := filepath.Join(root, "content", "thanks.md")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ask := "share: true\nask:\n  title: \"Make a call too\"\n  text: \"Two minutes on the phone doubles your letter.\"\n  link: \"tel:+12025550100\"\n  label: \"Call the White House\"\n"
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), "share: true\n", ask, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	thanks := readPublic(t, public, "thanks/index.html")
	if !strings.Contains(thanks, "Make a call too") || !strings.Contains(thanks, `href=tel:+12025550100`) {
		t.Errorf("the second ask is not on the thank-you page")
	}
}

// TestMergeFieldInTheBody: a merge field in the letter's text reads as plain
// words in the editable letter, and the letter's data keeps the handler's
// placeholder and the signature (the page's rendering must not leak into it).
func TestMergeFieldInTheBody(t *testing.T) {
	public := buildWith(t, nil, func(root string) {
		p := filepath.Join(root, "content", "letters", "family-separation.md")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(b), "I am writing to voice", "As a resident of {{< field city >}}, I am writing to voice", 1)
		if edited == string(b) {
			t.Fatal("the letter's first sentence changed: update this test")
		}
		if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	page := readPublic(t, public, "index.html")
	field := textareaPattern.FindStringSubmatch(page)
	if field == nil || !strings.HasPrefix(field[1], "As a resident of [your city], I am writing") {
		t.Fatalf("the editable letter does not show the field as plain words: %q", field)
	}
	var data struct {
		Body, Signature string
		Placeholders    map[string]string
	}
	if err := json.Unmarshal([]byte(readPublic(t, public, "letters/family-separation/index.json")), &data); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(data.Body, "As a resident of {{city}}, I am writing") || !strings.HasPrefix(data.Signature, "Sincerely,\n\n{{first_name}} {{last_name}}") || data.Placeholders["city"] != "[your city]" {
		t.Errorf("the letter's data: body %.50q…, signature %.40q…, placeholders %v", data.Body, data.Signature, data.Placeholders)
	}
}

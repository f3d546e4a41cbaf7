package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gohugoio/hugo/parser/pageparser"
)

// TestBrowserCMSLoads opens /cms/ under `campaign serve` in Chromium: the
// CMS starts, reads its configuration and shows its sign-in page, with its
// own policy and without a console error (a blocked script, style, image or
// request would log one), and loads nothing from another origin.
func TestBrowserCMSLoads(t *testing.T) {
	inst := startServe(t, serveOpts{})
	resp, _ := get(t, inst.URL+"/cms/")
	if csp := resp.Header.Get("Content-Security-Policy"); csp != cmsCSP {
		t.Errorf("/cms/ Content-Security-Policy = %q, want the CMS's", csp)
	}
	if resp.Header.Get("X-Robots-Tag") != "noindex, nofollow" {
		t.Errorf("/cms/ X-Robots-Tag = %q", resp.Header.Get("X-Robots-Tag"))
	}
	if resp, _ := get(t, inst.URL+"/"); resp.Header.Get("Content-Security-Policy") != siteCSP {
		t.Errorf("/ Content-Security-Policy = %q: the pages' policy changed", resp.Header.Get("Content-Security-Policy"))
	}

	ctx := newBrowser(t, true)
	var mu sync.Mutex
	var problems, requested []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text+" "+exceptionText(e.ExceptionDetails))
		case *log.EventEntryAdded:
			// A policy violation (source "security") is always one; a
			// failed load only from this server (this machine reaches no
			// GitHub).
			if e.Entry.Level == log.EntryLevelError && (e.Entry.Source == log.EntrySourceSecurity || strings.HasPrefix(e.Entry.URL, inst.URL)) {
				problems = append(problems, string(e.Entry.Source)+": "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			requested = append(requested, e.Request.URL)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Navigate(inst.URL+"/cms/"))
	// The sign-in page: GitHub, and the local repository (a Chromium
	// feature), as the configuration asks.
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("problems: %q\nrequests: %q\npage text: %q", problems, requested,
				value(t, ctx, chromedp.Evaluate[string](`document.body.innerText`)))
			screenshot(t, ctx, "cms")
		}
	})
	waitFor(t, ctx, "the CMS's sign-in page", `(t => t.includes("Sign In with GitHub") && t.includes("Work with Local Repository"))(document.body.innerText.replace(/[\u2068\u2069]/g, ""))`)
	waitFor(t, ctx, "the page to finish loading", `document.readyState === "complete"`)
	// CAMPAIGN_SCREENSHOTS=dir keeps pictures of it, phone and desktop.
	if dir := os.Getenv("CAMPAIGN_SCREENSHOTS"); dir != "" {
		for _, size := range [][2]int64{{375, 740}, {1280, 800}} {
			do(t, ctx, chromedp.EmulateViewport(size[0], size[1]))
			buf := value(t, ctx, chromedp.CaptureScreenshot())
			p := filepath.Join(dir, fmt.Sprintf("cms-%dx%d.png", size[0], size[1]))
			if err := os.WriteFile(p, buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("on /cms/: %s", p)
	}
	// Its fonts come from here; GitHub's status page is the one other
	// origin it asks before sign-in.
	for _, u := range requested {
		if !strings.HasPrefix(u, inst.URL+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") &&
			!strings.HasPrefix(u, "https://www.githubstatus.com/") && !strings.HasPrefix(u, "https://unpkg.com/@sveltia/cms/package.json") {
			t.Errorf("/cms/ requested %s", u)
		}
	}
	t.Logf("requests: %s", strings.Join(requested, ", "))
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// TestBrowserCMSKeepsTheLetter edits the letter in the CMS as an editor
// would with "Work with Local Repository" (the browser's File System Access
// API, given here a copy of content/ in the page's private file system):
// the three pages and the letter open in English and Spanish; it changes
// the subject, saves, and reads the files back: the body, with its merge
// fields and signature block, every other field, and the Spanish letter
// are as they were.
func TestBrowserCMSKeepsTheLetter(t *testing.T) {
	inst := startServe(t, serveOpts{})
	ctx := newBrowser(t, true)
	root := repoRoot(t)
	files := map[string]string{".git/HEAD": "ref: refs/heads/main\n"}
	err := filepath.WalkDir(filepath.Join(root, "content"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(must(filepath.Rel(root, p)))] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A Spanish letter beside the English one (the repository's own once it
	// has one): saving the English must keep its translated fields.
	const es = "content/letters/family-separation.es.md"
	if _, ok := files[es]; !ok {
		files[es] = spanishLetter
	}
	filesJSON, _ := json.Marshal(files)
	do(t, ctx, chromedp.Navigate(inst.URL+"/cms/"))
	waitFor(t, ctx, "the CMS's sign-in page", `document.body.innerText.includes("Work with Local Repository")`)
	value(t, ctx, chromedp.Evaluate[bool](`(async (files) => {
		const opfs = await navigator.storage.getDirectory();
		for await (const name of opfs.keys()) await opfs.removeEntry(name, {recursive: true});
		const repo = await opfs.getDirectoryHandle("campaignkit", {create: true});
		for (const [path, text] of Object.entries(files)) {
			const parts = path.split("/");
			let dir = repo;
			for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p, {create: true});
			const w = await (await dir.getFileHandle(parts.at(-1), {create: true})).createWritable();
			await w.write(text);
			await w.close();
		}
		window.showDirectoryPicker = async () => repo;
		return true;
	})(`+string(filesJSON)+`)`, chromedp.EvalAwaitPromise))
	clickText(t, ctx, "button", "Work with Local Repository")
	waitFor(t, ctx, "the collections", `document.body.innerText.includes("Letters")`)
	// The pages are found where Hugo has them (content/_index.md, …).
	for entry, title := range map[string]string{
		"campaign": "Protect children. End family separation.", "thanks": "Thank you: your letter is on its way",
		"check-your-inbox": "Check your inbox to send your letter",
	} {
		// Through the list, as an editor goes from one to the next.
		do(t, ctx, chromedp.Navigate(inst.URL+"/cms/#/collections/pages"))
		waitFor(t, ctx, "the list of pages", `(t => ["Campaign page", "Thank-you page", "Check-your-inbox page"].every(p => t.includes(p)) && !t.includes("Headline"))(document.body.innerText)`)
		do(t, ctx, chromedp.Navigate(inst.URL+"/cms/#/collections/pages/entries/"+entry))
		waitFor(t, ctx, "the "+entry+" page's editor", `[...document.querySelectorAll("input")].some(e => e.value === "`+title+`")`)
	}
	do(t, ctx, chromedp.Navigate(inst.URL+"/cms/#/collections/letters/entries/family-separation"))
	const subject = "Protect children, end family separation"
	waitFor(t, ctx, "the letter's editor", `[...document.querySelectorAll("input")].some(e => e.value === "`+subject+`")`)
	// The Spanish letter is found beside the English as its translation:
	// the right-hand pane's language switch shows it. (Pressed again until
	// it does: a press while the editor still settles can be lost.)
	spanish := fmt.Sprintf(`[...document.querySelectorAll("input")].some(e => e.value === %q)`, parsePage(t, files[es]).FrontMatter["subject"])
	for try := 0; try < 10 && !value(t, ctx, chromedp.Evaluate[bool](spanish)); try++ {
		value(t, ctx, chromedp.Evaluate[bool](`(() => { [...document.querySelectorAll("button")].filter(b => b.innerText.trim() === "Spanish").at(-1).id = "cms-es"; return true })()`))
		do(t, ctx, chromedp.Click(chromedp.ID("cms-es")))
		time.Sleep(time.Second)
	}
	waitFor(t, ctx, "the Spanish letter", spanish)
	// The subject's input: the last with its text (the title, above it, may read the same).
	value(t, ctx, chromedp.Evaluate[bool](`(() => { [...document.querySelectorAll("input")].filter(e => e.value === "`+subject+`").pop().id = "cms-subject"; return true })()`))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("cms-subject"), " now"))
	read := `(async () => {
		const repo = await (await navigator.storage.getDirectory()).getDirectoryHandle("campaignkit");
		const dir = await repo.getDirectoryHandle("content").then(d => d.getDirectoryHandle("letters"));
		return await (await (await dir.getFileHandle("family-separation.md")).getFile()).text();
	})()`
	// Save, pressed again until the file changes (at most ten times): a
	// press before the editor has taken the typing can be lost.
	var saved string
	for try := 0; try < 10; try++ {
		clickText(t, ctx, "button", "Save")
		time.Sleep(time.Second)
		if saved = value(t, ctx, chromedp.Evaluate[string](read, chromedp.EvalAwaitPromise)); saved != files["content/letters/family-separation.md"] {
			break
		}
	}
	screenshot(t, ctx, "cms-letter")
	before := parsePage(t, files["content/letters/family-separation.md"])
	after := parsePage(t, saved)
	// Hugo reads the body without its leading and trailing blank lines
	// (the letter's JSON trims them; Markdown ignores them); the CMS puts
	// one blank line after the front matter.
	if strings.TrimSpace(string(after.Content)) != strings.TrimSpace(string(before.Content)) {
		t.Errorf("the CMS changed the letter's body:\n--- before\n%s\n--- after\n%s", before.Content, after.Content)
	}
	want := maps.Clone(before.FrontMatter)
	want["subject"] = subject + " now"
	if !reflect.DeepEqual(after.FrontMatter, want) {
		t.Errorf("front matter after saving:\n got %v\nwant %v", after.FrontMatter, want)
	}
	// What the CMS writes: the same fields, without the file's comments.
	t.Logf("the letter as the CMS saved it:\n%s", saved)
	// The Spanish letter is as it was: its own subject, titles, salutations
	// and text, and the English one's id, names and addresses.
	savedES := value(t, ctx, chromedp.Evaluate[string](strings.Replace(read, "family-separation.md", "family-separation.es.md", 1), chromedp.EvalAwaitPromise))
	beforeES, afterES := parsePage(t, files[es]), parsePage(t, savedES)
	// The CMS copies the English letter's settings into it (fields marked
	// i18n: duplicate); the site reads them from the English file only.
	wantES := maps.Clone(beforeES.FrontMatter)
	for _, k := range []string{"confirm", "copy_to_signer", "review_edits", "goal"} {
		if v, ok := after.FrontMatter[k]; ok {
			wantES[k] = v
		}
	}
	if strings.TrimSpace(string(afterES.Content)) != strings.TrimSpace(string(beforeES.Content)) || !reflect.DeepEqual(afterES.FrontMatter, wantES) {
		t.Errorf("saving the English letter changed the Spanish one:\n--- before\n%s\n--- after\n%s", files[es], savedES)
	}
}

// spanishLetter stands in for the Spanish edition's letter where the
// repository has none yet.
const spanishLetter = `---
title: "La carta"
id: family-separation
subject: "Protejan a los niños, pongan fin a la separación de familias"
outputs: [html, json]
confirm: true
copy_to_signer: false
review_edits: false
targets:
  - name: Donald J. Trump
    title: Presidente de los Estados Unidos
    email: president@whitehouse.example
    salutation: "Estimado señor presidente:"
  - name: Kirstjen Nielsen
    title: Secretaria de Seguridad Nacional
    email: secretary@dhs.example
    salutation: "Estimada señora secretaria:"
---
Les escribo para expresar mi preocupación por la separación de familias.

{{< signature >}}
Atentamente,

{{< field first_name >}} {{< field last_name >}}
{{< /signature >}}
`

func parsePage(t *testing.T, text string) pageparser.ContentFrontMatter {
	t.Helper()
	page, err := pageparser.ParseFrontMatterAndContent(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return page
}

// clickText clicks the first element of a kind whose text is text.
func clickText(t *testing.T, ctx context.Context, tag, text string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const el = [...document.querySelectorAll(%q)].find(e => e.innerText.replace(/[\u2068\u2069]/g, "").trim() === %q); if (!el) return false; el.click(); return true })()`, tag, text)
	if !value(t, ctx, chromedp.Evaluate[bool](js)) {
		t.Fatalf("no %s %q to click", tag, text)
	}
}

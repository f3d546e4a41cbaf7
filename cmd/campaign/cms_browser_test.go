package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
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

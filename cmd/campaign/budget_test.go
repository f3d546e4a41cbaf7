package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pageBudget is what the campaign page may weigh, gzip-compressed, with
// everything it loads: supporters open it on phones on slow networks.
const pageBudget = 15 * 1024

// asset is one file the campaign page loads, as the server sent it.
type asset struct {
	URL       string
	Raw, Gzip int
}

var (
	// Tags that make a browser fetch something, and where they name it.
	fetchingTag = regexp.MustCompile(`(?i)<(link|script|img|source|iframe|video|audio|embed|object)\b[^>]*>`)
	attrPattern = regexp.MustCompile(`(?i)\s(href|src|srcset|data|rel)=("[^"]*"|'[^']*'|[^\s>]+)`)
	cssURL      = regexp.MustCompile(`url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]`)
	// Link relations that load their target.
	loadingRel = map[string]bool{"stylesheet": true, "preload": true, "modulepreload": true, "icon": true, "manifest": true}
)

// touchSiteInputs stats the files the site is built from, so that `go
// test` reruns this package's tests (not a cached result) when they change:
// the binary under test reads them, the test process would not otherwise.
func touchSiteInputs(t *testing.T) {
	for _, dir := range []string{"content", "layouts", "site"} {
		filepath.WalkDir(filepath.Join(repoRoot(t), dir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				os.Stat(p)
			}
			return nil
		})
	}
}

func gzipSize(b []byte) int {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	zw.Write(b)
	zw.Close()
	return buf.Len()
}

// pageWeight fetches the page and everything its HTML and CSS reference
// from the running server, and reports each with its raw and gzip size.
// References to another origin are returned apart, not fetched.
func pageWeight(t *testing.T, pageURL string) (assets []asset, foreign []string) {
	t.Helper()
	base, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var fetchURL func(ref string, css bool)
	fetchURL = func(ref string, css bool) {
		u, err := base.Parse(strings.TrimSpace(ref))
		if err != nil {
			t.Errorf("unparseable reference %q: %v", ref, err)
			return
		}
		if u.Scheme == "data" {
			return // inline: already counted in the file that holds it
		}
		if u.Scheme+"://"+u.Host != base.Scheme+"://"+base.Host {
			foreign = append(foreign, u.String())
			return
		}
		u.Fragment = ""
		if seen[u.String()] {
			return
		}
		seen[u.String()] = true
		resp, body := get(t, u.String())
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", u, resp.StatusCode)
		}
		assets = append(assets, asset{URL: u.RequestURI(), Raw: len(body), Gzip: gzipSize([]byte(body))})
		if css || strings.HasSuffix(u.Path, ".css") {
			for _, m := range cssURL.FindAllStringSubmatch(body, -1) {
				fetchURL(m[1]+m[2], true)
			}
		}
	}
	resp, page := get(t, pageURL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", pageURL, resp.StatusCode)
	}
	seen[pageURL] = true
	assets = append(assets, asset{URL: base.RequestURI(), Raw: len(page), Gzip: gzipSize([]byte(page))})
	for _, tag := range fetchingTag.FindAllStringSubmatch(page, -1) {
		attrs := map[string]string{}
		for _, a := range attrPattern.FindAllStringSubmatch(tag[0], -1) {
			attrs[strings.ToLower(a[1])] = strings.Trim(a[2], `"'`)
		}
		if strings.EqualFold(tag[1], "link") && !loadingRel[strings.ToLower(attrs["rel"])] {
			continue // a link that loads nothing, such as rel=canonical
		}
		for _, name := range []string{"href", "src", "data"} {
			if ref := attrs[name]; ref != "" {
				fetchURL(ref, false)
			}
		}
		for _, cand := range strings.Split(attrs["srcset"], ",") {
			if f := strings.Fields(cand); len(f) > 0 {
				fetchURL(f[0], false)
			}
		}
	}
	return assets, foreign
}

func weightTable(assets []asset) (string, int) {
	var b strings.Builder
	raw, gz := 0, 0
	fmt.Fprintf(&b, "%-96s %7s %7s\n", "asset", "raw", "gzip")
	for _, a := range assets {
		fmt.Fprintf(&b, "%-96s %7d %7d\n", a.URL, a.Raw, a.Gzip)
		raw, gz = raw+a.Raw, gz+a.Gzip
	}
	fmt.Fprintf(&b, "%-96s %7d %7d (budget %d)\n", "total", raw, gz, pageBudget)
	return b.String(), gz
}

// TestPageBudget weighs the campaign page as the server serves it: the
// HTML and every stylesheet, script, image and font it references,
// gzip-compressed. It fails past 15 KB or on any reference to another origin.
// `go test ./cmd/campaign -run TestPageBudget -v` prints the weights.
//
// The Spanish campaign page (/es/) is weighed alike.
func TestPageBudget(t *testing.T) {
	touchSiteInputs(t)
	inst := startServe(t, serveOpts{})
	for _, path := range []string{"/", "/es/"} {
		assets, foreign := pageWeight(t, inst.URL+path)
		table, total := weightTable(assets)
		t.Logf("campaign page %s weight:\n%s", path, table)
		if total > pageBudget {
			t.Errorf("the campaign page %s weighs %d bytes gzip-compressed, over the budget of %d", path, total, pageBudget)
		}
		for _, u := range foreign {
			t.Errorf("the campaign page %s loads from another origin: %s", path, u)
		}
		var kinds []string
		for _, a := range assets {
			kinds = append(kinds, filepath.Ext(a.URL))
		}
		if !slices.Contains(kinds, ".css") || !slices.Contains(kinds, ".js") {
			t.Errorf("the weighing of %s missed the stylesheet or the script (found %v): the budget would be a lie", path, kinds)
		}
	}
}

// TestPageBudgetInBrowser loads the campaign page in Chromium and fails on
// any request to another origin, or on any request the weighing above does
// not count (so nothing the browser loads escapes the budget); and the
// Spanish one.
func TestPageBudgetInBrowser(t *testing.T) {
	inst := startServe(t, serveOpts{})
	for _, path := range []string{"/", "/es/"} {
		t.Run(strings.Trim(path, "/"), func(t *testing.T) { budgetInBrowser(t, inst.URL, path) })
	}
}

func budgetInBrowser(t *testing.T, base, path string) {
	ctx := newBrowser(t, true)
	var mu sync.Mutex
	var requested []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requested = append(requested, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	page := base + path + "?source=budget"
	do(t, ctx, chromedp.Navigate(page), chromedp.WaitReady(chromedp.CSS("#sign-form[novalidate]")))
	waitFor(t, ctx, "the page to finish loading", `document.readyState === "complete"`)
	// Typing must not fetch anything either (the preview is built in the page).
	do(t, ctx, chromedp.SendKeys(chromedp.ID("city"), "Springfield"))
	waitFor(t, ctx, "the preview", `document.querySelector("mark[data-field=city]").textContent === "Springfield"`)

	assets, _ := pageWeight(t, page)
	weighed := map[string]bool{}
	for _, a := range assets {
		weighed[base+a.URL] = true
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requested) == 0 {
		t.Fatal("saw no requests: the network listener is not working")
	}
	for _, u := range requested {
		switch {
		case !strings.HasPrefix(u, base+"/"):
			t.Errorf("the browser requested another origin: %s", u)
		case !weighed[u]:
			t.Errorf("the browser requested %s, which the page budget does not weigh", u)
		}
	}
	t.Logf("requests: %d (%s)", len(requested), strings.Join(requested, ", "))
}

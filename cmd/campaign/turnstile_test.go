package main

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"campaignkit/handler/turnstile"
)

// turnstileMarks are what of Turnstile could reach a page.
var turnstileMarks = []string{"cf-turnstile", "challenges.cloudflare.com", "data-sitekey", "turnstile"}

// `campaign build` puts the widget in the form only with a site key, and
// writes the pages' policy for Netlify to match: without the key, nothing
// of Turnstile is in any page, letter or header.
func TestBuildWithAndWithoutTurnstile(t *testing.T) {
	for _, key := range []string{"", "1x00000000000000000000AA"} {
		public := filepath.Join(t.TempDir(), "public")
		cmd := exec.Command(binary, "build", "-public", public, "-function", "")
		cmd.Dir = repoRoot(t)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TURNSTILE_SITE_KEY=" + key}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("campaign build: %v\n%s", err, out)
		}
		wantCSP := siteCSP
		if key != "" {
			wantCSP = turnstile.CSP(siteCSP)
		}
		// Every page has that policy; /cms/ its own.
		checkHeadersFile(t, public, wantCSP)
		home, err := os.ReadFile(filepath.Join(public, "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			// The campaign page and the handler's error page (in the letter's JSON) both carry the widget.
			for _, want := range []string{`<div class=cf-turnstile data-sitekey=` + key + ` data-action=sign`,
				`<script src=https://challenges.cloudflare.com/turnstile/v0/api.js async defer></script>`} {
				if !strings.Contains(string(home), want) {
					t.Errorf("the campaign page lacks %s", want)
				}
			}
			letter, err := os.ReadFile(filepath.Join(public, "letters/family-separation/index.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(letter), `data-sitekey=\"`+key+`\"`) {
				t.Error("the handler's error page lacks the widget")
			}
			continue
		}
		// The pages, the letters as data and the headers: the page script
		// alone names window.turnstile, and does nothing without it.
		err = filepath.WalkDir(public, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, ".js") {
				return err
			}
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range turnstileMarks {
				if strings.Contains(strings.ToLower(string(raw)), m) {
					t.Errorf("built without a key, %s holds %q", p, m)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The pages' policy allows nothing of another origin, and with Turnstile
// only Cloudflare's script and frame.
func TestPagesPolicy(t *testing.T) {
	for _, key := range []string{"", "site-key"} {
		csp := pageCSP(key)
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("key %q: the policy lacks %q: %q", key, want, csp)
			}
		}
		if strings.Contains(csp, turnstile.Origin) != (key != "") {
			t.Errorf("key %q: policy %q", key, csp)
		}
		rest := strings.ReplaceAll(csp, turnstile.Origin, "")
		for _, bad := range []string{"http:", "https:", "*", "'unsafe-inline'", "'unsafe-eval'"} {
			if strings.Contains(rest, bad) {
				t.Errorf("key %q: the policy allows %q: %q", key, bad, csp)
			}
		}
	}
}

// `campaign serve` with both keys: the pages' policy lets the widget load,
// and a signature goes through only with a token siteverify accepts; its
// error page carries the widget again and keeps what was typed. Without
// the keys the policy is siteCSP exactly.
func TestServeWithTurnstile(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	sv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		tokens = append(tokens, r.PostForm.Get("response"))
		mu.Unlock()
		if r.PostForm.Get("response") == "good" {
			w.Write([]byte(`{"success":true,"action":"sign"}`))
			return
		}
		w.Write([]byte(`{"success":false,"error-codes":["invalid-input-response"]}`))
	}))
	defer sv.Close()
	inst := startServe(t, serveOpts{Env: []string{"TURNSTILE_SITE_KEY=site-key", "TURNSTILE_SECRET_KEY=secret",
		"TURNSTILE_VERIFY_URL=" + sv.URL}})
	resp, page := get(t, inst.URL+"/")
	if csp := resp.Header.Get("Content-Security-Policy"); csp != turnstile.CSP(siteCSP) {
		t.Errorf("page policy = %q", csp)
	}
	if !strings.Contains(page, "data-sitekey=site-key") {
		t.Error("the page has no widget")
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"letter": {"family-separation"}, "first_name": {"Jane"}, "last_name": {"Doe"},
		"email": {"jane@example.org"}, "address": {"12 Elm St"}, "city": {"Springfield-Unique"}, "state": {"IL"},
		"zip": {"62701"}, turnstile.ResponseField: {"forged"}}
	resp, err := noRedirect.PostForm(inst.URL+"/api/sign", form)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "We could not confirm that a person") ||
		!strings.Contains(body, `value="Springfield-Unique"`) || !strings.Contains(body, `data-sitekey="site-key"`) {
		t.Fatalf("forged token: %d\n%s", resp.StatusCode, body)
	}
	form.Set(turnstile.ResponseField, "good")
	resp, err = noRedirect.PostForm(inst.URL+"/api/sign", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("good token: %d\n%s", resp.StatusCode, inst.Logs())
	}
	mu.Lock()
	if strings.Join(tokens, ",") != "forged,good" {
		t.Errorf("siteverify heard %v", tokens)
	}
	mu.Unlock()

	plain := startServe(t, serveOpts{})
	resp, page = get(t, plain.URL+"/")
	if csp := resp.Header.Get("Content-Security-Policy"); csp != siteCSP || strings.Contains(page, "turnstile") {
		t.Errorf("without keys: policy %q, widget in page: %v", csp, strings.Contains(page, "turnstile"))
	}
}

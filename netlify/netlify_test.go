// Package netlify_test checks netlify.toml, the file Netlify builds and
// routes the campaign from.
package netlify_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

type netlifyConfig struct {
	Build struct {
		Command   string
		Publish   string
		Functions string
	}
	Redirects []struct {
		From, To string
		Status   int
		Force    bool
	}
	Functions map[string]struct{ Schedule string }
	Headers   []struct {
		For    string
		Values map[string]string
	}
}

func TestNetlifyToml(t *testing.T) {
	raw, err := os.ReadFile("../netlify.toml")
	if err != nil {
		t.Fatal(err)
	}
	var c netlifyConfig
	if err := toml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("netlify.toml does not parse: %v", err)
	}
	if c.Build.Command != "go run ./cmd/campaign build" || c.Build.Publish != "public" || c.Build.Functions != "netlify/functions" {
		t.Errorf("build = %+v", c.Build)
	}
	// Only the public endpoints reach a function, each by its own rule: a
	// catch-all would hand any function (deliver, and whatever is added
	// later) to anyone with a URL.
	want := map[string]string{"/api/sign": "/.netlify/functions/sign", "/api/confirm": "/.netlify/functions/sign",
		"/api/confirm/*": "/.netlify/functions/sign", "/api/mailgun/events": "/.netlify/functions/sign",
		"/api/letters/*": "/.netlify/functions/sign", "/admin": "/.netlify/functions/sign",
		"/admin/*": "/.netlify/functions/sign", "/api/admin/*": "/.netlify/functions/sign"}
	got := map[string]string{}
	for _, r := range c.Redirects {
		if !strings.Contains(r.To, "/.netlify/functions/") {
			continue
		}
		got[r.From] = r.To
		if r.Status != 200 || !r.Force {
			t.Errorf("%s → %s: status %d, force %v; want a forced 200 rewrite", r.From, r.To, r.Status, r.Force)
		}
		if strings.Contains(r.To, ":splat") || strings.Contains(r.To, "/deliver") {
			t.Errorf("%s → %s reaches more than the sign function", r.From, r.To)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rewrites to functions:\n got %v\nwant %v", got, want)
	}
	if c.Functions["deliver"].Schedule != "* * * * *" {
		t.Errorf("deliver schedule = %q, want every minute", c.Functions["deliver"].Schedule)
	}
	for _, dir := range []string{"sign", "deliver"} {
		if _, err := os.Stat("functions/" + dir + "/main.go"); err != nil {
			t.Errorf("function %s: %v", dir, err)
		}
	}
	headers := map[string]map[string]string{}
	for _, h := range c.Headers {
		headers[h.For] = h.Values
	}
	all := headers["/*"]
	// The pages' policy comes from public/_headers, which `campaign build`
	// writes (cmd/campaign tests it): set here too, this one would win.
	for path, values := range headers {
		if csp, ok := values["Content-Security-Policy"]; ok {
			t.Errorf("netlify.toml sets the Content-Security-Policy of %s (%q), overriding public/_headers", path, csp)
		}
	}
	for _, name := range []string{"Strict-Transport-Security", "Referrer-Policy", "Permissions-Policy", "X-Content-Type-Options"} {
		if all[name] == "" {
			t.Errorf("no %s for /*", name)
		}
	}
	// Every folder of fingerprinted assets Hugo writes is cached for a year.
	for _, dir := range []string{"/css/*", "/js/*", "/img/*"} {
		if !strings.Contains(headers[dir]["Cache-Control"], "immutable") {
			t.Errorf("%s is not cached as immutable", dir)
		}
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gohugoio/hugo/commands"

	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/netlify/buildinfo"
)

// buildSite runs the pinned Hugo, in this process, on the site in siteDir
// and writes it to publicDir. A deploy context other than production
// (Netlify's CONTEXT) builds the page with a "preview" banner; a Turnstile
// site key puts Cloudflare Turnstile's widget in the form; count shows the
// public count on the page (for a handler with a database).
func buildSite(siteDir, publicDir, deployContext, turnstileSiteKey string, count bool) error {
	src, err := filepath.Abs(siteDir)
	if err != nil {
		return err
	}
	dst, err := filepath.Abs(publicDir)
	if err != nil {
		return err
	}
	if buildinfo.IsPreview(deployContext) {
		// Hugo reads HUGO_PARAMS_* from the environment as site params.
		os.Setenv("HUGO_PARAMS_PREVIEW", "true")
	}
	// Set or cleared each time: the widget appears only with the key this
	// build was given.
	if turnstileSiteKey != "" {
		os.Setenv("HUGO_PARAMS_TURNSTILESITEKEY", turnstileSiteKey)
	} else {
		os.Unsetenv("HUGO_PARAMS_TURNSTILESITEKEY")
	}
	if count {
		os.Setenv("HUGO_PARAMS_PUBLICCOUNT", "true")
	} else {
		os.Unsetenv("HUGO_PARAMS_PUBLICCOUNT")
	}
	args := []string{"build", "--source", src, "--destination", dst, "--cleanDestinationDir", "--minify",
		"--logLevel", "warn", "--environment", "production"}
	if err := commands.Execute(args); err != nil {
		return fmt.Errorf("build: hugo: %w", err)
	}
	return nil
}

// prepareFunction copies the letters the build published into a Netlify
// function's folder, with the deploy context, for the function to embed:
// the function then merges exactly the letters of this build. The other
// languages' letters (es/letters/…, named by the letters' manifest) go
// under buildinfo.Translations, where buildinfo.Site finds them.
func prepareFunction(publicDir, functionDir, deployContext, siteURL string) error {
	dst := filepath.Join(functionDir, buildinfo.Dir)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	entries, err := os.ReadDir(dst)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	for _, e := range entries { // the previous build's copies
		if e.Name() != "README.md" {
			if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
				return fmt.Errorf("build: %w", err)
			}
		}
	}
	if err := copyJSON(filepath.Join(publicDir, buildinfo.Dir), dst); err != nil {
		return fmt.Errorf("build: copy letters to %s: %w", functionDir, err)
	}
	var manifest struct {
		Translations map[string]string `json:"translations"`
	}
	if raw, err := os.ReadFile(filepath.Join(publicDir, letter.ManifestPath)); err == nil {
		if err := json.Unmarshal(raw, &manifest); err != nil {
			return fmt.Errorf("build: %s: %w", letter.ManifestPath, err)
		}
	}
	for _, p := range manifest.Translations {
		rel := filepath.FromSlash(strings.TrimPrefix(path.Dir(path.Clean(p)), "/"))
		if err := copyJSON(filepath.Join(publicDir, rel), filepath.Join(dst, buildinfo.Translations, rel)); err != nil {
			return fmt.Errorf("build: copy letters to %s: %w", functionDir, err)
		}
	}
	info, err := json.Marshal(buildinfo.Info{Context: deployContext, URL: siteURL})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, buildinfo.File), info, 0o644)
}

// copyJSON copies the .json files under src to dst, keeping their paths.
func copyJSON(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
}

// writeHeaders writes the pages' Content-Security-Policy into public/ as
// Netlify's _headers file. netlify.toml cannot hold it: it is the same for
// every build, and where both name a header for a path, netlify.toml's wins.
// /cms/ (the editors' tool) has a policy of its own. No rule covers both:
// Netlify applies every rule that matches a path, so the pages' policy is
// given per top-level file and folder of the built site rather than for
// /*, which would also reach /cms/ and, added to its policy, block it.
func writeHeaders(publicDir, csp string) error {
	entries, err := os.ReadDir(publicDir)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	var b strings.Builder
	b.WriteString("# Written by `campaign build` (cmd/campaign/build.go): the pages' policy, and the CMS's.\n")
	rule := func(path string, lines ...string) {
		b.WriteString(path + "\n")
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
	page := "Content-Security-Policy: " + csp
	rule("/", page)
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "cms" || strings.HasPrefix(name, "_"):
			// The CMS's below; _headers and _redirects are Netlify's.
		case e.IsDir():
			// /thanks as well as /thanks/…: a host may serve the page
			// without the slash.
			rule("/"+name, page)
			rule("/"+name+"/*", page)
		default:
			rule("/"+name, page)
		}
	}
	for _, p := range []string{"/cms", "/cms/*"} {
		rule(p, "Content-Security-Policy: "+cmsCSP, "X-Robots-Tag: noindex, nofollow")
	}
	if err := os.WriteFile(filepath.Join(publicDir, "_headers"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return nil
}

// siteSettings passes the settings the pages state to supporters, as Hugo
// site params (HUGO_PARAMS_*), so that the privacy page says what this
// deploy really does: how long personal data is kept (CAMPAIGN_RETENTION),
// how long a confirmation link lives (CAMPAIGN_CONFIRM_TTL) and whether
// letters wait for one (CAMPAIGN_CONFIRM). With siteURL (the public
// address) it sets Hugo's baseURL, unless HUGO_BASEURL already does, so
// that share links, og:url and og:image are absolute. Bad values are
// refused with the variable's name, as `serve` refuses them.
func siteSettings(getenv func(string) string, siteURL string) error {
	retention, ttl := store.DefaultRetention, letter.DefaultConfirmTTL
	if v := getenv("CAMPAIGN_RETENTION"); v != "" {
		d, err := config.ParseAge(v)
		if err != nil {
			return fmt.Errorf("build: CAMPAIGN_RETENTION: %w", err)
		}
		retention = d
	}
	if v := getenv("CAMPAIGN_CONFIRM_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("build: CAMPAIGN_CONFIRM_TTL %q must be a duration, like 168h", v)
		}
		ttl = d
	}
	// Whole days, rounded up: the page never promises less than is kept.
	days := func(d time.Duration) string { return strconv.Itoa(int((d + 24*time.Hour - 1) / (24 * time.Hour))) }
	os.Setenv("HUGO_PARAMS_RETENTIONDAYS", days(retention))
	os.Setenv("HUGO_PARAMS_CONFIRMTTLDAYS", days(ttl))
	switch strings.ToLower(strings.TrimSpace(getenv("CAMPAIGN_CONFIRM"))) {
	case "off", "false", "no", "0":
		os.Setenv("HUGO_PARAMS_CONFIRMOFF", "true")
	default:
		os.Unsetenv("HUGO_PARAMS_CONFIRMOFF")
	}
	if getenv("HUGO_BASEURL") == "" {
		if u, err := url.Parse(siteURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			os.Setenv("HUGO_BASEURL", strings.TrimSuffix(u.String(), "/")+"/")
		} else {
			os.Unsetenv("HUGO_BASEURL")
		}
	}
	return nil
}

package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gohugoio/hugo/commands"

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
// the function then merges exactly the letters of this build.
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
	src := filepath.Join(publicDir, buildinfo.Dir)
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
	if err != nil {
		return fmt.Errorf("build: copy letters to %s: %w", functionDir, err)
	}
	info, err := json.Marshal(buildinfo.Info{Context: deployContext, URL: siteURL})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, buildinfo.File), info, 0o644)
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

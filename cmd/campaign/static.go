package main

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"campaignkit/handler"
	"campaignkit/handler/outbox"
	"campaignkit/handler/turnstile"
)

// siteCSP lets the pages load only their own fingerprinted CSS, JS and
// icon, and talk only to this origin (on Netlify: public/_headers, which
// `campaign build` writes).
const siteCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// pageCSP is the pages' policy: siteCSP, and Cloudflare Turnstile's script
// and frame when the site is built with its site key.
func pageCSP(turnstileSiteKey string) string {
	if turnstileSiteKey == "" {
		return siteCSP
	}
	return turnstile.CSP(siteCSP)
}

// cmsCSP is the policy of /cms/, the editors' tool (Sveltia CMS, vendored
// in site/static/cms with its fonts), never of a supporter's page: its own
// script and fonts; inline styles (Svelte sets them); images, previews,
// workers and its web-app manifest from blob: and data: URLs it makes;
// GitHub's API and status page, and the images of the repository it edits;
// and unpkg.com, where it only reads the latest version's number (it
// loads no code from there: script-src is 'self').
const cmsCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' blob: data: https://*.githubusercontent.com; media-src 'self' blob:; frame-src 'self' blob:; " +
	"font-src 'self'; worker-src 'self' blob:; manifest-src 'self' blob:; " +
	"connect-src 'self' blob: data: https://api.github.com https://www.githubstatus.com https://unpkg.com; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// isCMS reports whether a path is the CMS's (site/static/cms).
func isCMS(p string) bool { return p == "/cms" || strings.HasPrefix(p, "/cms/") }

// staticSite serves the built site with security headers (csp: the
// pages' policy; /cms/ has its own and is not for search engines), gzip
// for text, and no directory listings; fingerprinted assets are cached for
// a year, pages are revalidated.
func staticSite(public, csp string) http.Handler {
	return staticFrom(os.DirFS(public), csp, nil)
}

// staticFrom serves the site in site as staticSite does. With live (serve
// watching the project), each page answered to this machine carries the
// reload script and is never cached, so a reload always gets the rebuilt
// page.
func staticFrom(site fs.FS, csp string, live *liveReload) http.Handler {
	files := http.FileServer(http.FS(noListing{site}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if isCMS(r.URL.Path) {
			handler.SecurityHeaders(h, cmsCSP)
			h.Set("X-Robots-Tag", "noindex, nofollow")
		} else {
			handler.SecurityHeaders(h, csp)
		}
		if isFingerprinted(r.URL.Path) {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=0, must-revalidate")
		}
		h.Add("Vary", "Accept-Encoding")
		if r.Header.Get("Range") == "" && acceptsGzip(r) && compressible(r.URL.Path) {
			gw := &gzipWriter{ResponseWriter: w}
			defer gw.Close()
			w = gw
		}
		if live != nil && strings.HasSuffix(r.URL.Path, "/") && outbox.Local(r) && servePage(w, r, site, live.scriptTag()) {
			return
		}
		files.ServeHTTP(w, r)
	})
}

// servePage answers a page (a path ending in /: its index.html) with tag
// added to its head, and reports whether it did; other paths are left to
// the file server.
func servePage(w http.ResponseWriter, r *http.Request, site fs.FS, tag string) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	page, err := fs.ReadFile(site, path.Join(name, "index.html"))
	if err != nil {
		return false
	}
	s := string(page)
	if i := strings.Index(s, "</head>"); i >= 0 {
		s = s[:i] + tag + s[i:]
	} else {
		s += tag
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		io.WriteString(w, s)
	}
	return true
}

// isFingerprinted reports whether a path names a file whose name carries a
// content hash (name.min.<64 hex>.css), safe to cache forever.
func isFingerprinted(p string) bool {
	for _, part := range strings.Split(filepath.Base(p), ".") {
		if len(part) == 64 && strings.Trim(part, "0123456789abcdef") == "" {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, enc := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(enc, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}

// compressible reports whether a path is text worth compressing: pages
// (paths ending in / serve index.html) and text assets.
func compressible(p string) bool {
	switch path.Ext(p) {
	case "", ".html", ".css", ".js", ".json", ".svg", ".txt", ".xml":
		return true
	}
	return false
}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipWriter compresses a response that succeeds; errors, redirects and
// 304s go out as they are.
type gzipWriter struct {
	http.ResponseWriter
	gz      *gzip.Writer
	started bool
}

func (g *gzipWriter) WriteHeader(status int) {
	if !g.started {
		g.started = true
		if status == http.StatusOK {
			g.Header().Del("Content-Length")
			g.Header().Set("Content-Encoding", "gzip")
			g.gz = gzipPool.Get().(*gzip.Writer)
			g.gz.Reset(g.ResponseWriter)
		}
	}
	g.ResponseWriter.WriteHeader(status)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if !g.started {
		g.WriteHeader(http.StatusOK)
	}
	if g.gz != nil {
		return g.gz.Write(b)
	}
	return g.ResponseWriter.Write(b)
}

func (g *gzipWriter) Close() {
	if g.gz != nil {
		g.gz.Close()
		gzipPool.Put(g.gz)
	}
}

// noListing hides directories that have no index.html, so the server
// never lists the site's folders.
type noListing struct{ fs.FS }

func (n noListing) Open(name string) (fs.File, error) {
	f, err := n.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		if _, err := fs.Stat(n.FS, path.Join(name, "index.html")); err != nil {
			f.Close()
			return nil, fs.ErrNotExist
		}
	}
	return f, nil
}

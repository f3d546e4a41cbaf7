package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStaticSite(t *testing.T) {
	public := t.TempDir()
	page := strings.Repeat("<p>Dear President Trump,</p>\n", 200)
	os.WriteFile(filepath.Join(public, "index.html"), []byte(page), 0o644)
	os.MkdirAll(filepath.Join(public, "css"), 0o755)
	css := filepath.Join("css", "site.min."+strings.Repeat("ab", 32)+".css")
	os.WriteFile(filepath.Join(public, css), []byte("body{color:red}"), 0o644)
	srv := httptest.NewServer(staticSite(public, siteCSP))
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("page not compressed: %v", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if string(body) != page {
		t.Fatal("the decompressed page differs from the file")
	}
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Cache-Control") != "public, max-age=0, must-revalidate" {
		t.Errorf("page headers: %v", resp.Header)
	}

	resp, err = http.Get(srv.URL + "/" + css)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("fingerprinted asset Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	// Folders without an index are not listed.
	resp, err = http.Get(srv.URL + "/css/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /css/ = %d, want 404", resp.StatusCode)
	}
	// A missing file's 404 is not compressed.
	req, _ = http.NewRequest("GET", srv.URL+"/nope.html", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err = http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("404: %d %v", resp.StatusCode, resp.Header)
	}
}

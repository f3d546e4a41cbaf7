package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"campaignkit/handler"
	"campaignkit/handler/letter"
	"campaignkit/handler/outbox"
)

// testRoutes is what campaign serve answers, over a small site and an
// outbox holding one letter.
func testRoutes(t *testing.T) http.Handler {
	t.Helper()
	public := t.TempDir()
	for name, body := range map[string]string{"index.html": "<p>campaign</p>", "letters/one/index.html": "<p>letter</p>"} {
		os.MkdirAll(filepath.Dir(filepath.Join(public, name)), 0o755)
		if err := os.WriteFile(filepath.Join(public, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	box, _ := outbox.New(t.TempDir())
	if _, err := box.Send(context.Background(), &letter.Message{ID: "a.0@mg.example", From: "f@mg.example",
		ReplyTo: "jane@example.org", To: "t@gov.example", Subject: "S", Text: "T"}); err != nil {
		t.Fatal(err)
	}
	return routes(handler.New(handler.Settings{}), staticSite(public, siteCSP), box, "")
}

// request is one request as a browser elsewhere (local: on this machine)
// sends it.
func request(method, target string, local bool) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr, r.Host = "198.51.100.7:50000", "campaign.example"
	if local {
		r.RemoteAddr, r.Host = "127.0.0.1:50000", "127.0.0.1:8080"
	}
	return r
}

// Every class of answer campaign serve gives carries the security headers:
// the site's pages, redirects and errors, ServeMux's own redirects, the
// handler's answers and errors, and the outbox's.
func TestEveryResponseCarriesSecurityHeaders(t *testing.T) {
	h := testRoutes(t)
	tests := []struct {
		name   string
		method string
		path   string
		local  bool
		status int // 3: any redirect (ServeMux's status changed with Go releases)
	}{
		{"page", "GET", "/", false, 200},
		{"missing file", "GET", "/nope.html", false, 404},
		{"file server's redirect to the folder", "GET", "/letters/one", false, 301},
		{"file server's redirect from index.html", "GET", "/index.html", false, 301},
		{"router's redirect to a trailing slash", "GET", "/api", false, 3},
		{"router's redirect to a clean path", "GET", "/letters/../index.html", false, 3},
		{"handler's 405", "GET", "/api/sign", false, 405},
		{"handler's 404", "GET", "/api/nope", false, 404},
		{"handler's 400", "POST", "/api/sign", false, 400},
		{"outbox page", "GET", "/outbox/", true, 200},
		{"outbox letter", "GET", "/outbox/a.0_mg.example.eml", true, 200},
		{"outbox's missing letter", "GET", "/outbox/b.eml", true, 404},
		{"outbox's redirect", "GET", "/outbox", true, 301},
		{"outbox refused", "GET", "/outbox/", false, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.method, tt.path, tt.local)
			if tt.method == "POST" {
				r.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status && w.Code/100 != tt.status {
				t.Fatalf("%s %s: %d, want %d", tt.method, tt.path, w.Code, tt.status)
			}
			checkSecurityHeaders(t, w.Header())
		})
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	want := http.Header{}
	handler.SecurityHeaders(want, "")
	for name, v := range want {
		if name != "Content-Security-Policy" && !reflect.DeepEqual(h[name], v) {
			t.Errorf("%s = %q, want %q", name, h[name], v)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, part)
		}
	}
}

// To anyone but this machine the outbox's paths answer exactly as paths
// that do not exist: nothing tells it is there.
func TestOutboxIsNotThereForOthers(t *testing.T) {
	h := testRoutes(t)
	answer := func(r *http.Request) (int, http.Header, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Header(), w.Body.String()
	}
	missingCode, missingHeader, missingBody := answer(request("GET", "/nothing-here/", false))
	if missingCode != http.StatusNotFound {
		t.Fatalf("a missing path answers %d", missingCode)
	}
	proxied := request("GET", "/outbox/", true)
	proxied.Header.Set("X-Forwarded-For", "198.51.100.7")
	foreignHost := request("GET", "/outbox/", true)
	foreignHost.Host = "campaign.example"
	for name, r := range map[string]*http.Request{
		"from elsewhere":      request("GET", "/outbox/", false),
		"through a proxy":     proxied,
		"with a foreign Host": foreignHost,
		"letter":              request("GET", "/outbox/a.0_mg.example.eml", false),
		"without the slash":   request("GET", "/outbox", false),
	} {
		code, header, body := answer(r)
		if code != missingCode || !reflect.DeepEqual(header, missingHeader) || body != missingBody {
			t.Errorf("%s: %d %v %q, want the answer to a missing path: %d %v %q", name, code, header, body, missingCode, missingHeader, missingBody)
		}
	}
}

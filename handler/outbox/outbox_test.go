package outbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"campaignkit/handler/letter"
	"campaignkit/handler/outbox"
)

func TestKeepsEachLetterOnceAndListsIt(t *testing.T) {
	box, err := outbox.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &letter.Message{ID: "abc.0@mg.example", From: `"Jane Doe" <letters@mg.example>`,
		ReplyTo: `"Jane Doe" <jane@example.org>`, To: `"A. Official" <a@gov.example>`,
		Subject: "Protect children – now", Text: "Dear Official,\n\nLine <one>.\nhttp://localhost:8080/api/confirm/Ab_c-9\n<http://x\"/api/confirm/zz>\n", Tag: "t"}
	for range 2 { // a retry replaces the file: one letter, not two
		if _, err := box.Send(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	letters, err := box.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 {
		t.Fatalf("%d letters kept, want 1", len(letters))
	}
	l := letters[0]
	if l.Subject != e.Subject || l.Text != e.Text || l.To != e.To || l.ReplyTo != e.ReplyTo {
		t.Fatalf("read back %+v", l)
	}

	srv := httptest.NewServer(http.StripPrefix("/outbox/", box.Handler("/css/site.css")))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/outbox/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"NOT sent", "Protect children – now", "Line &lt;one&gt;.", "abc.0_mg.example.eml",
		// A confirmation link is a link; text around it stays text.
		`<a href="http://localhost:8080/api/confirm/Ab_c-9">http://localhost:8080/api/confirm/Ab_c-9</a>`, `&lt;http://x&#34;/api/confirm/zz&gt;`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("outbox page lacks %q", want)
		}
	}
	resp, err = http.Get(srv.URL + "/outbox/abc.0_mg.example.eml")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), "Message-Id: <abc.0@mg.example>\r\n") || !strings.Contains(string(raw), "X-Campaign-Outbox: not sent") {
		t.Fatalf("eml file:\n%s", raw)
	}
	for _, bad := range []string{"../etc/passwd", "..%2f..%2fetc%2fpasswd", "x.txt"} {
		resp, err := http.Get(srv.URL + "/outbox/" + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /outbox/%s = %d, want 404", bad, resp.StatusCode)
		}
	}
}

func TestRefusesHeaderInjection(t *testing.T) {
	dir := t.TempDir()
	box, _ := outbox.New(dir)
	_, err := box.Send(context.Background(), &letter.Message{ID: "a@b.example", From: "f@b.example",
		ReplyTo: "r@b.example", To: "t@b.example", Subject: "x\r\nBcc: evil@b.example", Text: "t"})
	if err == nil {
		t.Fatal("a subject with CRLF was kept")
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("%d files written", len(files))
	}
}

// The outbox shows every signer's name and address: only a browser on this
// machine, talking to it directly, sees it; anyone else gets a 404.
func TestOnlyThisMachineSeesTheOutbox(t *testing.T) {
	box, _ := outbox.New(t.TempDir())
	if _, err := box.Send(context.Background(), &letter.Message{ID: "a.0@mg.example", From: "f@mg.example",
		ReplyTo: "jane@example.org", To: "t@gov.example", Subject: "S", Text: "T"}); err != nil {
		t.Fatal(err)
	}
	h := box.Handler("")
	tests := []struct {
		name   string
		peer   string // RemoteAddr
		host   string
		header map[string]string
		proto  string // default HTTP/1.1
		ok     bool
	}{
		{"127.0.0.1", "127.0.0.1:50000", "127.0.0.1:8080", nil, "", true},
		{"localhost", "127.0.0.1:50000", "localhost:8080", nil, "", true},
		{"localhost without a port", "127.0.0.1:50000", "localhost", nil, "", true},
		{"[::1]", "[::1]:50000", "[::1]:8080", nil, "", true},
		{"[::1] without a port", "[::1]:50000", "[::1]", nil, "", true},
		{"HTTP/2", "127.0.0.1:50000", "localhost:8080", nil, "HTTP/2.0", true},
		{"X-Forwarded-For", "127.0.0.1:50000", "127.0.0.1:8080", map[string]string{"X-Forwarded-For": "127.0.0.1"}, "", false},
		{"Forwarded", "127.0.0.1:50000", "127.0.0.1:8080", map[string]string{"Forwarded": "for=127.0.0.1"}, "", false},
		{"X-Forwarded-Host", "127.0.0.1:50000", "localhost:8080", map[string]string{"X-Forwarded-Host": "campaign.example"}, "", false},
		{"X-Forwarded-Proto", "127.0.0.1:50000", "localhost:8080", map[string]string{"X-Forwarded-Proto": "https"}, "", false},
		{"X-Real-Ip", "127.0.0.1:50000", "localhost:8080", map[string]string{"X-Real-Ip": "198.51.100.7"}, "", false},
		{"Via", "127.0.0.1:50000", "localhost:8080", map[string]string{"Via": "1.1 proxy"}, "", false},
		{"nginx's default proxy_pass", "127.0.0.1:50000", "127.0.0.1:8080", nil, "HTTP/1.0", false},
		{"foreign Host", "127.0.0.1:50000", "campaign.example", nil, "", false},
		{"foreign Host and port", "127.0.0.1:50000", "campaign.example:8080", nil, "", false},
		{"rebound name", "127.0.0.1:50000", "127.0.0.1.nip.io:8080", nil, "", false},
		{"other loopback Host", "127.0.0.1:50000", "127.0.0.2:8080", nil, "", false},
		{"no Host", "127.0.0.1:50000", "", nil, "", false},
		{"non-loopback peer", "192.0.2.7:50000", "127.0.0.1:8080", nil, "", false},
		{"non-loopback IPv6 peer", "[2001:db8::7]:50000", "localhost:8080", nil, "", false},
		{"private peer", "10.0.0.2:50000", "localhost:8080", nil, "", false},
		{"peer without a port", "127.0.0.1", "localhost:8080", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/", "/a.0_mg.example.eml"} {
				r := httptest.NewRequest("GET", path, nil)
				r.RemoteAddr, r.Host = tt.peer, tt.host
				if tt.proto != "" {
					r.Proto = tt.proto
					r.ProtoMajor, r.ProtoMinor, _ = http.ParseHTTPVersion(tt.proto)
				}
				for k, v := range tt.header {
					r.Header.Set(k, v)
				}
				if got := outbox.Local(r); got != tt.ok {
					t.Errorf("Local = %v, want %v", got, tt.ok)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				leaked := strings.Contains(w.Body.String(), "jane@example.org")
				switch {
				case tt.ok && (w.Code != http.StatusOK || !leaked):
					t.Errorf("GET %s: %d, want the outbox", path, w.Code)
				case !tt.ok && (w.Code != http.StatusNotFound || leaked):
					t.Errorf("GET %s: %d, want 404 without the letter", path, w.Code)
				}
			}
		})
	}
}

// A kept letter goes out as a plain-text download: never rendered as a
// page, never sniffed as another type.
func TestLetterFileIsAPlainTextDownload(t *testing.T) {
	box, _ := outbox.New(t.TempDir())
	if _, err := box.Send(context.Background(), &letter.Message{ID: "a.0@mg.example", From: "f@mg.example",
		ReplyTo: "r@example.org", To: "t@gov.example", Subject: "<script>alert(1)</script>", Text: "<html><body>hi"}); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/a.0_mg.example.eml", nil)
	r.RemoteAddr, r.Host = "127.0.0.1:50000", "127.0.0.1:8080"
	w := httptest.NewRecorder()
	box.Handler("").ServeHTTP(w, r)
	want := map[string]string{
		"Content-Type":           "text/plain; charset=utf-8",
		"Content-Disposition":    `attachment; filename=a.0_mg.example.eml`,
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	}
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", w.Header().Get("Content-Security-Policy"))
	}
}

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
		Subject: "Protect children – now", Text: "Dear Official,\n\nLine <one>.\n", Tag: "t"}
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
	for _, want := range []string{"NOT sent", "Protect children – now", "Line &lt;one&gt;.", "abc.0_mg.example.eml"} {
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

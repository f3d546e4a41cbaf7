package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/letter"
)

// failingRecorder is a database that refuses the signature.
type failingRecorder struct{ err error }

func (f failingRecorder) Record(context.Context, *letter.Signature, []letter.Message) (*letter.Signature, error) {
	return nil, f.err
}

// A signature that could not be recorded is never answered as accepted:
// the supporter is told it was not sent, and keeps what they typed.
func TestFailedRecordIsNeverAnsweredAsAccepted(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		says   string
	}{
		{"database error", errors.New("store: record: disk I/O error"), http.StatusInternalServerError, "was not sent"},
		{"unavailable", &letter.Unavailable{Reason: "Letters cannot be taken right now."}, http.StatusServiceUnavailable, "cannot be taken right now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(s *handler.Settings) { s.Recorder = failingRecorder{tt.err} })
			v := signerForm()
			v.Set("city", "Springfield-Unique")
			resp := e.postForm(t, v)
			page := readBody(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("form post: status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.Contains(page, tt.says) || !strings.Contains(page, "Springfield-Unique") {
				t.Errorf("the page does not say the letter was not sent, or lost what was typed:\n%s", page)
			}
			if strings.Contains(page, "disk I/O") {
				t.Error("the page shows the internal error")
			}
			resp = e.post(t, "application/json", `{"letter":"family-separation","first_name":"Jane","last_name":"Doe",
				"email":"jane@example.org","address":"1 Main St","city":"Springfield","state":"IL","zip":"62701"}`, nil)
			var answer struct{ Errors map[string]string }
			if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || !strings.Contains(answer.Errors["request"], tt.says) {
				t.Fatalf("JSON: status %d, errors %v", resp.StatusCode, answer.Errors)
			}
		})
	}
}

// A bot that fills the honeypot is refused, and nothing of its post is
// recorded or mailed, checked once the queue has had every chance to send
// it: a real signature made after it has already arrived.
func TestHoneypotIsRefusedAndNothingIsSent(t *testing.T) {
	e := newEnv(t, nil)
	bot := signerForm()
	bot.Set("email", "bot@example.org")
	bot.Set("website", "http://spam.example")
	if resp := e.postForm(t, bot); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("honeypot: status %d", resp.StatusCode)
	}
	if n, err := e.store.SignatureCount(context.Background()); err != nil || n != 0 {
		t.Fatalf("the honeypot post was recorded (%d signatures, %v)", n, err)
	}
	if resp := e.postForm(t, signerForm()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("real signature: status %d", resp.StatusCode)
	}
	got := e.mg.WaitFor(2, 20*time.Second)
	if len(got) != 2 {
		t.Fatalf("%d letters of the real signature arrived, want 2", len(got))
	}
	for _, m := range e.mg.Messages() {
		if strings.Contains(m.Get("h:Reply-To"), "bot@") {
			t.Fatalf("the honeypot post was mailed: %v", m.Fields)
		}
	}
	if n := len(e.mg.Messages()); n != 2 {
		t.Fatalf("%d letters arrived, want only the real signature's 2", n)
	}
}

// JSON names match the contract exactly, no name repeats, and text that is
// not UTF-8 is refused by name rather than silently repaired.
func TestJSONFieldsAreMatchedExactly(t *testing.T) {
	e := newEnv(t, nil)
	valid := `"letter":"family-separation","first_name":"Jane","last_name":"Doe","address":"1 Main St","city":"Springfield","state":"IL","zip":"62701"`
	tests := []struct {
		name   string
		body   string
		status int
		field  string // the field the answer must name
	}{
		{"upper-case name", `{` + valid + `,"email":"jane@example.org","EMAIL":"boss@example.org"}`, http.StatusBadRequest, "EMAIL"},
		{"name twice", `{` + valid + `,"email":"jane@example.org","email":"boss@example.org"}`, http.StatusBadRequest, "email"},
		{"invalid UTF-8", `{` + valid + `,"email":"jane@example.org","body":"caf` + "\xe9" + `"}`, http.StatusUnprocessableEntity, "body"},
		{"opt_in not a boolean", `{` + valid + `,"email":"jane@example.org","opt_in":"maybe"}`, http.StatusBadRequest, "opt_in"},
		{"trailing data", `{` + valid + `,"email":"jane@example.org"} {}`, http.StatusBadRequest, "one JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.post(t, "application/json", tt.body, nil)
			var answer struct{ Errors map[string]string }
			if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, answer.Errors)
			}
			named := answer.Errors[tt.field] != "" || strings.Contains(answer.Errors["request"], tt.field)
			if !named {
				t.Fatalf("errors %v do not name %q", answer.Errors, tt.field)
			}
		})
	}
	if n, _ := e.store.SignatureCount(context.Background()); n != 0 {
		t.Fatalf("%d signatures recorded from refused requests", n)
	}
}

// acceptingRecorder records nothing and accepts everything: the handler's
// own behaviour, apart from storage, is what is tested with it.
type acceptingRecorder struct{}

func (acceptingRecorder) Record(_ context.Context, sig *letter.Signature, _ []letter.Message) (*letter.Signature, error) {
	return sig, nil
}

// A handler made with nothing but letters and a recorder takes its
// defaults: a log, the connection's address, 20 signatures a minute per
// address in bursts of 10.
func TestHandlerDefaults(t *testing.T) {
	letters, err := letter.Load(os.DirFS("testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h := handler.New(handler.Settings{Letters: letters, Recorder: acceptingRecorder{}, Now: func() time.Time { return now }})
	post := func(i int, header http.Header) *http.Response {
		v := signerForm()
		v.Set("email", fmt.Sprintf("d%d@example.org", i))
		req := httptest.NewRequest(http.MethodPost, "/api/sign", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, vs := range header {
			req.Header[k] = vs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	for i := range 10 {
		if resp := post(i, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %d of the burst: %d", i+1, resp.StatusCode)
		}
	}
	if resp := post(10, nil); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("beyond the burst: %d, Retry-After %q; want 429 and 3 s", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	now = now.Add(3100 * time.Millisecond) // one token back at 20 a minute
	resp := post(11, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 3 s: %d", resp.StatusCode)
	}
	// The browser keeps the signed cookie a year, and gets it over plain
	// HTTP (local use) as well as behind TLS.
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		cookie = c
	}
	if cookie == nil || cookie.MaxAge != 365*24*3600 || cookie.Secure {
		t.Fatalf("cookie over HTTP = %+v, want a year and not Secure-only", cookie)
	}
	now = now.Add(time.Minute)
	resp = post(12, http.Header{"X-Forwarded-Proto": {"https"}})
	if cs := resp.Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("cookie behind TLS = %+v, want Secure", cs)
	}
}

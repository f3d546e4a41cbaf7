package mailgun_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun"
	"campaignkit/handler/mailgun/mailguntest"
)

func envelope() *letter.Message {
	return &letter.Message{ID: "abc.0@mg.example", From: "letters@mg.example", ReplyTo: "jane@example.org",
		To: "target@gov.example", Subject: "Subject", Text: "Text", Tag: "tag"}
}

// answering is a stand-in that always answers status with header.
func answering(t *testing.T, status int, header map[string]string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"message":"stand-in says no","id":"<x@mg.example>"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v3"
}

func TestSendClassifiesFailures(t *testing.T) {
	tests := []struct {
		name                   string
		status                 int
		header                 map[string]string
		permanent, rateLimited bool
		refused                bool
		retryAfter             time.Duration
	}{
		{"429 with Retry-After", 429, map[string]string{"Retry-After": "7"}, false, true, false, 7 * time.Second},
		{"429 without Retry-After", 429, nil, false, true, false, 0},
		{"500", 500, nil, false, false, false, 0},
		{"503 with Retry-After", 503, map[string]string{"Retry-After": "3"}, false, false, false, 3 * time.Second},
		{"400", 400, nil, true, false, false, 0},
		{"401: a wrong key waits for the operator", 401, nil, false, false, true, 0},
		{"404: a wrong domain or region waits too", 404, nil, false, false, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mailgun.New(mailgun.Account{Domain: "mg.example", APIKey: "k", APIBase: answering(t, tt.status, tt.header), Timeout: time.Second})
			_, err := s.Send(context.Background(), envelope())
			var se *letter.SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SendError", err)
			}
			if se.Permanent != tt.permanent || se.RateLimited != tt.rateLimited || se.Refused != tt.refused || se.RetryAfter != tt.retryAfter {
				t.Fatalf("got permanent=%v rateLimited=%v refused=%v retryAfter=%v; want %v %v %v %v",
					se.Permanent, se.RateLimited, se.Refused, se.RetryAfter, tt.permanent, tt.rateLimited, tt.refused, tt.retryAfter)
			}
		})
	}
}

// A Mailgun that never answers must not hold a send: the client's own
// timeout ends it (mailgun-go has none).
func TestSendTimesOutAndIsRetryable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	s := mailgun.New(mailgun.Account{Domain: "mg.example", APIKey: "k", APIBase: srv.URL + "/v3", Timeout: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := s.Send(context.Background(), envelope())
		done <- err
	}()
	select {
	case err := <-done:
		var se *letter.SendError
		if !errors.As(err, &se) || se.Permanent || se.Refused {
			t.Fatalf("err = %v; want a retryable send error", err)
		}
	case <-time.After(15 * time.Second): // 150 times the timeout: only a missing timeout gets here
		t.Fatal("Send still waiting on a silent server 15 s after its 100 ms timeout")
	}
}

func TestSendRefusesLineBreaksInHeaders(t *testing.T) {
	called := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	defer srv.Close()
	s := mailgun.New(mailgun.Account{Domain: "mg.example", APIKey: "k", APIBase: srv.URL + "/v3"})
	for _, edit := range []func(*letter.Message){
		func(e *letter.Message) { e.Subject = "Hi\r\nBcc: x@evil.example" },
		func(e *letter.Message) { e.ReplyTo = "a@b.example\nBcc: x@evil.example" },
		func(e *letter.Message) { e.From = "a@b.example\u2028" },
		func(e *letter.Message) { e.To = "" },
	} {
		e := envelope()
		edit(e)
		if _, err := s.Send(context.Background(), e); !deliver.IsPermanent(err) {
			t.Errorf("envelope %+v: err = %v, want a permanent refusal", e, err)
		}
	}
	if called {
		t.Fatal("a refused envelope reached the server")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"12":                            12 * time.Second,
		" 0 ":                           0,
		"-3":                            0,
		"soon":                          0,
		"Fri, 27 Nov 2026 12:00:30 GMT": 30 * time.Second,
		"Fri, 27 Nov 2026 11:00:00 GMT": 0,
	}
	for in, want := range tests {
		if got := mailgun.ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// A message without a tag goes without one; with a tag, with exactly it.
func TestSendTagsOnlyTaggedMessages(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	s := mailgun.New(mailgun.Account{Domain: "mg.example", APIKey: mg.APIKey, APIBase: mg.APIBase(), Timeout: 5 * time.Second})
	untagged := envelope()
	untagged.Tag = ""
	for _, m := range []*letter.Message{untagged, envelope()} {
		if _, err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := mg.Messages()
	if len(got) != 2 {
		t.Fatalf("%d messages", len(got))
	}
	if tags, ok := got[0].Fields["o:tag"]; ok {
		t.Errorf("untagged message sent with tags %q", tags)
	}
	if got[1].Get("o:tag") != "tag" {
		t.Errorf("tagged message sent with tag %q", got[1].Get("o:tag"))
	}
}

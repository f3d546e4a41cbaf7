package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"campaignkit/handler"
	"campaignkit/handler/turnstile"
)

// siteverify is a stand-in for Cloudflare's: it answers every call with
// its current answer and keeps what it was sent.
type siteverify struct {
	*httptest.Server
	mu     sync.Mutex
	answer string
	calls  []url.Values
}

func newSiteverify(t *testing.T, answer string) *siteverify {
	sv := &siteverify{answer: answer}
	sv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		sv.mu.Lock()
		defer sv.mu.Unlock()
		sv.calls = append(sv.calls, r.PostForm)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(sv.answer))
	}))
	t.Cleanup(sv.Close)
	return sv
}

func (sv *siteverify) sent() []url.Values {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.calls
}

const (
	passes = `{"success":true,"action":"sign","hostname":"example.org","error-codes":[]}`
	fails  = `{"success":false,"error-codes":["invalid-input-response"]}`
)

func withTurnstile(url string) func(*handler.Settings) {
	return func(s *handler.Settings) { s.Verifier = turnstile.New("the-secret", url) }
}

func (e *env) signatures(t *testing.T) int {
	t.Helper()
	n, err := e.store.SignatureCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A token siteverify accepts lets the signature through, from the plain
// form and from the page script's JSON, and siteverify hears the secret,
// the token and the supporter's address.
func TestTurnstilePassed(t *testing.T) {
	sv := newSiteverify(t, passes)
	e := newEnv(t, withTurnstile(sv.URL))
	v := signerForm()
	v.Set(turnstile.ResponseField, "token-1")
	if resp := e.postForm(t, v); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("form post: status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	resp := e.post(t, "application/json", `{"letter":"family-separation","first_name":"Joe","last_name":"Doe",
		"email":"joe@example.org","address":"1 Main St","city":"Springfield","state":"IL","zip":"62701",
		"cf-turnstile-response":"token-2"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JSON: status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	calls := sv.sent()
	if len(calls) != 2 {
		t.Fatalf("siteverify called %d times, want 2", len(calls))
	}
	for i, c := range calls {
		if c.Get("secret") != "the-secret" || c.Get("response") != []string{"token-1", "token-2"}[i] || c.Get("remoteip") != "127.0.0.1" {
			t.Errorf("call %d sent %v", i+1, c)
		}
	}
	if n := e.signatures(t); n != 2 {
		t.Fatalf("%d signatures recorded, want 2", n)
	}
}

// A refused or missing token is a readable 422 that keeps what the
// supporter typed, and nothing is recorded.
func TestTurnstileRefused(t *testing.T) {
	sv := newSiteverify(t, fails)
	e := newEnv(t, withTurnstile(sv.URL))
	for _, token := range []string{"forged", ""} {
		v := signerForm()
		v.Set("city", "Springfield-Unique")
		if token != "" {
			v.Set(turnstile.ResponseField, token)
		}
		resp := e.postForm(t, v)
		page := readBody(t, resp)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("token %q: status %d", token, resp.StatusCode)
		}
		if !strings.Contains(page, "We could not confirm that a person is sending this letter") ||
			!strings.Contains(page, `value="Springfield-Unique"`) {
			t.Errorf("token %q: the page does not say why, or lost what was typed:\n%s", token, page)
		}
		// The error page holds the form, widget included: its policy lets the widget load.
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src "+turnstile.Origin) ||
			!strings.Contains(csp, "frame-src "+turnstile.Origin) {
			t.Errorf("the error page's policy does not allow the widget: %q", csp)
		}
	}
	if n := len(sv.sent()); n != 1 {
		t.Errorf("siteverify called %d times, want 1 (an empty token is refused without asking)", n)
	}
	resp := e.post(t, "application/json", `{"letter":"family-separation","first_name":"Jane","last_name":"Doe",
		"email":"jane@example.org","address":"1 Main St","city":"Springfield","state":"IL","zip":"62701",
		"cf-turnstile-response":"forged"}`, nil)
	var answer struct{ Errors map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(answer.Errors["request"], "complete the check") {
		t.Fatalf("JSON: status %d, errors %v", resp.StatusCode, answer.Errors)
	}
	if n := e.signatures(t); n != 0 {
		t.Fatalf("%d signatures recorded from refused tokens", n)
	}
}

// A signature with invalid fields does not spend its token: the supporter
// corrects the field and sends with the same, still unused, token.
func TestTurnstileTokenNotSpentOnInvalidFields(t *testing.T) {
	sv := newSiteverify(t, passes)
	e := newEnv(t, withTurnstile(sv.URL))
	v := signerForm()
	v.Set("email", "not-an-address")
	v.Set(turnstile.ResponseField, "token-1")
	if resp := e.postForm(t, v); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := len(sv.sent()); n != 0 {
		t.Fatalf("siteverify called %d times for a signature that was not valid", n)
	}
}

// siteverify out of reach: 503 with words, what was typed kept, nothing
// recorded unchecked.
func TestTurnstileUnreachable(t *testing.T) {
	sv := newSiteverify(t, passes)
	sv.Close()
	e := newEnv(t, withTurnstile(sv.URL))
	v := signerForm()
	v.Set("city", "Springfield-Unique")
	v.Set(turnstile.ResponseField, "token-1")
	resp := e.postForm(t, v)
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !strings.Contains(page, "We could not reach the service that checks") || !strings.Contains(page, `value="Springfield-Unique"`) {
		t.Errorf("the page does not say why, or lost what was typed:\n%s", page)
	}
	if n := e.signatures(t); n != 0 {
		t.Fatalf("%d signatures recorded without the check", n)
	}
}

// Without Turnstile the token field changes nothing: a page script that
// sends it anyway is not refused, and the error page's policy is the
// handler's own.
func TestWithoutTurnstileTheTokenIsIgnored(t *testing.T) {
	e := newEnv(t, nil)
	resp := e.post(t, "application/json", `{"letter":"family-separation","first_name":"Jane","last_name":"Doe",
		"email":"jane@example.org","address":"1 Main St","city":"Springfield","state":"IL","zip":"62701",
		"cf-turnstile-response":null}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JSON with the token field: status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	resp = e.post(t, "application/json", `{"letter":"family-separation","cf-turnstile-response":1}`, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a token that is not a string: status %d", resp.StatusCode)
	}
	v := signerForm()
	v.Set("zip", "1")
	resp = e.postForm(t, v)
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusUnprocessableEntity || strings.Contains(csp, turnstile.Origin) {
		t.Fatalf("status %d, policy %q", resp.StatusCode, csp)
	}
}

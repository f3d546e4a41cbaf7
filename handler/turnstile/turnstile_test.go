package turnstile

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// standIn is a siteverify that answers with body and records what it was sent.
func standIn(t *testing.T, status int, body string) (*httptest.Server, *url.Values) {
	t.Helper()
	got := &url.Values{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("siteverify got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		r.ParseForm()
		*got = r.PostForm
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestVerifySendsSecretTokenAndAddress(t *testing.T) {
	srv, got := standIn(t, 200, `{"success":true,"action":"sign","hostname":"example.org","error-codes":[]}`)
	if err := New("the-secret", srv.URL).Verify(context.Background(), "tok", "203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	if got.Get("secret") != "the-secret" || got.Get("response") != "tok" || got.Get("remoteip") != "203.0.113.7" {
		t.Fatalf("siteverify was sent %v", *got)
	}
	// A limiter key that is not one address (an IPv6 /64) is left out.
	if err := New("s", srv.URL).Verify(context.Background(), "tok", "2001:db8::/64"); err != nil {
		t.Fatal(err)
	}
	if _, ok := (*got)["remoteip"]; ok {
		t.Fatalf("remoteip sent for a prefix: %v", *got)
	}
}

func TestVerifyTellsRefusedTokensFromAnUnansweredCheck(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		token    string
		rejected bool // the supporter's token was refused; else the check could not be made
		says     string
	}{
		{"test keys answer without action", 200, `{"success":true,"error-codes":[]}`, "tok", false, ""},
		{"invalid token", 200, `{"success":false,"error-codes":["invalid-input-response"]}`, "tok", true, "invalid-input-response"},
		{"expired or replayed", 200, `{"success":false,"error-codes":["timeout-or-duplicate"]}`, "tok", true, "timeout-or-duplicate"},
		{"no reason", 200, `{"success":false}`, "tok", true, "no reason"},
		{"another widget's action", 200, `{"success":true,"action":"login"}`, "tok", true, `"login"`},
		{"empty token", 200, `{"success":true}`, "", true, "no token"},
		{"token too long", 200, `{"success":true}`, strings.Repeat("x", 2049), true, "2049"},
		{"wrong secret", 200, `{"success":false,"error-codes":["invalid-input-secret"]}`, "tok", false, "TURNSTILE_SECRET_KEY"},
		{"cloudflare's own error", 200, `{"success":false,"error-codes":["internal-error"]}`, "tok", false, "internal-error"},
		{"HTTP error", 502, `bad gateway`, "tok", false, "status 502"},
		{"not JSON", 200, `<html>`, "tok", false, "answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := standIn(t, tt.status, tt.body)
			err := New("sekrit-123", srv.URL).Verify(context.Background(), tt.token, "203.0.113.7")
			if tt.says == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil || errors.Is(err, ErrRejected) != tt.rejected || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v; want rejected=%v, saying %q", err, tt.rejected, tt.says)
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestVerifyGivesUpWithinItsTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	v := New("s", srv.URL)
	v.client.Timeout = 50 * time.Millisecond
	start := time.Now()
	err := v.Verify(context.Background(), "tok", "")
	if err == nil || errors.Is(err, ErrRejected) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v; want an unanswered check, soon", err, time.Since(start))
	}
	// Unreachable: nothing listens.
	srv2 := httptest.NewServer(http.NotFoundHandler())
	srv2.Close()
	if err := New("s", srv2.URL).Verify(context.Background(), "tok", ""); err == nil || errors.Is(err, ErrRejected) {
		t.Fatalf("unreachable: err = %v", err)
	}
	if New("s", "").url != VerifyURL {
		t.Fatal("the default endpoint is not Cloudflare's")
	}
}

func TestCSPAllowsOnlyTheWidgetsOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{
			"default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; frame-ancestors 'none'",
			"default-src 'none'; style-src 'self'; script-src 'self' " + Origin + "; img-src 'self'; frame-ancestors 'none'; frame-src " + Origin,
		},
		// Missing directives start from default-src, without 'none'.
		{"default-src 'none'; form-action 'self'", "default-src 'none'; form-action 'self'; script-src " + Origin + "; frame-src " + Origin},
		{"default-src 'self'", "default-src 'self'; script-src 'self' " + Origin + "; frame-src 'self' " + Origin},
		// Already allowed: unchanged.
		{"script-src " + Origin + "; frame-src " + Origin, "script-src " + Origin + "; frame-src " + Origin},
	}
	for _, tt := range tests {
		if got := CSP(tt.in); got != tt.want {
			t.Errorf("CSP(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

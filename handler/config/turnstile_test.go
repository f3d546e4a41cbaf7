package config

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Turnstile is on with both keys and off with neither; one alone is an
// error, and the handler's verifier asks TURNSTILE_VERIFY_URL with the secret.
func TestLoadTurnstile(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.Turnstile() || c.Handler(nil, nil, nil, slog.New(slog.DiscardHandler)).Verifier != nil {
		t.Fatalf("without keys: on=%v, err %v", c.Turnstile(), err)
	}
	for _, one := range []string{"TURNSTILE_SITE_KEY", "TURNSTILE_SECRET_KEY"} {
		_, err := Load(env(map[string]string{one: "k"}))
		if err == nil || !strings.Contains(err.Error(), "TURNSTILE_SITE_KEY and TURNSTILE_SECRET_KEY must be set together") {
			t.Errorf("%s alone: err %v", one, err)
		}
	}
	if _, err := Load(env(map[string]string{"TURNSTILE_SITE_KEY": "k", "TURNSTILE_SECRET_KEY": "s",
		"TURNSTILE_VERIFY_URL": "localhost:1234"})); err == nil || !strings.Contains(err.Error(), "TURNSTILE_VERIFY_URL") {
		t.Errorf("a verify URL without scheme: err %v", err)
	}

	var secret string
	sv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		secret = r.PostForm.Get("secret")
		w.Write([]byte(`{"success":true}`))
	}))
	defer sv.Close()
	c, err = Load(env(map[string]string{"TURNSTILE_SITE_KEY": " site ", "TURNSTILE_SECRET_KEY": "the-secret",
		"TURNSTILE_VERIFY_URL": sv.URL}))
	if err != nil || !c.Turnstile() || c.TurnstileSiteKey != "site" {
		t.Fatalf("with keys: %+v, %v", c, err)
	}
	v := c.Handler(nil, nil, nil, slog.New(slog.DiscardHandler)).Verifier
	if v == nil {
		t.Fatal("no verifier in the handler's settings")
	}
	if err := v.Verify(context.Background(), "tok", ""); err != nil || secret != "the-secret" {
		t.Fatalf("verify: %v, secret sent %q", err, secret)
	}
}

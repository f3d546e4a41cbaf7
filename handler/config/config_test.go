package config

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Outbox() || c.DataDir != ".campaign" || c.MailgunAPIBase != "https://api.mailgun.net/v3" ||
		c.SendTimeout != 20*time.Second || c.Workers != 16 || c.SignRate != 20 || c.From.Address == "" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestLoadMailgun(t *testing.T) {
	c, err := Load(env(map[string]string{
		"MAILGUN_API_KEY": "key", "MAILGUN_DOMAIN": "mg.example.org", "CAMPAIGN_SEND_RATE": "12.5",
		"CAMPAIGN_FROM": "Coalition <letters@mg.example.org>", "CAMPAIGN_SANDBOX_TO": "me@example.org",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbox() || c.From.Name != "Coalition" || c.From.Address != "letters@mg.example.org" ||
		c.SendRate != 12.5 || c.MessageIDDomain() != "mg.example.org" || c.SandboxTo != "me@example.org" {
		t.Fatalf("config = %+v", c)
	}
	c, _ = Load(env(map[string]string{"MAILGUN_API_KEY": "key", "MAILGUN_DOMAIN": "mg.example.org"}))
	if c.From.Address != "letters@mg.example.org" {
		t.Fatalf("default From = %v", c.From)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		"MAILGUN_API_KEY": "key", "CAMPAIGN_FROM": "not an address", "CAMPAIGN_SEND_RATE": "fast",
		"CAMPAIGN_SEND_TIMEOUT": "-1s", "CAMPAIGN_WORKERS": "0", "CAMPAIGN_SANDBOX_TO": "Me <me@example.org>",
		"CAMPAIGN_SIGN_RATE": "0",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, v := range []string{"NaN", "Inf", "-1"} {
		if _, err := Load(env(map[string]string{"CAMPAIGN_SIGN_RATE": v, "CAMPAIGN_SEND_RATE": v})); err == nil ||
			!strings.Contains(err.Error(), "CAMPAIGN_SIGN_RATE") || !strings.Contains(err.Error(), "CAMPAIGN_SEND_RATE") {
			t.Errorf("rates %q accepted: %v", v, err)
		}
	}
	for _, name := range []string{"MAILGUN_DOMAIN", "CAMPAIGN_FROM", "CAMPAIGN_SEND_RATE", "CAMPAIGN_SEND_TIMEOUT",
		"CAMPAIGN_WORKERS", "CAMPAIGN_SANDBOX_TO", "CAMPAIGN_SIGN_RATE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestClientIP(t *testing.T) {
	r, _ := http.NewRequest("POST", "/api/sign", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.9")
	if got := ClientIP("")(r).String(); got != "10.0.0.1" {
		t.Errorf("without a header setting: %q", got)
	}
	// The last entry is the one the trusted proxy added; earlier ones are
	// whatever the client claimed.
	if got := ClientIP("X-Forwarded-For")(r).String(); got != "203.0.113.9" {
		t.Errorf("from X-Forwarded-For: %q", got)
	}
	r.Header.Del("X-Forwarded-For")
	if got := ClientIP("X-Forwarded-For")(r).String(); got != "10.0.0.1" {
		t.Errorf("header missing: %q", got)
	}
}

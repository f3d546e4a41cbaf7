package config

import (
	"log/slog"
	"net/http"
	"net/netip"
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
	xff := "X-Forwarded-For"
	tests := []struct {
		name   string
		header string // the setting; empty: the connection's address
		peer   string
		lines  []string
		want   string
	}{
		{"no header setting", "", "10.0.0.1:5555", []string{"203.0.113.9"}, "10.0.0.1"},
		// The last entry is the one the trusted proxy added; earlier ones,
		// and earlier lines, are whatever the client claimed.
		{"last entry", xff, "127.0.0.1:5555", []string{"6.6.6.6, 203.0.113.9"}, "203.0.113.9"},
		{"two header lines", xff, "127.0.0.1:5555", []string{"6.6.6.6, 7.7.7.7", "203.0.113.9"}, "203.0.113.9"},
		{"forged first line", xff, "[::1]:5555", []string{"203.0.113.1", "2001:db8::9"}, "2001:db8::9"},
		{"IPv4-mapped peer is loopback", xff, "[::ffff:127.0.0.1]:5555", []string{"203.0.113.9"}, "203.0.113.9"},
		{"not an IP", xff, "127.0.0.1:5555", []string{"203.0.113.9, unknown"}, "127.0.0.1"},
		{"address with a port", xff, "127.0.0.1:5555", []string{"203.0.113.9:443"}, "127.0.0.1"},
		{"empty last entry", xff, "127.0.0.1:5555", []string{"203.0.113.9,"}, "127.0.0.1"},
		{"header missing", xff, "127.0.0.1:5555", nil, "127.0.0.1"},
		// Anyone reaching the server directly could claim any address.
		{"untrusted peer", xff, "198.51.100.4:5555", []string{"203.0.113.9"}, "198.51.100.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "/api/sign", nil)
			r.RemoteAddr = tt.peer
			for _, l := range tt.lines {
				r.Header.Add("X-Forwarded-For", l)
			}
			if got := ClientIP(tt.header, DefaultTrustedProxies)(r); got != netip.MustParseAddr(tt.want) {
				t.Errorf("client %v, want %s", got, tt.want)
			}
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load(env(map[string]string{
		"CAMPAIGN_CLIENT_IP_HEADER": "X-Real-IP", "CAMPAIGN_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32",
	}))
	if err != nil {
		t.Fatal(err)
	}
	clientIP := c.Handler(nil, nil, nil, slog.New(slog.DiscardHandler)).ClientIP
	for peer, believed := range map[string]bool{
		"10.9.8.7:1": true, "192.0.2.7:1": true, "[2001:db8:1::1]:1": true,
		"192.0.2.8:1": false, "127.0.0.1:1": false, // the list replaces the default
	} {
		r, _ := http.NewRequest("POST", "/api/sign", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Real-IP", "203.0.113.9")
		if got := clientIP(r) == netip.MustParseAddr("203.0.113.9"); got != believed {
			t.Errorf("peer %s: header believed %v, want %v", peer, got, believed)
		}
	}
	_, err = Load(env(map[string]string{"CAMPAIGN_TRUSTED_PROXIES": "10.0.0.0/8, 10.0.0.0/33, proxy.internal"}))
	if err == nil || !strings.Contains(err.Error(), "CAMPAIGN_TRUSTED_PROXIES") ||
		!strings.Contains(err.Error(), `"10.0.0.0/33"`) || !strings.Contains(err.Error(), `"proxy.internal"`) {
		t.Fatalf("invalid proxies: %v", err)
	}
	if d, _ := Load(env(nil)); len(d.TrustedProxies) != 2 {
		t.Fatalf("default trusted proxies %v, want loopback", d.TrustedProxies)
	}
}

func TestConfirmSetting(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
		bad   bool
	}{
		{"", true, false}, {"email", true, false}, {"EMAIL", true, false}, {"on", true, false},
		{"off", false, false}, {"false", false, false}, {"sms", false, true},
	} {
		c, err := Load(env(map[string]string{"CAMPAIGN_CONFIRM": tc.value}))
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "CAMPAIGN_CONFIRM") {
				t.Errorf("CAMPAIGN_CONFIRM=%q: error %v, want one naming the setting", tc.value, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("CAMPAIGN_CONFIRM=%q: %v", tc.value, err)
		}
		if c.Confirm != tc.want {
			t.Errorf("CAMPAIGN_CONFIRM=%q: Confirm = %v, want %v", tc.value, c.Confirm, tc.want)
		}
	}
}

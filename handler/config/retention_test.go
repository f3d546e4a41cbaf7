package config

import (
	"strings"
	"testing"
	"time"

	"campaignkit/handler/store"
)

func TestRetention(t *testing.T) {
	day := 24 * time.Hour
	for v, want := range map[string]time.Duration{
		"": store.DefaultRetention, "365d": 365 * day, " 30d ": 30 * day, "8760h": 365 * day, "168h": 7 * day,
	} {
		c, err := Load(env(map[string]string{"CAMPAIGN_RETENTION": v}))
		if err != nil || c.Retention != want {
			t.Errorf("CAMPAIGN_RETENTION %q: %v, %v; want %v", v, c.Retention, err, want)
		}
	}
	if store.DefaultRetention != 365*day {
		t.Errorf("default retention %v, want 365 days", store.DefaultRetention)
	}
	// Shorter than a confirmation link's life would cut the link short.
	for _, v := range []string{"0d", "-1d", "0", "1y", "d", "1.5d", "6d", "24h", "99999999d", "1000000h"} {
		if _, err := Load(env(map[string]string{"CAMPAIGN_RETENTION": v})); err == nil || !strings.Contains(err.Error(), "CAMPAIGN_RETENTION") {
			t.Errorf("CAMPAIGN_RETENTION %q accepted: %v", v, err)
		}
	}
	c, err := Load(env(map[string]string{"CAMPAIGN_RETENTION": "2d", "CAMPAIGN_CONFIRM_TTL": "24h"}))
	if err != nil || c.Retention != 2*day {
		t.Errorf("2 days with a one-day link: %v, %v", c.Retention, err)
	}
	// The workers apply it.
	if got := c.queueOptions(Program{Workers: 1}, nil).Retention; got != 2*day {
		t.Errorf("the queue's retention is %v, want 48h", got)
	}
}

func TestParseAge(t *testing.T) {
	if d, err := ParseAge("90m"); err != nil || d != 90*time.Minute {
		t.Errorf("90m: %v, %v", d, err)
	}
	if d, err := ParseAge("1d"); err != nil || d != 24*time.Hour {
		t.Errorf("1d: %v, %v", d, err)
	}
	for _, v := range []string{"", "0s", "-5m", "soon", "1 d", "+1d"} {
		if _, err := ParseAge(v); err == nil {
			t.Errorf("ParseAge(%q) accepted", v)
		}
	}
}

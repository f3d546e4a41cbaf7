package config

import (
	"strings"
	"testing"
)

// The organizer token guards every signer's details: a short one is a
// configuration error, and without one the room is off.
func TestAdminToken(t *testing.T) {
	if _, err := Load(env(map[string]string{"CAMPAIGN_ADMIN_TOKEN": "short-token-of-23-chars"})); err == nil ||
		!strings.Contains(err.Error(), "CAMPAIGN_ADMIN_TOKEN must be at least 24 characters") {
		t.Errorf("a 23-character token: %v", err)
	}
	c, err := Load(env(map[string]string{"CAMPAIGN_ADMIN_TOKEN": "a-token-of-24-characters"}))
	if err != nil || c.AdminToken != "a-token-of-24-characters" {
		t.Fatalf("a 24-character token: %v", err)
	}
	if c.Admin(nil, nil, nil) == nil {
		t.Error("no organizer's room with a token")
	}
	c, _ = Load(env(nil))
	if c.Admin(nil, nil, nil) != nil {
		t.Error("an organizer's room without a token")
	}
}

package main

import (
	"encoding/csv"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler/mailgun/mailguntest"
)

const adminToken = "organizer-token-0123456789abcdef"

// adminEvent is a request to the organizer's room as netlify.toml's
// rewrites pass it (the path kept), over HTTPS.
func adminEvent(method, path, auth string) events.APIGatewayProxyRequest {
	h := map[string]string{"host": "letters.example.org", "x-forwarded-proto": "https", "x-nf-client-connection-ip": "203.0.113.7"}
	if auth != "" {
		h["authorization"] = "Bearer " + auth
	}
	return events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Headers: h}
}

func TestOrganizerRoomIsOffWithoutAToken(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	fn := function(t, published(t, "production"), mailgunEnv(mg))
	for _, path := range []string{"/admin/", "/api/admin/stats", "/api/admin/export.csv"} {
		if resp := invoke(t, fn, adminEvent("GET", path, adminToken)); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// Without DATABASE_URL the function keeps nothing to show: it says so,
// to the organizer only.
func TestOrganizerRoomNeedsADatabase(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["CAMPAIGN_ADMIN_TOKEN"] = adminToken
	fn := function(t, published(t, "production"), env)
	if resp := invoke(t, fn, adminEvent("GET", "/api/admin/stats", "")); resp.StatusCode != 401 {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
	resp := invoke(t, fn, adminEvent("GET", "/api/admin/stats", adminToken))
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "DATABASE_URL") {
		t.Errorf("without a database: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestOrganizerRoomWithPostgres(t *testing.T) {
	db := migratedDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"], env["CAMPAIGN_ADMIN_TOKEN"] = db, adminToken
	fn := function(t, published(t, "production"), env)
	if resp := invoke(t, fn, event(t, "form.json")); resp.StatusCode != 303 {
		t.Fatalf("sign: %d %s", resp.StatusCode, resp.Body)
	}
	stats := invoke(t, fn, adminEvent("GET", "/api/admin/stats", adminToken))
	if stats.StatusCode != 200 || !strings.Contains(stats.Body, `"signatures": 1`) {
		t.Errorf("stats: %d %s", stats.StatusCode, stats.Body)
	}
	export := invoke(t, fn, adminEvent("GET", "/api/admin/export.csv", adminToken))
	rows, err := csv.NewReader(strings.NewReader(export.Body)).ReadAll()
	if export.StatusCode != 200 || err != nil || len(rows) != 2 || rows[1][0] != "family-separation" {
		t.Errorf("export: %d, %v, %q", export.StatusCode, err, rows)
	}
	// The page's sign-in through the adapter: a Secure session cookie.
	login := adminEvent("POST", "/admin/login", "")
	login.Headers["content-type"] = "application/x-www-form-urlencoded"
	login.Headers["origin"] = "https://letters.example.org"
	login.Body = url.Values{"token": {adminToken}}.Encode()
	resp := invoke(t, fn, login)
	if c := header(resp, "Set-Cookie"); resp.StatusCode != 303 || !strings.Contains(c, "Secure") || !strings.Contains(c, "SameSite=Strict") {
		t.Errorf("sign-in: %d, cookie %q", resp.StatusCode, c)
	}
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"testing"

	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/storetest"
)

// A scheduled run meeting a schema older than its deploy's sends nothing,
// migrates nothing, answers 503 and tells the operator what to run.
func TestRunRefusesAnOlderSchema(t *testing.T) {
	url := storetest.NewPostgresDatabase(t) // never migrated
	mg := mailguntest.New()
	defer mg.Close()
	env := map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase(),
		"DATABASE_URL": url}
	var logs bytes.Buffer
	resp := run(context.Background(), func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(&logs, nil)))
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "campaign migrate") {
		t.Fatalf("run on an older schema: %d %q, want 503 naming campaign migrate", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(logs.String(), "run `campaign migrate`") {
		t.Errorf("the log does not tell the operator to run campaign migrate:\n%s", logs.String())
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("the run created %d tables (%v): it must not migrate", tables, err)
	}
}

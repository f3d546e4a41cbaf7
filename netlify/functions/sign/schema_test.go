package main

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"campaignkit/handler/config"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/storetest"
	"campaignkit/netlify/lambda"
)

// migratedDatabase is a fresh Postgres database as a deploy leaves it:
// `campaign migrate` has run (the function only checks the schema).
func migratedDatabase(t *testing.T) string {
	t.Helper()
	url := storetest.NewPostgresDatabase(t)
	if err := config.MigratePostgres(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	return url
}

// A function meeting a schema older than its deploy's refuses letters with
// a 503 in words for the supporter, tells the operator what to run, and
// changes nothing (a cold start never migrates); once `campaign migrate`
// has run, the same warm function takes letters.
func TestOlderSchemaIsRefusedPlainly(t *testing.T) {
	url := storetest.NewPostgresDatabase(t) // never migrated
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"] = url
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := newHandler(context.Background(), published(t, "production"), func(k string) string { return env[k] }, log)
	fn := lambda.Adapter{Handler: h, Paths: paths}
	resp := invoke(t, fn, event(t, "form.json"))
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "try again") {
		t.Fatalf("older schema: %d %s, want 503 asking to try again", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(logs.String(), "campaign migrate") {
		t.Fatalf("the log does not tell the operator to run campaign migrate:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "@example.org") {
		t.Errorf("the log holds a supporter's address:\n%s", logs.String())
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("the function created %d tables (%v): it must not migrate", tables, err)
	}
	if err := config.MigratePostgres(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	if resp := invoke(t, fn, event(t, "form.json")); resp.StatusCode != 303 {
		t.Fatalf("after campaign migrate: %d %s", resp.StatusCode, resp.Body)
	}
}

// syncBuffer is a log that goroutines may write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package main

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// Netlify's build (`campaign build` with DATABASE_URL) brings the schema
// up to date once per deploy, so that the functions only check it; run
// again, `campaign migrate` finds nothing to do.
func TestBuildMigratesTheDatabase(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + url}
	build := exec.Command(binary, "build", "-public", filepath.Join(t.TempDir(), "public"), "-function", t.TempDir())
	build.Dir = repoRoot(t)
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil || !strings.Contains(string(out), "schema at version") {
		t.Fatalf("campaign build: %v\n%s", err, out)
	}
	checkMigrated(t, url)
	migrate := exec.Command(binary, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("campaign migrate again: %v\n%s", err, out)
	}
	checkMigrated(t, url)
}

// checkMigrated opens the database as a function does: checking, not
// migrating.
func checkMigrated(t *testing.T, url string) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	st, err := store.Attach(ctx, db, true, nil)
	if err != nil {
		t.Fatalf("after the build: %v", err)
	}
	if v, err := st.Version(ctx); err != nil || v != store.SchemaVersion {
		t.Fatalf("schema version %d (%v), want %d", v, err, store.SchemaVersion)
	}
	if err := queue.CheckSchema(ctx, storetest.OpenPostgres(t, url)); err != nil {
		t.Fatalf("the queue's tables after the build: %v", err)
	}
}

// Without DATABASE_URL, `campaign migrate` migrates the SQLite database in
// the data folder.
func TestMigrateSQLite(t *testing.T) {
	dir := t.TempDir()
	migrate := exec.Command(binary, "migrate")
	migrate.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CAMPAIGN_DATA_DIR=" + dir}
	out, err := migrate.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SQLite") {
		t.Fatalf("campaign migrate: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "campaign.db")); err != nil {
		t.Fatal(err)
	}
}

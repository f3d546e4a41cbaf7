// Package storetest runs a test against every database the store supports:
// SQLite always, and Postgres when CAMPAIGN_TEST_DATABASE_URL names a
// server (each test gets a fresh database, dropped afterwards).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"campaignkit/handler/store"
	"campaignkit/handler/store/postgres"
	"campaignkit/handler/store/sqlite"
)

// EnvVar names the Postgres server the tests may use.
const EnvVar = "CAMPAIGN_TEST_DATABASE_URL"

// Each runs fn as a subtest on SQLite and, when available, on Postgres.
func Each(t *testing.T, fn func(t *testing.T, open func() *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		fn(t, func() *store.Store { return OpenSQLite(t, dir) })
	})
	t.Run("postgres", func(t *testing.T) {
		u := NewPostgresDatabase(t)
		fn(t, func() *store.Store { return OpenPostgres(t, u) })
	})
}

// OpenSQLite opens the store in dir and closes it when the test ends.
func OpenSQLite(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// OpenPostgres opens the store at url and closes it when the test ends.
func OpenPostgres(t testing.TB, url string) *store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// NewPostgresDatabase creates an empty database for this test and returns
// its URL; it skips the test, saying why, when no server is configured.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvVar)
	if server == "" {
		t.Skipf("Postgres tests skipped: set %s (bash .ci/run starts a server and sets it)", EnvVar)
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "campaign_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", server)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// Attach takes a database as migrated, checking its version: an older
// schema is refused with words for the operator, a newer one (the next
// deploy's build ran first) accepted, and nothing is changed.
func TestAttachChecksTheSchemaVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		attach := func() error {
			a, err := store.Attach(ctx, st.DB(), st.Postgres(), st.QueueDriver())
			if err == nil && a == nil {
				t.Fatal("Attach returned neither a store nor an error")
			}
			return err
		}
		setVersion := func(v int) {
			t.Helper()
			q := `UPDATE schema_version SET version = $1`
			if _, err := st.DB().ExecContext(ctx, q, v); err != nil {
				t.Fatal(err)
			}
		}
		if v, err := st.Version(ctx); err != nil || v != store.SchemaVersion {
			t.Fatalf("version %d, %v; want %d", v, err, store.SchemaVersion)
		}
		if err := attach(); err != nil {
			t.Fatalf("current schema: %v", err)
		}
		setVersion(store.SchemaVersion - 1)
		err := attach()
		if !errors.Is(err, store.ErrOldSchema) || !strings.Contains(err.Error(), "campaign migrate") {
			t.Fatalf("older schema: %v, want ErrOldSchema naming campaign migrate", err)
		}
		if v, _ := st.Version(ctx); v != store.SchemaVersion-1 {
			t.Fatalf("Attach changed the schema to version %d", v)
		}
		setVersion(store.SchemaVersion + 1)
		if err := attach(); err != nil {
			t.Fatalf("newer schema: %v", err)
		}
	})
}

// A database never migrated is version 0, and Attach creates nothing in
// it.
func TestAttachRefusesAnEmptyDatabase(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := store.Attach(ctx, db, true, nil); !errors.Is(err, store.ErrOldSchema) || !strings.Contains(err.Error(), "version 0") {
		t.Fatalf("empty database: %v, want ErrOldSchema at version 0", err)
	}
	var tables int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("%d tables after Attach (%v), want none", tables, err)
	}
}

// Package sqlite opens the store in an SQLite file: the database of one
// machine (`campaign serve`), with the delivery queue in the same file.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"campaignkit/handler/store"
)

// Open opens (creating if needed) the database in dir and brings its
// schema up to date.
func Open(ctx context.Context, dir string) (*store.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, "campaign.db")
	// WAL lets the worker read while the handler writes; the busy timeout
	// makes concurrent writers wait instead of failing.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite allows one writer at a time; River's SQLite driver and our
	// transactions share one connection rather than fail with SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	st, err := store.New(ctx, db, false, riversqlite.New(db))
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

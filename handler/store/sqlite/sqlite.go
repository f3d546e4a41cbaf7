// Package sqlite opens the store in an SQLite file: the database of one
// machine (`campaign serve`), with the delivery queue in the same file.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

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
	// makes concurrent writers wait instead of failing. Statement journals
	// (of multi-row inserts, River's among them) are kept in memory, not
	// written to a temporary file for each statement.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(16000)&_pragma=cache_size(-32768)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite allows one writer at a time; River's SQLite driver and our
	// transactions share one connection rather than fail with SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	jobs := &driver{Driver: riversqlite.New(db), db: db}
	st, err := store.New(ctx, db, false, jobs)
	if err != nil {
		db.Close()
		return nil, err
	}
	stop, err := checkpoint(dsn, checkpointEvery)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.OnClose(stop)
	return st, nil
}

// checkpointEvery is how often the log is copied into the database.
const checkpointEvery = 50 * time.Millisecond

// checkpoint copies the log (WAL) into the database every so often from a
// connection of its own, where its writes and fsyncs wait for no one and
// no one waits for them. Left to the writer (SQLite's default, every 1000
// pages), they stopped its commits for half their time at the intake's
// peak. The writer still checkpoints every 16000 pages (wal_autocheckpoint,
// 64 MB), which finds most of the work done and lets the log start again
// from its beginning.
func checkpoint(dsn string, every time.Duration) (stop func() error, err error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// PASSIVE: never waits for the writer or readers. Its errors
			// (busy) only leave the work to the writer's own checkpoint.
			db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}()
	return func() error {
		cancel()
		<-done
		return db.Close()
	}, nil
}

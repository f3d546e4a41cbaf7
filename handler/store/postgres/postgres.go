// Package postgres opens the store in Postgres (DATABASE_URL): the
// database many processes and functions share, with the delivery queue in
// it too.
package postgres

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"campaignkit/handler/store"
)

// Open opens the database at url and brings its schema up to date.
func Open(ctx context.Context, url string) (*store.Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	st, err := store.New(ctx, db, true, riverdatabasesql.New(db))
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

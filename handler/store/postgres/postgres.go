// Package postgres opens the store in Postgres (DATABASE_URL): the
// database many processes and functions share, with the delivery queue in
// it too.
package postgres

import (
	"context"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"campaignkit/handler/store"
)

// Open opens the database at url and brings its schema up to date, with
// the default pool (OpenWith).
func Open(ctx context.Context, url string) (*store.Store, error) {
	return OpenWith(ctx, url, Options{})
}

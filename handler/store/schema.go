package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/riverqueue/river/riverdriver"
)

// ErrOldSchema means the database's schema is older than this program's:
// the deploy's migration (`campaign migrate`) has not run.
var ErrOldSchema = errors.New("the database's schema is older than this deploy: run `campaign migrate` with this DATABASE_URL " +
	"(Netlify's build runs it when DATABASE_URL is available to builds), then deploy again")

// Attach returns a store on a database that `campaign migrate` brought up
// to date, as New does, but checks the schema's version instead of
// changing it: a function's cold start must not take the migration lock
// or run DDL, and hundreds of them at once would. A schema older than
// this program's is refused with ErrOldSchema. A newer one is accepted:
// the build migrates before the new deploy is published, and the
// functions still live until then must keep working (migrations add, they
// do not take away).
func Attach(ctx context.Context, db *sql.DB, postgres bool, queue riverdriver.Driver[*sql.Tx]) (*Store, error) {
	s := &Store{db: db, postgres: postgres, queue: queue}
	have, err := s.Version(ctx)
	if err != nil {
		return nil, err
	}
	if have < SchemaVersion {
		return nil, fmt.Errorf("store: schema version %d, this program needs %d: %w", have, SchemaVersion, ErrOldSchema)
	}
	return s, nil
}

// Version is the database's schema version: 0 for a database never
// migrated.
func (s *Store) Version(ctx context.Context) (int, error) {
	exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`
	if s.postgres {
		exists = `SELECT COUNT(*) FROM (SELECT to_regclass('schema_version') AS t) r WHERE t IS NOT NULL`
	}
	var n int
	if err := s.db.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	version := 0
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return version, nil
}

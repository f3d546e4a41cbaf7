package config

import (
	"context"
	"fmt"
	"strconv"

	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/postgres"
)

// FunctionMaxConns bounds each Netlify function instance's pool: an
// instance serves one request at a time, and a viral peak runs hundreds of
// instances, each keeping its connections while frozen between calls.
const FunctionMaxConns = 2

// loadDatabase reads CAMPAIGN_DB_MAX_CONNS into c.DBMaxConns.
func (c *Config) loadDatabase(getenv func(string) string) error {
	v := getenv("CAMPAIGN_DB_MAX_CONNS")
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return fmt.Errorf("CAMPAIGN_DB_MAX_CONNS %q must be a number of connections from 1 to 1000, like 2", v)
	}
	c.DBMaxConns = n
	return nil
}

// openPostgres opens DATABASE_URL with the pool CAMPAIGN_DB_MAX_CONNS
// names, else the program's, migrating unless the program says the deploy
// did.
func (c *Config) openPostgres(ctx context.Context, p Program) (*store.Store, error) {
	n := c.DBMaxConns
	if n == 0 {
		n = p.MaxConns
	}
	return postgres.OpenWith(ctx, c.DatabaseURL, postgres.Options{MaxConns: n, NoMigrate: p.NoMigrate})
}

// pooled reports whether DATABASE_URL names a transaction-mode pooler,
// through which River must not LISTEN (postgres.Pooled).
func (c *Config) pooled() bool {
	return c.DatabaseURL != "" && postgres.Pooled(c.DatabaseURL)
}

// prepareQueue brings River's tables up to date, or, for a program that
// does not migrate, checks that the deploy did.
func prepareQueue(ctx context.Context, p Program, st *store.Store) error {
	if p.NoMigrate && st.Postgres() {
		return queue.CheckSchema(ctx, st)
	}
	return queue.Migrate(ctx, st)
}

// MigratePostgres brings the schema of the Postgres database at url, the
// store's and the delivery queue's, up to date: `campaign migrate`, run
// by `campaign build` once per deploy, so that the functions need not.
// Concurrent runs take turns (a transaction-scoped advisory lock, which a
// transaction-mode pooler keeps).
func MigratePostgres(ctx context.Context, url string) error {
	// Two connections: River's migrator may read while a migration runs.
	st, err := postgres.OpenWith(ctx, url, postgres.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer st.Close()
	return queue.Migrate(ctx, st)
}

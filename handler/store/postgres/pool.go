package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"campaignkit/handler/store"
)

// DefaultMaxConns bounds the pool of a long-running process (`serve`,
// `worker`) when Options.MaxConns is zero: enough for its workers and
// handler, a fifth of the hundred connections a small managed Postgres
// allows.
const DefaultMaxConns = 20

// maxIdleTime closes connections left idle this long, so that a process
// past its peak gives them back to the server or the pooler.
const maxIdleTime = time.Minute

// Options say how a program uses the database.
type Options struct {
	// MaxConns bounds the connections this process opens, in use and idle
	// (CAMPAIGN_DB_MAX_CONNS); zero means DefaultMaxConns. Callers wait for
	// a free one rather than open more.
	MaxConns int
	// NoMigrate opens a database that `campaign migrate` brought up to
	// date: the schema's version is checked, not changed (store.Attach).
	NoMigrate bool
}

// OpenWith opens the database at url with a bounded pool. Behind a
// transaction-mode pooler (see Pooled) it executes queries without
// prepared statements, which would not survive the pooler's handing each
// transaction to any server connection.
func OpenWith(ctx context.Context, url string, o Options) (*store.Store, error) {
	cfg, err := connConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	n := o.MaxConns
	if n <= 0 {
		n = DefaultMaxConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(maxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	open := store.New
	if o.NoMigrate {
		open = store.Attach
	}
	st, err := open(ctx, db, true, riverdatabasesql.New(db))
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

// connConfig parses url (a URL or key=value string, as pgx takes them),
// removes pgbouncer=, which Postgres would refuse as an unknown setting,
// and, when the server is a transaction-mode pooler and the URL does not
// choose itself, sets pgx's "exec" mode: parameters sent with each query in
// one round trip, no named statement that a later transaction could meet
// on another server connection ("prepared statement stmtcache_… already
// exists"), and no cached description that a migration could make stale,
// as "cache_describe" keeps.
func connConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pooled := pooled(cfg)
	delete(cfg.RuntimeParams, "pgbouncer")
	if pooled && !strings.Contains(url, "default_query_exec_mode") {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	return cfg, nil
}

// Pooled reports whether url reaches Postgres through a pooler in
// transaction mode, where a session's state (prepared statements, LISTEN,
// session advisory locks, SET) does not outlive a transaction: when it says
// pgbouncer=true (false says it is not), or names Neon's pooled endpoint
// (a host with "-pooler.") or Supabase's transaction pooler (port 6543).
// A URL that cannot be parsed is not pooled; opening it reports why.
func Pooled(url string) bool {
	cfg, err := pgx.ParseConfig(url)
	return err == nil && pooled(cfg)
}

func pooled(cfg *pgx.ConnConfig) bool {
	if v, ok := cfg.RuntimeParams["pgbouncer"]; ok {
		return v == "true"
	}
	return strings.Contains(cfg.Host, "-pooler.") || cfg.Port == 6543
}

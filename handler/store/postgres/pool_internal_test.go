package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// Pooled URLs, as Neon and Supabase hand them out or as pgbouncer=true
// says, run without prepared statements; others keep pgx's statement
// cache; a URL that chooses its mode keeps it.
func TestPooledURLsRunWithoutPreparedStatements(t *testing.T) {
	tests := []struct {
		url    string
		pooled bool
		mode   pgx.QueryExecMode
	}{
		{"postgres://u:p@ep-cool-1234.us-east-2.aws.neon.tech/db?sslmode=require", false, pgx.QueryExecModeCacheStatement},
		{"postgres://u:p@ep-cool-1234-pooler.us-east-2.aws.neon.tech/db?sslmode=require", true, pgx.QueryExecModeExec},
		{"postgres://postgres.abc:p@aws-0-eu-west-1.pooler.supabase.com:6543/postgres", true, pgx.QueryExecModeExec},
		{"postgres://postgres.abc:p@aws-0-eu-west-1.pooler.supabase.com:5432/postgres", false, pgx.QueryExecModeCacheStatement},
		{"postgres://u@10.0.0.5:6432/db?pgbouncer=true", true, pgx.QueryExecModeExec},
		{"postgres://u@ep-cool-1234-pooler.neon.tech/db?pgbouncer=false", false, pgx.QueryExecModeCacheStatement},
		{"postgres://u@10.0.0.5:6432/db?pgbouncer=true&default_query_exec_mode=simple_protocol", true, pgx.QueryExecModeSimpleProtocol},
		{"host=ep-cool-1234-pooler.neon.tech user=u dbname=db", true, pgx.QueryExecModeExec},
		{"host=127.0.0.1 port=5432 user=u dbname=db", false, pgx.QueryExecModeCacheStatement},
	}
	for _, tt := range tests {
		if got := Pooled(tt.url); got != tt.pooled {
			t.Errorf("Pooled(%q) = %v, want %v", tt.url, got, tt.pooled)
		}
		cfg, err := connConfig(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if cfg.DefaultQueryExecMode != tt.mode {
			t.Errorf("%s: query mode %v, want %v", tt.url, cfg.DefaultQueryExecMode, tt.mode)
		}
		// Postgres and PgBouncer refuse a startup parameter they do not know.
		if _, ok := cfg.RuntimeParams["pgbouncer"]; ok {
			t.Errorf("%s: pgbouncer= is sent to the server", tt.url)
		}
	}
}

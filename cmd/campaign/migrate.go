package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"campaignkit/handler/config"
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/sqlite"
)

// migrate brings the database's schema, the store's and the delivery
// queue's, up to date: Postgres at DATABASE_URL, else SQLite in the data
// folder. It reads nothing else of the configuration, so that a build
// that sees only some of the functions' variables still migrates.
func migrate(ctx context.Context, getenv func(string) string, w io.Writer) error {
	if url := getenv("DATABASE_URL"); url != "" {
		if err := config.MigratePostgres(ctx, url); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		fmt.Fprintf(w, "database schema at version %d (Postgres), delivery queue up to date\n", store.SchemaVersion)
		return nil
	}
	dir := getenv("CAMPAIGN_DATA_DIR")
	st, err := sqlite.Open(ctx, dir) // migrates as it opens
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer st.Close()
	if err := queue.Migrate(ctx, st); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(w, "database schema at version %d (SQLite in %s), delivery queue up to date\n", store.SchemaVersion, filepath.Join(dir, "campaign.db"))
	return nil
}

package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"campaignkit/handler/store/postgres"
	"campaignkit/handler/store/storetest"
)

// A store's pool never opens more connections than MaxConns, however many
// callers want one at once: they wait for a free one.
func TestPoolIsBounded(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	ctx := context.Background()
	st, err := postgres.OpenWith(ctx, url, postgres.Options{MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var seen atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each holds a connection a moment, then counts the server's
			// connections to this database.
			c, err := st.DB().Conn(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			var n int64
			if _, err = c.ExecContext(ctx, `SELECT pg_sleep(0.1)`); err == nil {
				err = c.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&n)
			}
			if err != nil {
				t.Error(err)
				return
			}
			for old := seen.Load(); n > old && !seen.CompareAndSwap(old, n); old = seen.Load() {
			}
		}()
	}
	wg.Wait()
	stats := st.DB().Stats()
	if n := seen.Load(); n < 1 || n > 3 {
		t.Errorf("the server saw %d connections at once, want 1 to 3", n)
	}
	if stats.MaxOpenConnections != 3 || stats.WaitCount == 0 {
		t.Errorf("pool: at most %d open, %d waits; want 3 and callers waiting", stats.MaxOpenConnections, stats.WaitCount)
	}

	// Without a setting, a long-running process's default.
	def, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if n := def.DB().Stats().MaxOpenConnections; n != postgres.DefaultMaxConns {
		t.Errorf("default pool: %d, want %d", n, postgres.DefaultMaxConns)
	}
}

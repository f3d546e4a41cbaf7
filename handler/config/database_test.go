package config_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"campaignkit/handler/config"
	"campaignkit/handler/store/postgres"
	"campaignkit/handler/store/storetest"
)

func TestDBMaxConnsIsANumberOfConnections(t *testing.T) {
	for _, v := range []string{"0", "-1", "two", "1001"} {
		_, err := config.Load(func(k string) string {
			if k == "CAMPAIGN_DB_MAX_CONNS" {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "CAMPAIGN_DB_MAX_CONNS") {
			t.Errorf("CAMPAIGN_DB_MAX_CONNS=%s: %v, want an error naming it", v, err)
		}
	}
}

// The pool is CAMPAIGN_DB_MAX_CONNS when set, else the program's own
// bound (FunctionMaxConns in a function), else the server default.
func TestPoolBound(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	tests := []struct {
		setting string
		program int
		want    int
	}{
		{"", config.FunctionMaxConns, config.FunctionMaxConns},
		{"", 0, postgres.DefaultMaxConns},
		{"7", config.FunctionMaxConns, 7},
	}
	for _, tt := range tests {
		env := map[string]string{"DATABASE_URL": url, "CAMPAIGN_DB_MAX_CONNS": tt.setting}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		parts, err := cfg.Open(context.Background(), config.Program{MaxConns: tt.program}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if got := parts.Store.DB().Stats().MaxOpenConnections; got != tt.want {
			t.Errorf("CAMPAIGN_DB_MAX_CONNS=%q, program %d: pool of %d, want %d", tt.setting, tt.program, got, tt.want)
		}
		parts.Close()
	}
}

package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/storetest"
)

// Through PgBouncer in transaction mode, as Neon's and Supabase's pooled
// URLs lead: the deploy's migration, signatures taken by the function
// (more of them than the pooler has server connections, so that each
// server connection meets statements of many), and letters left to the
// scheduled delivery, sent by it. With pgx's statement cache, signatures
// fail with `prepared statement "stmtcache_…" already exists`.
func TestSignAndDeliverThroughPgBouncer(t *testing.T) {
	direct, pooled := storetest.NewPooledDatabase(t)
	ctx := context.Background()
	if err := config.MigratePostgres(ctx, pooled); err != nil {
		t.Fatalf("campaign migrate through PgBouncer: %v", err)
	}
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"] = pooled
	// A short send timeout makes the queued letters' retry due within
	// seconds (RescueAfter follows it).
	env["CAMPAIGN_SEND_TIMEOUT"] = "500ms"
	fn := function(t, published(t, "production"), env)
	const sent, queued = 20, 5
	for i := range sent + queued {
		if i == sent { // Mailgun down: accepted, left to the queue
			mg.SetBehaviour(mailguntest.Behaviour{FailRate: 1})
		}
		resp := invoke(t, fn, signer(t, i, "2001:db8:"+strconv.Itoa(i+1)+"::1"))
		if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status"`) {
			t.Fatalf("signature %d through PgBouncer: %d %s", i+1, resp.StatusCode, resp.Body)
		}
	}
	if n := len(mg.Messages()); n != 2*sent {
		t.Fatalf("%d letters sent inline, want %d", n, 2*sent)
	}

	// The scheduled deliver function's program, through the pooler.
	mg.SetBehaviour(mailguntest.Behaviour{})
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(mg.Messages()) < 2*(sent+queued) && time.Now().Before(deadline) {
		parts, err := cfg.Open(ctx, config.Program{Workers: cfg.Workers, MaxConns: config.FunctionMaxConns, NoMigrate: true}, quiet())
		if err != nil {
			t.Fatalf("deliver's open through PgBouncer: %v", err)
		}
		if _, err := parts.Queue.WorkFor(ctx, 5*time.Second); err != nil {
			t.Fatalf("delivery run through PgBouncer: %v", err)
		}
		parts.Close()
	}
	if n := len(mg.Messages()); n != 2*(sent+queued) {
		t.Fatalf("%d letters arrived, want %d", n, 2*(sent+queued))
	}
	db, err := sql.Open("pgx", direct)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var unsent int
	if err := db.QueryRow(`SELECT COUNT(*) FROM messages WHERE state <> $1`, letter.StateSent).Scan(&unsent); err != nil || unsent != 0 {
		t.Fatalf("%d messages not recorded as sent (%v)", unsent, err)
	}
}

// Fifty invocations at once, each a cold start of its own instance (as
// Lambda runs them), through PgBouncer: every signature is taken, each
// instance keeps to its pool (FunctionMaxConns) and Postgres sees no more
// connections than PgBouncer's pool. Directly, Postgres sees one or two
// per instance: why functions use the pooled URL.
func TestFiftyColdStartsKeepPostgresConnectionsBounded(t *testing.T) {
	const instances = 50
	files := published(t, "production")
	for _, via := range []string{"pgbouncer", "direct"} {
		t.Run(via, func(t *testing.T) {
			// A database of its own: neither run counts the other's
			// connections, left open as a frozen instance leaves them.
			direct, pooled := storetest.NewPooledDatabase(t)
			if err := config.MigratePostgres(context.Background(), direct); err != nil {
				t.Fatal(err)
			}
			admin, err := sql.Open("pgx", storetest.PgBouncerAdmin(t))
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			// The most connections Postgres may see.
			url, bound := pooled, showInt(t, admin, "SHOW CONFIG", "key", "default_pool_size", "value")
			if via == "direct" {
				url, bound = direct, instances*config.FunctionMaxConns
			}
			name := direct[strings.LastIndex(direct, "/")+1:]
			name = name[:strings.Index(name+"?", "?")]
			mg := mailguntest.New()
			defer mg.Close()
			env := mailgunEnv(mg)
			env["DATABASE_URL"] = url
			evs := make([]events.APIGatewayProxyRequest, instances)
			for i := range evs {
				evs[i] = signer(t, i, fmt.Sprintf("2001:db8:%x::1", i+1))
			}
			peak := sample(t, name, via == "pgbouncer", admin)
			var wg sync.WaitGroup
			statuses := make([]int, instances)
			start := time.Now()
			for i := range instances {
				wg.Add(1)
				go func() {
					defer wg.Done()
					fn := function(t, files, env) // a cold start
					resp, err := fn.Invoke(context.Background(), evs[i])
					if err != nil {
						t.Error(err)
						return
					}
					statuses[i] = resp.StatusCode
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			server, clients := peak()
			ok := 0
			for i, s := range statuses {
				if s != 200 {
					t.Errorf("invocation %d: %d", i+1, s)
					continue
				}
				ok++
			}
			held := ""
			if via == "pgbouncer" {
				held = fmt.Sprintf("; PgBouncer held at most %d client connections", clients)
			}
			t.Logf("%d concurrent cold starts, %s, in %v: %d answered 200, Postgres saw at most %d connections (bound %d)%s",
				instances, via, elapsed.Round(time.Millisecond), ok, server, bound, held)
			if server > bound || server == 0 {
				t.Errorf("Postgres saw %d connections at once, want 1 to %d", server, bound)
			}
			if clients > instances*config.FunctionMaxConns {
				t.Errorf("PgBouncer held %d client connections, more than %d instances × %d", clients, instances, config.FunctionMaxConns)
			}
		})
	}
}

// sample counts, until the returned func is called, the connections
// Postgres has to the database (pg_stat_activity) and, through PgBouncer,
// the clients PgBouncer holds for it (SHOW POOLS), and returns their peaks.
func sample(t *testing.T, database string, bouncer bool, admin *sql.DB) func() (server, clients int) {
	server, err := sql.Open("pgx", os.Getenv(storetest.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	server.SetMaxOpenConns(1)
	stop := make(chan struct{})
	done := make(chan struct{})
	var maxServer, maxClients int
	go func() {
		defer close(done)
		for {
			var n int
			if err := server.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1`, database).Scan(&n); err == nil {
				maxServer = max(maxServer, n)
			}
			if bouncer {
				maxClients = max(maxClients, showInt(t, admin, "SHOW POOLS", "database", database, "cl_active", "cl_waiting"))
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() (int, int) {
		close(stop)
		<-done
		server.Close()
		return maxServer, maxClients
	}
}

// showInt runs one of PgBouncer's SHOW commands and sums the columns sum
// of the row whose column key is value; 0 when there is none.
func showInt(t *testing.T, admin *sql.DB, show, key, value string, sum ...string) int {
	rows, err := admin.Query(show)
	if err != nil {
		t.Errorf("%s: %v", show, err)
		return 0
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Errorf("%s: %v", show, err)
		return 0
	}
	total := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Errorf("%s: %v", show, err)
			return 0
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = fmt.Sprint(vals[i])
		}
		if row[key] != value {
			continue
		}
		for _, c := range sum {
			n, err := strconv.Atoi(row[c])
			if err != nil {
				t.Errorf("%s: %s = %q", show, c, row[c])
			}
			total += n
		}
	}
	return total
}

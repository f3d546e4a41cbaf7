package storetest

import (
	"net/url"
	"os"
	"testing"
)

// PgBouncerEnvVar names a PgBouncer in transaction mode in front of the
// server EnvVar names, reaching any of its databases (.ci/pgbouncer starts
// one; .ci/run sets both).
const PgBouncerEnvVar = "CAMPAIGN_TEST_PGBOUNCER_URL"

// NewPooledDatabase creates an empty database for this test, as
// NewPostgresDatabase does, and returns its URL on the server (direct)
// and through PgBouncer (pooled, saying pgbouncer=true as a pooled URL
// the store cannot recognise must). It skips the test, saying why, when
// either is not configured.
func NewPooledDatabase(t testing.TB) (direct, pooled string) {
	t.Helper()
	bouncer := os.Getenv(PgBouncerEnvVar)
	if bouncer == "" {
		t.Skipf("PgBouncer tests skipped: set %s (bash .ci/run starts PgBouncer in transaction mode and sets it; or .ci/pgbouncer PORT)", PgBouncerEnvVar)
	}
	direct = NewPostgresDatabase(t)
	d, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(bouncer)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = d.Path
	q := u.Query()
	q.Set("pgbouncer", "true")
	u.RawQuery = q.Encode()
	return direct, u.String()
}

// PgBouncerAdmin is the URL of PgBouncer's console (SHOW POOLS, SHOW
// CONFIG), which speaks only the simple protocol.
func PgBouncerAdmin(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(os.Getenv(PgBouncerEnvVar))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/pgbouncer"
	q := u.Query()
	q.Del("pgbouncer")
	q.Set("default_query_exec_mode", "simple_protocol")
	u.RawQuery = q.Encode()
	return u.String()
}

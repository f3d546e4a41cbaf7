package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"campaignkit/handler/admin"
	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// BenchmarkExport writes the CSV of 10,000 and 100,000 signatures (two
// letters each, a realistic letter text stored with them), on SQLite and,
// with CAMPAIGN_TEST_DATABASE_URL, on Postgres. Besides the time it
// reports rows/s and peak-heap-MB: the most live heap above the start
// while exporting, which stays flat whatever the size.
//
//	go test ./handler/admin -run '^$' -bench Export -benchtime 3x
func BenchmarkExport(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("sqlite/%d", n), func(b *testing.B) {
			benchExport(b, storetest.OpenSQLite(b, b.TempDir()), n)
		})
		b.Run(fmt.Sprintf("postgres/%d", n), func(b *testing.B) {
			benchExport(b, storetest.OpenPostgres(b, storetest.NewPostgresDatabase(b)), n)
		})
	}
}

func benchExport(b *testing.B, st *store.Store, n int) {
	ctx := context.Background()
	fill(b, st, n)
	var out countWriter
	peak := heapPeak()
	for b.Loop() {
		out = countWriter{}
		if err := admin.WriteCSV(ctx, &out, st, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out.n)/(1<<20), "csv-MB")
	if lines := out.lines; lines != n+1 {
		b.Fatalf("%d lines, want %d", lines, n+1)
	}
}

type countWriter struct{ n, lines int }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	c.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

var _ io.Writer = (*countWriter)(nil)

// heapPeak samples the live heap until the returned function is called,
// which returns the most it grew above where it started.
func heapPeak() func() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var mu sync.Mutex
	var top uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if v := read(); v > base {
					mu.Lock()
					top = max(top, v-base)
					mu.Unlock()
				}
			}
		}
	}()
	return func() uint64 {
		close(done)
		mu.Lock()
		defer mu.Unlock()
		return top
	}
}

// fill records n confirmed signatures with two letters each, sent, in
// multi-row inserts (Record would take a transaction each).
func fill(b *testing.B, st *store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	text := strings.Repeat("Families belong together. Children must not be taken from their parents at the border. ", 14)
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	now := time.Now().UTC().Add(-24 * time.Hour)
	const batch = 400
	for from := 0; from < n; from += batch {
		var sigs, msgs []string
		var sargs, margs []any
		for i := from; i < min(from+batch, n); i++ {
			id := letter.NewID()
			at := now.Add(time.Duration(i) * time.Millisecond)
			email := fmt.Sprintf("signer%d@example.org", i)
			k := len(sargs)
			sigs = append(sigs, fmt.Sprintf("($%d, 'family-separation', $%d, $%d, 'Doe', $%d, '12 Elm St', 'Springfield', 'IL', '62701', '', TRUE, 'newsletter', '', '', $%d, 'confirmed', $%d)",
				k+1, k+2, k+3, k+4, k+5, k+6))
			sargs = append(sargs, id, email, fmt.Sprintf("Jane%d", i), email, at, at)
			for target, name := range []string{"Donald J. Trump", "Kirstjen Nielsen"} {
				k := len(margs)
				msgs = append(msgs, fmt.Sprintf("($%d, $%d, %d, '%s', 'official@gov.example', 'official@gov.example', 'letters@mg.example', 'jane@example.org', 'Protect children', $%d, 'family-separation', 'sent', '<id@mg>', $%d, $%d)",
					k+1, k+2, target, name, k+3, k+4, k+5))
				margs = append(margs, fmt.Sprintf("%s.%d@mg.example", id, target), id, text, at, at)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signatures (id, letter_id, email_key, first_name, last_name, email, address, city,
			state, zip, phone, opt_in, source, subject, body, created_at, sig_state, confirmed_at) VALUES `+strings.Join(sigs, ", "), sargs...); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (id, signature_id, target_index, target_name, target_email, to_addr, from_addr,
			reply_to, subject, text, tag, state, provider_id, created_at, updated_at) VALUES `+strings.Join(msgs, ", "), margs...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if st.Postgres() {
		// What autovacuum does within a minute of such a load.
		if _, err := st.DB().ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
}

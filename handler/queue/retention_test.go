package queue_test

import (
	"context"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// Workers apply CAMPAIGN_RETENTION on their own, from the start: old
// signatures lose their personal data, their letters' outcomes stay.
func TestWorkersPurgePersonalDataPastTheRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		mg := mailguntest.New()
		defer mg.Close()
		q := start(t, st, mg, queue.Options{Workers: 2}, 0)
		sign(t, q, 3, target)
		if counts := waitCounts(t, st, 10*time.Second); counts[letter.StateSent] != 6 {
			t.Fatalf("counts %v, want 6 sent", counts)
		}
		// Within the default retention, nothing is purged.
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
		if n, _ := st.PurgedCount(ctx); n != 0 {
			t.Fatalf("%d signatures purged within the retention", n)
		}
		if _, err := st.DB().Exec(`UPDATE signatures SET created_at = $1`, time.Now().UTC().Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		start(t, st, mg, queue.Options{Workers: 1, Retention: time.Hour}, 0)
		deadline := time.Now().Add(20 * time.Second)
		for {
			n, err := st.PurgedCount(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of 3 signatures purged", n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if counts, _ := st.Counts(ctx); counts[letter.StateSent] != 6 {
			t.Errorf("counts after the purge %v, want 6 sent", counts)
		}
		var left int
		st.DB().QueryRow(`SELECT COUNT(*) FROM signatures WHERE email <> '' OR first_name <> ''`).Scan(&left)
		if left != 0 {
			t.Errorf("%d signatures keep their personal data", left)
		}
	})
}

package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"campaignkit/handler/store/storetest"
)

// Processes reserving send times together get each time once: with an
// hour between slots, every reservation's first slot is a whole number of
// hours from now, and together they are 0, 1, 2, … with no gap or repeat.
func TestReservedSendTimesNeverOverlap(t *testing.T) {
	u := storetest.NewPostgresDatabase(t)
	ctx := context.Background()
	const processes, reservations, n = 3, 20, 2
	var mu sync.Mutex
	taken := map[int]int{}
	var wg sync.WaitGroup
	for range processes {
		st := storetest.OpenPostgres(t, u) // a pool each, as a process has
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range reservations / 4 {
					r, err := st.ReserveSends(ctx, n, time.Hour)
					if err != nil || r.Paused() {
						t.Errorf("reserve: %v, %+v", err, r)
						return
					}
					slot := int((r.First.Sub(r.Now) + 30*time.Minute) / time.Hour)
					mu.Lock()
					for i := range n {
						taken[slot+i]++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for i := range processes * reservations * n {
		if taken[i] != 1 {
			t.Fatalf("slot %d taken %d times (all: %v)", i, taken[i], taken)
		}
	}
}

func TestPausedSendsReserveNothing(t *testing.T) {
	st := storetest.OpenPostgres(t, storetest.NewPostgresDatabase(t))
	ctx := context.Background()
	r, err := st.ReserveSends(ctx, 5, time.Second)
	if err != nil || r.Paused() || r.First.After(r.Now) || r.Now.Sub(r.First) > time.Second {
		t.Fatalf("first reservation: %+v, %v; want now", r, err)
	}
	// The next follows the five just taken.
	if r2, err := st.ReserveSends(ctx, 1, time.Second); err != nil || !r2.First.Equal(r.First.Add(5*time.Second)) {
		t.Fatalf("second reservation at %v (%v), want 5 s after the first's %v", r2.First, err, r.First)
	}
	if err := st.PauseSends(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	// A shorter pause told later does not end the longer one.
	if err := st.PauseSends(ctx, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d, err := st.SendsPaused(ctx); err != nil || d < 50*time.Second || d > time.Minute {
		t.Fatalf("paused for %v (%v), want about a minute", d, err)
	}
	if r, err := st.ReserveSends(ctx, 1, 10*time.Millisecond); err != nil || !r.Paused() || !r.First.IsZero() || r.PausedUntil.Sub(r.Now) < 50*time.Second {
		t.Fatalf("reservation during a pause: %+v, %v; want the pause and nothing reserved", r, err)
	}
}

func TestSharedPaceNeedsPostgres(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	if _, err := st.ReserveSends(context.Background(), 1, time.Second); err == nil {
		t.Fatal("reserved send times on SQLite")
	}
}

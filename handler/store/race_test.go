package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// heldPair records one signature under a ceiling of 1 a minute and two
// past it, held.
func heldPair(t *testing.T, st *store.Store) (a, b *letter.Signature) {
	ctx := context.Background()
	lim := store.Limits{Ceiling: 1}
	rec := func(email string) *letter.Signature {
		sig, msgs := signature(email)
		for i := range msgs {
			msgs[i].State = letter.StateQueued
		}
		if _, err := st.Record(ctx, sig, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		return sig
	}
	x := rec("x@example.org")
	if x.State != letter.SignatureConfirmed {
		t.Fatalf("x %s", x.State)
	}
	a = rec("a@example.org")
	time.Sleep(5 * time.Millisecond)
	b = rec("b@example.org")
	if a.State != letter.SignatureHeld || b.State != letter.SignatureHeld {
		t.Fatalf("not held: %s %s", a.State, b.State)
	}
	return a, b
}

// An organizer's release and the ceiling's release at once (Postgres,
// where they run side by side): each signature is released once and the
// public count equals the confirmed signatures.
func TestReleaseAndAnOrganizersReleaseAtOnce(t *testing.T) {
	u := storetest.NewPostgresDatabase(t)
	st := storetest.OpenPostgres(t, u)
	ctx := context.Background()
	_, b := heldPair(t, st)
	inAlso, proceed := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		n, err := st.ReleaseSignatures(ctx, []string{b.ID}, func(store.Tx, []string) error { close(inAlso); <-proceed; return nil })
		t.Logf("ReleaseSignatures = %d, %v", n, err)
	}()
	<-inAlso
	go func() {
		defer wg.Done()
		n, err := st.Release(ctx, "", 10, nil)
		t.Logf("Release = %d, %v", n, err)
	}()
	time.Sleep(time.Second) // the ceiling's release reads b as held meanwhile
	close(proceed)
	wg.Wait()
	c, _ := st.Count(ctx, b.Letter)
	var confirmed int
	st.DB().QueryRow(`SELECT COUNT(*) FROM signatures WHERE sig_state='confirmed'`).Scan(&confirmed)
	t.Logf("count tally %d, confirmed rows %d", c, confirmed)
	if c != confirmed {
		t.Errorf("public count %d != confirmed signatures %d", c, confirmed)
	}
}

// An organizer's rejection and the ceiling's release at once: the
// rejection stands (the release finds the signature no longer held).
func TestReleaseAndAnOrganizersRejectionAtOnce(t *testing.T) {
	u := storetest.NewPostgresDatabase(t)
	st := storetest.OpenPostgres(t, u)
	ctx := context.Background()
	_, b := heldPair(t, st)
	blocker, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec(`SELECT id FROM signatures WHERE id = $1 FOR UPDATE`, b.ID); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		n, err := st.RejectSignatures(ctx, []string{b.ID})
		t.Logf("Reject = %d, %v", n, err)
	}()
	time.Sleep(time.Second) // the rejection waits on the lock first
	go func() {
		defer wg.Done()
		n, err := st.Release(ctx, "", 10, nil)
		t.Logf("Release = %d, %v", n, err)
	}()
	time.Sleep(time.Second)
	blocker.Rollback()
	wg.Wait()
	c, _ := st.Count(ctx, b.Letter)
	state, ms := states(t, st, b.ID)
	t.Logf("count %d; b: %s %v", c, state, ms)
	if state != "rejected" {
		t.Errorf("rejected signature is now %s with messages %v, count %d", state, ms, c)
	}
}

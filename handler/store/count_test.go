package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// The public count moves only when a signature's letters are sent or on
// their way: confirmed at once, confirmed by its signer, or released by an
// organizer. Attempts awaiting confirmation, repeats, held and expired
// signatures leave it alone.
func TestCountMovesOnlyWhenASignatureIsConfirmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		const id = "family-separation"
		want := func(n int, when string) {
			t.Helper()
			if got, err := st.Count(ctx, id); err != nil || got != n {
				t.Fatalf("%s: Count = %d, %v; want %d", when, got, err, n)
			}
		}
		want(0, "before any signature")

		a, msgs := unconfirmed("jane@example.org", "token-a")
		if _, err := st.Record(ctx, a, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		want(0, "awaiting confirmation")
		if _, err := st.Confirm(ctx, letter.HashToken("token-a"), store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		want(1, "confirmed by the signer")
		if _, err := st.Confirm(ctx, letter.HashToken("token-a"), store.Limits{}, nil); !errors.Is(err, letter.ErrConfirmed) {
			t.Fatalf("confirming again: %v", err)
		}
		want(1, "the link used twice")

		b, msgs := signature("john@example.org") // a letter without confirmation
		if _, err := st.Record(ctx, b, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		want(2, "recorded without confirmation")
		repeat, msgs := signature("John@Example.org")
		if _, err := st.Record(ctx, repeat, msgs, store.Limits{}, nil); !errors.Is(err, letter.ErrDuplicate) {
			t.Fatalf("repeat: %v", err)
		}
		want(2, "a repeat signature")
		failing, msgs := signature("fail@example.org")
		if _, err := st.Record(ctx, failing, msgs, store.Limits{}, func(store.Tx) error { return errors.New("enqueue failed") }); err == nil {
			t.Fatal("Record succeeded though its joined work failed")
		}
		want(2, "a recording rolled back")

		// Past the ceiling (1 a minute: b just used it) signatures are held.
		held := store.Limits{Ceiling: 1}
		c, msgs := signature("ann@example.org")
		if _, err := st.Record(ctx, c, msgs, held, nil); err != nil || c.State != letter.SignatureHeld {
			t.Fatalf("Record past the ceiling: %v, state %s", err, c.State)
		}
		d, msgs := unconfirmed("lee@example.org", "token-d")
		if _, err := st.Record(ctx, d, msgs, held, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Confirm(ctx, letter.HashToken("token-d"), held, nil); err != nil || got.State != letter.SignatureHeld {
			t.Fatalf("Confirm past the ceiling: %+v, %v", got, err)
		}
		want(2, "two held signatures")
		if n, err := st.Release(ctx, id, 10, nil); err != nil || n != 2 {
			t.Fatalf("Release = %d, %v", n, err)
		}
		want(4, "released by an organizer")

		e, msgs := unconfirmed("sam@example.org", "token-e")
		if _, err := st.Record(ctx, e, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB().ExecContext(ctx, `UPDATE signatures SET created_at = $1 WHERE id = $2`, time.Now().UTC().Add(-2*time.Hour), e.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := st.Expire(ctx, time.Hour); err != nil || n != 1 {
			t.Fatalf("Expire = %d, %v", n, err)
		}
		want(4, "an expired attempt")

		other, msgs := signature("jane@example.org")
		other.Letter = "another-letter"
		if _, err := st.Record(ctx, other, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		want(4, "a signature of another letter")
		if n, err := st.Count(ctx, "another-letter"); err != nil || n != 1 {
			t.Errorf("the other letter's count = %d, %v; want 1", n, err)
		}
	})
}

// A database made before the count was kept starts its count from the
// signatures already confirmed, letter by letter, when the migration runs.
func TestMigrationStartsTheCountFromConfirmedSignatures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		for _, email := range []string{"a@example.org", "b@example.org"} {
			sig, msgs := signature(email)
			if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
				t.Fatal(err)
			}
		}
		other, msgs := signature("c@example.org")
		other.Letter = "another-letter"
		if _, err := st.Record(ctx, other, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		pending, msgs := unconfirmed("d@example.org", "token-d")
		if _, err := st.Record(ctx, pending, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		held, msgs := signature("e@example.org")
		if _, err := st.Record(ctx, held, msgs, store.Limits{Ceiling: 1}, nil); err != nil || held.State != letter.SignatureHeld {
			t.Fatalf("held: %v, %s", err, held.State)
		}
		// As before the count was kept, with an "expired" tally beside.
		for _, stmt := range []string{
			`DELETE FROM tallies`,
			`INSERT INTO tallies (letter_id, name, n) VALUES ('family-separation', 'expired', 7)`,
			store.CountMigration(),
		} {
			if _, err := st.DB().ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		for id, want := range map[string]int{"family-separation": 2, "another-letter": 1, "no-such-letter": 0} {
			if n, err := st.Count(ctx, id); err != nil || n != want {
				t.Errorf("Count(%s) after migrating = %d, %v; want %d", id, n, err, want)
			}
		}
		if n, _ := st.Tally(ctx, "family-separation", "expired"); n != 7 {
			t.Errorf("the expired tally became %d", n)
		}
	})
}

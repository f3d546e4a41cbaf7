package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// alsoMarks is a RecordAll also that writes, in the recording
// transaction, a mark per signature it is given (a tally named "also"),
// so that a test sees which ones it ran for in a committed transaction.
func alsoMarks(fail string) func(store.Tx, []*store.Signing) error {
	return func(tx store.Tx, recorded []*store.Signing) error {
		for _, g := range recorded {
			if g.Sig.ID == fail {
				return errors.New("this one cannot be enqueued")
			}
			if _, err := tx.Exec(`INSERT INTO tallies (letter_id, name, n) VALUES ($1, 'also', 1)
				ON CONFLICT (letter_id, name) DO UPDATE SET n = tallies.n + 1`, g.Sig.ID); err != nil {
				return err
			}
		}
		return nil
	}
}

func marks(t *testing.T, st *store.Store, sig *letter.Signature) int {
	t.Helper()
	n, err := st.Tally(context.Background(), sig.ID, "also")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A batch with one bad signature (a message whose id is taken) commits the
// others, each with its messages, its count and its also, once.
func TestRecordAllOneBadSignatureCommitsTheOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		earlier, earlierMsgs := signature("first@example.org")
		if _, err := st.Record(ctx, earlier, earlierMsgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		a, aMsgs := signature("a@example.org")
		bad, badMsgs := signature("bad@example.org")
		badMsgs[1].ID = earlierMsgs[0].ID
		repeat, repeatMsgs := signature("First@Example.org")
		c, cMsgs := signature("c@example.org")
		batch := []*store.Signing{{Sig: a, Msgs: aMsgs}, {Sig: bad, Msgs: badMsgs}, {Sig: repeat, Msgs: repeatMsgs}, {Sig: c, Msgs: cMsgs}}
		st.RecordAll(ctx, batch, store.Limits{}, alsoMarks(""))

		for _, g := range []*store.Signing{batch[0], batch[3]} {
			if g.Err != nil || g.First != g.Sig || g.Sig.State != letter.SignatureConfirmed {
				t.Errorf("%s: %v, %v, state %s", g.Sig.Email, g.First, g.Err, g.Sig.State)
			}
			if stored, err := st.Messages(ctx, g.Sig.ID); err != nil || len(stored) != 2 || stored[0].State != letter.StateQueued {
				t.Errorf("%s's messages: %+v, %v", g.Sig.Email, stored, err)
			}
			if n := marks(t, st, g.Sig); n != 1 {
				t.Errorf("%s: also ran %d times in a committed transaction, want 1", g.Sig.Email, n)
			}
		}
		if g := batch[1]; g.Err == nil || errors.Is(g.Err, letter.ErrDuplicate) || g.First != nil {
			t.Errorf("the bad signature: %v, %v; want its failure", g.First, g.Err)
		}
		if stored, _ := st.Messages(ctx, bad.ID); len(stored) != 0 || marks(t, st, bad) != 0 {
			t.Errorf("the bad signature left %d messages", len(stored))
		}
		if g := batch[2]; !errors.Is(g.Err, letter.ErrDuplicate) || g.First == nil || g.First.ID != earlier.ID || marks(t, st, repeat) != 0 {
			t.Errorf("the repeat: %+v, %v; want the earlier signature as a duplicate", g.First, g.Err)
		}
		if n, err := st.Count(ctx, "family-separation"); err != nil || n != 3 {
			t.Errorf("count = %d, %v; want 3 (earlier, a, c)", n, err)
		}
		if n, _ := st.SignatureCount(ctx); n != 3 {
			t.Errorf("%d signatures stored, want 3", n)
		}
	})
}

// In one batch, each signature is recorded as if alone after the ones
// before it: a repeat of an address in the same batch is a duplicate, the
// ceiling holds the ones past it, a second confirmation mail is throttled.
func TestRecordAllIsRecordOneAfterTheOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		lim := store.Limits{Ceiling: 2}
		a, aMsgs := signature("a@example.org")
		a.OptIn = false
		again, againMsgs := signature("A@example.org") // opts in: the first did not
		b, bMsgs := signature("b@example.org")
		c, cMsgs := signature("c@example.org")
		u1, u1Msgs := unconfirmed("u@example.org", "token-1")
		u2, u2Msgs := unconfirmed("u@example.org", "token-2")
		batch := []*store.Signing{{Sig: a, Msgs: aMsgs}, {Sig: again, Msgs: againMsgs}, {Sig: b, Msgs: bMsgs},
			{Sig: c, Msgs: cMsgs}, {Sig: u1, Msgs: u1Msgs}, {Sig: u2, Msgs: u2Msgs}}
		st.RecordAll(ctx, batch, lim, nil)

		if batch[0].Err != nil || batch[2].Err != nil || a.State != letter.SignatureConfirmed || b.State != letter.SignatureConfirmed {
			t.Errorf("a, b: %v %s, %v %s", batch[0].Err, a.State, batch[2].Err, b.State)
		}
		if g := batch[1]; !errors.Is(g.Err, letter.ErrDuplicate) || g.First.ID != a.ID || !g.First.OptIn {
			t.Errorf("the repeat in the same batch: %+v, %v; want a, with the repeat's opt-in", g.First, g.Err)
		}
		if batch[3].Err != nil || c.State != letter.SignatureHeld || cMsgs[0].State != letter.StateHeld {
			t.Errorf("past the ceiling: %v, %s, message %s; want held", batch[3].Err, c.State, cMsgs[0].State)
		}
		if batch[4].Err != nil || !errors.Is(batch[5].Err, letter.ErrThrottled) {
			t.Errorf("two attempts in one name: %v, %v; want the second throttled", batch[4].Err, batch[5].Err)
		}
		if n, _ := st.Count(ctx, "family-separation"); n != 2 {
			t.Errorf("count = %d, want 2 (a and b; c is held)", n)
		}
		// The batch counted u's mail (its row goes in with the messages):
		// the next attempt, in a batch of its own, is throttled too.
		u3, u3Msgs := unconfirmed("u@example.org", "token-3")
		if _, err := st.Record(ctx, u3, u3Msgs, lim, nil); !errors.Is(err, letter.ErrThrottled) {
			t.Errorf("an attempt after the batch: %v, want throttled", err)
		}
		states, _ := st.SignatureStates(ctx)
		if states[letter.SignatureConfirmed] != 2 || states[letter.SignatureHeld] != 1 || states[letter.SignatureUnconfirmed] != 1 {
			t.Errorf("states %v", states)
		}
	})
}

// A batch that fails is recorded again one signature at a time from what
// the caller gave, not from what the failed attempt made of it: c, held in
// the batch behind the bad one, is confirmed on its own.
func TestRecordAllRetriesEachFromTheStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		bad, badMsgs := signature("bad@example.org")
		c, cMsgs := signature("c@example.org")
		batch := []*store.Signing{{Sig: bad, Msgs: badMsgs}, {Sig: c, Msgs: cMsgs}}
		st.RecordAll(ctx, batch, store.Limits{Ceiling: 1}, alsoMarks(bad.ID))

		if batch[0].Err == nil {
			t.Error("the bad signature was recorded")
		}
		if batch[1].Err != nil || c.State != letter.SignatureConfirmed || marks(t, st, c) != 1 {
			t.Fatalf("c: %v, %s", batch[1].Err, c.State)
		}
		stored, err := st.Messages(ctx, c.ID)
		if err != nil || len(stored) != 2 || stored[0].State != letter.StateQueued || cMsgs[0].State != letter.StateQueued {
			t.Errorf("c's messages: %+v, %v", stored, err)
		}
		if n, _ := st.SignatureCount(ctx); n != 1 {
			t.Errorf("%d signatures stored, want 1", n)
		}
	})
}

// A batch of unconfirmed signatures larger than one multi-row INSERT
// (32 rows on SQLite) records each, with its letters and its mail's row,
// but the repeat of an address, throttled.
func TestRecordAllManyUnconfirmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		var batch []*store.Signing
		for i := range 37 {
			email := fmt.Sprintf("u%d@example.org", i)
			if i == 20 {
				email = "u3@example.org"
			}
			sig, msgs := unconfirmed(email, fmt.Sprintf("token-%d", i))
			batch = append(batch, &store.Signing{Sig: sig, Msgs: msgs})
		}
		st.RecordAll(ctx, batch, store.Limits{}, nil)
		for i, g := range batch {
			if (i == 20) != errors.Is(g.Err, letter.ErrThrottled) || (i != 20 && (g.Err != nil || g.First != g.Sig)) {
				t.Errorf("signature %d: %v", i, g.Err)
			}
		}
		states, _ := st.SignatureStates(ctx)
		counts, _ := st.Counts(ctx)
		if states[letter.SignatureUnconfirmed] != 36 || counts[letter.StateUnconfirmed] != 72 {
			t.Errorf("signatures %v, messages %v; want 36 unconfirmed with 72 letters", states, counts)
		}
		// Every mail was counted: each address is throttled now.
		again, msgs := unconfirmed("u36@example.org", "token-again")
		if _, err := st.Record(ctx, again, msgs, store.Limits{}, nil); !errors.Is(err, letter.ErrThrottled) {
			t.Errorf("the last address again: %v, want throttled", err)
		}
	})
}

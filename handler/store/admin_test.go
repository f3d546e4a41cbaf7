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

// edited is an attempt whose signer edited a letter with review_edits.
func edited(email, token string) (*letter.Signature, []letter.Message) {
	sig, msgs := unconfirmed(email, token)
	sig.Body, sig.Edited, sig.Hold = "My own words", true, letter.HoldReview
	return sig, msgs
}

func states(t *testing.T, st *store.Store, sigID string) (string, []string) {
	t.Helper()
	var state string
	if err := st.DB().QueryRow(`SELECT sig_state FROM signatures WHERE id = $1`, sigID).Scan(&state); err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(context.Background(), sigID)
	if err != nil {
		t.Fatal(err)
	}
	var ms []string
	for _, m := range msgs {
		ms = append(ms, m.State)
	}
	return state, ms
}

// An edited letter that asks for review is held once confirmed, even
// far below the ceiling; the ceiling's release leaves it, an organizer's
// release sends it.
func TestReviewHoldsUntilReleased(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		lim := store.Limits{Ceiling: 1000, ConfirmTTL: time.Hour}
		sig, msgs := edited("jane@example.org", "token-a")
		if _, err := st.Record(ctx, sig, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		got, err := st.Confirm(ctx, letter.HashToken("token-a"), lim, func(store.Tx, []string) error {
			t.Error("an edited letter to review was queued")
			return nil
		})
		if err != nil || got.State != letter.SignatureHeld || got.Hold != letter.HoldReview {
			t.Fatalf("Confirm = %+v, %v; want held for review", got, err)
		}
		if state, ms := states(t, st, sig.ID); state != "held" || ms[0] != "held" || ms[1] != "held" {
			t.Fatalf("after confirming: %s %v", state, ms)
		}
		if n, err := st.Release(ctx, "", 10, nil); err != nil || n != 0 {
			t.Fatalf("the ceiling's Release = %d, %v; want nothing released", n, err)
		}
		held, err := st.Held(ctx, 10)
		if err != nil || len(held) != 1 || held[0].ID != sig.ID || held[0].Hold != letter.HoldReview || held[0].Text != msgs[0].Text {
			t.Fatalf("Held = %+v, %v", held, err)
		}
		if c, _ := st.Count(ctx, sig.Letter); c != 0 {
			t.Fatalf("a letter held for review counts publicly: %d", c)
		}
		var queued []string
		n, err := st.ReleaseSignatures(ctx, []string{sig.ID, "unknown"}, func(_ store.Tx, ids []string) error { queued = ids; return nil })
		if err != nil || n != 1 || len(queued) != 2 {
			t.Fatalf("ReleaseSignatures = %d, %v, queued %v", n, err, queued)
		}
		if c, _ := st.Count(ctx, sig.Letter); c != 1 {
			t.Fatalf("the released letter does not count publicly: %d", c)
		}
		if state, ms := states(t, st, sig.ID); state != "confirmed" || ms[0] != "queued" || ms[1] != "queued" {
			t.Fatalf("after release: %s %v", state, ms)
		}
		// Released once: a second decision changes nothing.
		if n, err := st.ReleaseSignatures(ctx, []string{sig.ID}, nil); err != nil || n != 0 {
			t.Errorf("releasing again = %d, %v", n, err)
		}
		if n, err := st.RejectSignatures(ctx, []string{sig.ID}); err != nil || n != 0 {
			t.Errorf("rejecting a released signature = %d, %v", n, err)
		}

		// Without review_edits (no Hold) an edited letter goes as any other.
		plain, msgs := unconfirmed("john@example.org", "token-b")
		plain.Body, plain.Edited = "Mine", true
		if _, err := st.Record(ctx, plain, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Confirm(ctx, letter.HashToken("token-b"), lim, nil); err != nil || got.State != letter.SignatureConfirmed {
			t.Fatalf("Confirm(plain) = %+v, %v", got, err)
		}

		// With confirmation off, the signature is held as it is recorded.
		now, msgs := signature("ann@example.org")
		now.Body, now.Edited, now.Hold = "Hers", true, letter.HoldReview
		for i := range msgs {
			msgs[i].State = letter.StateQueued // as letter.Sign makes them
		}
		if _, err := st.Record(ctx, now, msgs, lim, nil); err != nil || now.State != letter.SignatureHeld || msgs[0].State != letter.StateHeld {
			t.Fatalf("Record(edited, no confirmation) = %v, state %s, letters %s", err, now.State, msgs[0].State)
		}
	})
}

// A rejected signature's letters are never sent and their words are
// gone; the signer's details stay, and the address may sign again.
func TestRejectDeletesTheWords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		lim := store.Limits{ConfirmTTL: time.Hour}
		sig, msgs := edited("jane@example.org", "token-a")
		if _, err := st.Record(ctx, sig, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Confirm(ctx, letter.HashToken("token-a"), lim, nil); err != nil {
			t.Fatal(err)
		}
		if n, err := st.RejectSignatures(ctx, []string{sig.ID}); err != nil || n != 1 {
			t.Fatalf("RejectSignatures = %d, %v", n, err)
		}
		if state, ms := states(t, st, sig.ID); state != "rejected" || ms[0] != "rejected" || ms[1] != "rejected" {
			t.Fatalf("after reject: %s %v", state, ms)
		}
		var words, name string
		var wasEdited bool
		st.DB().QueryRow(`SELECT s.subject || s.body || (SELECT MAX(m.subject || m.text) FROM messages m WHERE m.signature_id = s.id), s.first_name, s.edited
			FROM signatures s WHERE s.id = $1`, sig.ID).Scan(&words, &name, &wasEdited)
		if words != "" || name != "Jane" || !wasEdited {
			t.Errorf("after reject: words %q, name %q, edited %v; want no words, the name, edited", words, name, wasEdited)
		}
		if n, err := st.ReleaseSignatures(ctx, []string{sig.ID}, nil); err != nil || n != 0 {
			t.Errorf("releasing a rejected signature = %d, %v", n, err)
		}
		// The same address signs again (past the confirmation mails' throttle).
		again, msgs := signature("jane@example.org")
		if _, err := st.Record(ctx, again, msgs, lim, nil); err != nil {
			t.Fatalf("signing again after a rejection: %v", err)
		}
	})
}

// The export reads every signature once, in time order, across pages and
// ties of time, with each one's letters and their outcomes.
func TestExportReadsEverySignatureOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		const n = 1203 // three pages
		ids := map[string]bool{}
		var failed string
		for i := range n {
			sig, msgs := signature(letter.NewID() + "@example.org")
			if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
				t.Fatal(err)
			}
			ids[sig.ID] = true
			if i == 700 {
				failed = sig.ID
				st.MarkSent(ctx, msgs[0].ID, "<p>")
				st.MarkFailed(ctx, msgs[1].ID, "550 no such mailbox")
			}
		}
		// Half of them at one instant: the page boundary falls inside it.
		then := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		if _, err := st.DB().ExecContext(ctx, `UPDATE signatures SET created_at = $1 WHERE id < '8'`, then); err != nil {
			t.Fatal(err)
		}
		if max, err := st.MaxTargets(ctx); err != nil || max != 2 {
			t.Fatalf("MaxTargets = %d, %v", max, err)
		}
		seen := map[string]bool{}
		var last time.Time
		err := st.Export(ctx, func(sig *letter.Signature, msgs []letter.Message) error {
			if seen[sig.ID] || !ids[sig.ID] {
				t.Fatalf("signature %s exported twice or unknown", sig.ID)
			}
			seen[sig.ID] = true
			if sig.CreatedAt.Before(last) {
				t.Fatalf("out of time order: %v after %v", sig.CreatedAt, last)
			}
			last = sig.CreatedAt
			if sig.Signer.State != "IL" || sig.State != letter.SignatureConfirmed || sig.FirstName != "Jane" || len(msgs) != 2 || msgs[1].TargetIndex != 1 {
				t.Fatalf("exported %+v with %+v", sig, msgs)
			}
			if sig.ID == failed && (msgs[0].State != letter.StateSent || msgs[1].State != letter.StateFailed || msgs[1].Error != "550 no such mailbox") {
				t.Errorf("the failed one's letters: %+v", msgs)
			}
			return nil
		})
		if err != nil || len(seen) != n {
			t.Fatalf("Export: %v, %d of %d signatures", err, len(seen), n)
		}
		stop := errors.New("stop")
		if err := st.Export(ctx, func(*letter.Signature, []letter.Message) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("Export's callback error: %v", err)
		}
	})
}

func TestStats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		now := time.Now().UTC()
		lim := store.Limits{ConfirmTTL: time.Hour}
		record := func(sig *letter.Signature, msgs []letter.Message) {
			t.Helper()
			if _, err := st.Record(ctx, sig, msgs, lim, nil); err != nil {
				t.Fatal(err)
			}
		}
		// Sent (both letters), confirmed with one failed, held for review,
		// unconfirmed, and two from three hours ago.
		sent, msgs := signature("a@example.org")
		sent.Source = "newsletter"
		record(sent, msgs)
		st.MarkSent(ctx, msgs[0].ID, "<1>")
		st.MarkSent(ctx, msgs[1].ID, "<2>")
		half, msgs := signature("b@example.org")
		half.Source = "newsletter"
		record(half, msgs)
		st.MarkFailed(ctx, msgs[1].ID, "550 mailbox full")
		review, msgs := edited("c@example.org", "token-c")
		record(review, msgs)
		if _, err := st.Confirm(ctx, letter.HashToken("token-c"), lim, nil); err != nil {
			t.Fatal(err)
		}
		waiting, msgs := unconfirmed("d@example.org", "token-d")
		waiting.Source = ""
		record(waiting, msgs)
		for _, email := range []string{"e@example.org", "f@example.org"} {
			old, msgs := signature(email)
			old.Source = "x"
			record(old, msgs)
			if _, err := st.DB().ExecContext(ctx, `UPDATE signatures SET created_at = $1 WHERE id = $2`, now.Add(-3*time.Hour), old.ID); err != nil {
				t.Fatal(err)
			}
		}
		now = time.Now().UTC()
		s, err := st.Stats(ctx, now, 48, 10, 10)
		if err != nil {
			t.Fatal(err)
		}
		if s.Signatures != 6 || s.States["sent"] != 1 || s.States["confirmed"] != 3 || s.States["held"] != 1 || s.States["unconfirmed"] != 1 {
			t.Errorf("signatures %d, states %v", s.Signatures, s.States)
		}
		if s.Held[letter.HoldReview] != 1 || len(s.Held) != 1 {
			t.Errorf("held %v", s.Held)
		}
		if s.Letters["sent"] != 2 || s.Letters["failed"] != 1 || s.Letters["held"] != 2 || s.Letters["unconfirmed"] != 2 || s.Letters["queued"] != 5 {
			t.Errorf("letters %v", s.Letters)
		}
		if len(s.PerHour) != 48 || s.PerHour[47].Signatures != 4 || s.PerHour[44].Signatures != 2 || !s.PerHour[47].Hour.Equal(now.Truncate(time.Hour)) {
			t.Errorf("per hour: last %+v, three hours back %+v", s.PerHour[47], s.PerHour[44])
		}
		if len(s.Sources) != 4 || s.Sources[0] != (store.SourceCount{Source: "newsletter", Signatures: 2}) {
			t.Errorf("sources %+v", s.Sources)
		}
		if len(s.Failures) != 1 || s.Failures[0].Reason != "550 mailbox full" || s.Failures[0].Letter != "family-separation" {
			t.Errorf("failures %+v", s.Failures)
		}
	})
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// rowsText is every value of the rows of query, as text.
func rowsText(t *testing.T, st *store.Store, query string, args ...any) string {
	t.Helper()
	rows, err := st.DB().Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if raw, ok := v.([]byte); ok {
				v = string(raw)
			}
			fmt.Fprintf(&b, "%s=%v\n", cols[i], v)
		}
	}
	return b.String()
}

// personal is what identifies the signers in these tests.
var personal = []string{"Jane", "Doe", "@example.org", "Elm", "Springfield", "62701", "555 0100", "My own words"}

// Retention deletes the personal data of old signatures and keeps every
// count: signatures by state, messages by state, the outbox's, the
// targets and their outcomes.
func TestPurgeDeletesPersonalDataAndKeepsCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		defer store.SetRetentionBatch(2)() // several batches
		ctx := context.Background()
		st := open()
		record := func(sig *letter.Signature, msgs []letter.Message, lim store.Limits) {
			t.Helper()
			if _, err := st.Record(ctx, sig, msgs, lim, nil); err != nil {
				t.Fatal(err)
			}
		}
		// Five old signatures whose letters went out; the first edited its
		// letter, was sent a copy, and one of its letters failed.
		var olds []*letter.Signature
		for i := range 5 {
			sig, msgs := signature(fmt.Sprintf("jane%d@example.org", i))
			sig.Phone, sig.UTMCampaign = "217 555 0100", "spring"
			sig.OptInText, sig.OptInLang = "Keep me informed about this campaign by email.", "en"
			for j := range msgs {
				msgs[j].From = "Jane Doe via Families <letters@mg.example>"
				msgs[j].ReplyTo = "Jane Doe <" + sig.Email + ">"
				msgs[j].Text = "Dear Official,\n\nText\n\nJane Doe\n12 Elm St\nSpringfield, IL 62701\n"
			}
			if i == 0 {
				sig.Subject, sig.Body = "My own words", "My own words, from Springfield."
				msgs = append(msgs, letter.Message{ID: sig.ID + ".copy@mg.example", Kind: letter.KindCopy, TargetIndex: -2,
					TargetName: "Jane Doe", TargetEmail: sig.Email, To: sig.Email, From: "letters@mg.example",
					Subject: "Your letter", Text: "Jane Doe, this is the letter you sent.", Tag: "family-separation"})
			}
			record(sig, msgs, store.Limits{})
			for j, m := range msgs {
				if i == 0 && j == 1 {
					st.MarkFailed(ctx, m.ID, "550 no such user official@gov.example")
				} else {
					st.MarkSent(ctx, m.ID, "<mg-"+m.ID+">")
				}
			}
			olds = append(olds, sig)
		}
		// Old ones whose letters still need their data: held past the
		// ceiling, and still queued.
		held, msgs := signature("held@example.org")
		record(held, msgs, store.Limits{Ceiling: 1})
		if held.State != letter.SignatureHeld {
			t.Fatalf("held signature is %s", held.State)
		}
		queued, msgs := signature("queued@example.org")
		record(queued, msgs, store.Limits{})
		// An old attempt never confirmed, and a recent signature.
		attempt, msgs := unconfirmed("attempt@example.org", "token-old")
		record(attempt, msgs, store.Limits{})
		recent, msgs := signature("recent@example.org")
		record(recent, msgs, store.Limits{})
		if _, err := st.DB().Exec(`UPDATE signatures SET created_at = $1 WHERE id <> $2`,
			time.Now().UTC().Add(-400*24*time.Hour), recent.ID); err != nil {
			t.Fatal(err)
		}

		states, _ := st.SignatureStates(ctx)
		counts, _ := st.Counts(ctx)
		sigs, _ := st.SignatureCount(ctx)
		letterRows := rowsText(t, st, `SELECT id, signature_id, kind, target_index, target_name, target_email, to_addr, state,
			provider_id, error, attempts, created_at FROM messages WHERE kind = 'letter' AND state <> 'unconfirmed' ORDER BY id`)

		got, err := st.Purge(ctx, time.Now().Add(-365*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if want := (store.Purged{Signatures: 5, Expired: 1, Kept: 2}); got != want {
			t.Errorf("Purge = %+v, want %+v", got, want)
		}

		var ids []any
		for _, s := range olds {
			ids = append(ids, s.ID)
		}
		in := "$1, $2, $3, $4, $5"
		left := rowsText(t, st, `SELECT * FROM signatures WHERE id IN (`+in+`)`, ids...) +
			rowsText(t, st, `SELECT * FROM messages WHERE signature_id IN (`+in+`)`, ids...)
		for _, p := range personal {
			if strings.Contains(left, p) {
				t.Errorf("purged rows still hold %q:\n%s", p, left)
			}
		}
		if n := strings.Count(left, "email_key=purged#"); n != 5 {
			t.Errorf("%d email keys are purged#<id>, want 5:\n%s", n, left)
		}
		for _, kept := range []string{"opt_in_text=Keep me informed", "opt_in_lang=en", "utm_campaign=spring", "state=IL", "source=test"} {
			if !strings.Contains(left, kept) {
				t.Errorf("purged rows lost %q:\n%s", kept, left)
			}
		}

		// Every count stays; only the attempt moved to expired.
		states2, _ := st.SignatureStates(ctx)
		delete(states, letter.SignatureUnconfirmed)
		states["expired"]++
		if !maps.Equal(states, states2) {
			t.Errorf("signature states %v, want %v", states2, states)
		}
		delete(counts, letter.StateUnconfirmed) // the attempt's
		if counts2, _ := st.Counts(ctx); !maps.Equal(counts, counts2) {
			t.Errorf("message counts %v, want %v", counts2, counts)
		}
		if n, _ := st.SignatureCount(ctx); n != sigs-1 {
			t.Errorf("%d signatures, want %d (less the expired attempt)", n, sigs-1)
		}
		if n, _ := st.Tally(ctx, "family-separation", "expired"); n != 1 {
			t.Errorf("expired tally %d, want 1", n)
		}
		if after := rowsText(t, st, `SELECT id, signature_id, kind, target_index, target_name, target_email, to_addr, state,
			provider_id, error, attempts, created_at FROM messages WHERE kind = 'letter' AND state <> 'unconfirmed' ORDER BY id`); after != letterRows {
			t.Errorf("letters' delivery records changed:\n%s\nwere\n%s", after, letterRows)
		}
		if n, _ := st.PurgedCount(ctx); n != 5 {
			t.Errorf("PurgedCount = %d, want 5", n)
		}

		// What is still needed, or recent, keeps its data.
		for _, s := range []*letter.Signature{held, queued, recent} {
			if text := rowsText(t, st, `SELECT email, reply_to FROM signatures JOIN messages ON messages.signature_id = signatures.id
				WHERE signatures.id = $1`, s.ID); !strings.Contains(text, s.Email) {
				t.Errorf("%s lost its data:\n%s", s.Email, text)
			}
		}
		if n, err := st.Release(ctx, "", 10, nil); err != nil || n != 1 {
			t.Errorf("Release = %d, %v", n, err)
		}

		// The address may sign again; a second purge finds nothing new.
		again, msgs := signature("jane0@example.org")
		if _, err := st.Record(ctx, again, msgs, store.Limits{}, nil); errors.Is(err, letter.ErrDuplicate) || err != nil {
			t.Errorf("signing again after the purge: %v", err)
		}
		if got, err := st.Purge(ctx, time.Now().Add(-365*24*time.Hour)); err != nil || got.Signatures != 0 || got.Expired != 0 {
			t.Errorf("second Purge = %+v, %v", got, err)
		}
	})
}

package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// optIn is a signature's opt-in as stored.
type optIn struct {
	on         bool
	at         time.Time
	text, lang string
}

func storedOptIn(t *testing.T, st *store.Store, id string) optIn {
	t.Helper()
	var o optIn
	var at sql.NullTime
	err := st.DB().QueryRow(`SELECT opt_in, opt_in_at, opt_in_text, opt_in_lang FROM signatures WHERE id = $1`, id).
		Scan(&o.on, &at, &o.text, &o.lang)
	if err != nil {
		t.Fatal(err)
	}
	o.at = at.Time
	return o
}

// withOptIn makes sig opt in, with the words of a page in lang.
func withOptIn(sig *letter.Signature, text, lang string) {
	sig.OptIn, sig.OptInText, sig.OptInLang = true, text, lang
}

func TestOptInKeepsItsTimeWordsAndLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		sig, msgs := signature("jane@example.org")
		withOptIn(sig, "Keep me informed about this campaign by email.", "en")
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		got := storedOptIn(t, st, sig.ID)
		if !got.on || got.text != "Keep me informed about this campaign by email." || got.lang != "en" {
			t.Errorf("stored opt-in %+v", got)
		}
		if got.at.IsZero() || got.at.Sub(sig.CreatedAt).Abs() > time.Second {
			t.Errorf("opt-in time %v, want the signature's %v", got.at, sig.CreatedAt)
		}
		// Read back through the store's own columns, too.
		again, msgs := signature("jane@example.org")
		again.OptIn = false
		first, err := st.Record(ctx, again, msgs, store.Limits{}, nil)
		if !errors.Is(err, letter.ErrDuplicate) || first.OptInText != got.text || first.OptInLang != "en" || first.OptInAt.IsZero() {
			t.Errorf("first signature read back: %+v, %v", first, err)
		}

		none, msgs := signature("john@example.org")
		none.OptIn = false
		if _, err := st.Record(ctx, none, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		if got := storedOptIn(t, st, none.ID); got.on || !got.at.IsZero() || got.text != "" {
			t.Errorf("no opt-in stored as %+v", got)
		}
	})
}

// Without confirmation, a repeat that now opts in records it on the first
// signature; a repeat that does not leaves an opt-in alone.
func TestRepeatThatOptsInRecordsIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		first, msgs := signature("jane@example.org")
		first.OptIn = false
		if _, err := st.Record(ctx, first, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		repeat, msgs := signature("Jane@example.org")
		withOptIn(repeat, "Tenme al tanto de esta campaña.", "es")
		got, err := st.Record(ctx, repeat, msgs, store.Limits{}, nil)
		if !errors.Is(err, letter.ErrDuplicate) || got.ID != first.ID {
			t.Fatalf("repeat: %+v, %v", got, err)
		}
		o := storedOptIn(t, st, first.ID)
		if !o.on || o.text != "Tenme al tanto de esta campaña." || o.lang != "es" || o.at.Sub(repeat.CreatedAt).Abs() > time.Second {
			t.Errorf("after a repeat that opts in: %+v (repeat at %v)", o, repeat.CreatedAt)
		}
		if !got.OptIn || got.OptInLang != "es" {
			t.Errorf("the first signature returned does not show its opt-in: %+v", got)
		}
		if n, _ := st.SignatureCount(ctx); n != 1 {
			t.Errorf("%d signatures, want 1", n)
		}
		// A later repeat with other words and no tick changes nothing.
		later, msgs := signature("jane@example.org")
		later.OptIn = false
		st.Record(ctx, later, msgs, store.Limits{}, nil)
		other, msgs := signature("jane@example.org")
		withOptIn(other, "Other words.", "en")
		st.Record(ctx, other, msgs, store.Limits{}, nil)
		if o2 := storedOptIn(t, st, first.ID); o2 != o {
			t.Errorf("later repeats changed the opt-in: %+v, was %+v", o2, o)
		}
	})
}

// With confirmation, an attempt's opt-in counts only once its signer
// confirms it: whoever types an address cannot subscribe its owner.
func TestUnconfirmedAttemptCannotChangeTheOptIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		lim := store.Limits{ConfirmTTL: time.Hour}
		a, msgs := unconfirmed("jane@example.org", "token-a")
		a.OptIn = false
		if _, err := st.Record(ctx, a, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Confirm(ctx, letter.HashToken("token-a"), lim, nil); err != nil {
			t.Fatal(err)
		}
		// Past the throttle, someone signs again in her name, ticking the box.
		if _, err := st.DB().Exec(`UPDATE confirm_mails SET sent_at = $1`, time.Now().UTC().Add(-11*time.Minute)); err != nil {
			t.Fatal(err)
		}
		b, msgs := unconfirmed("jane@example.org", "token-b")
		withOptIn(b, "Keep me informed about this campaign by email.", "en")
		if _, err := st.Record(ctx, b, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Pending(ctx, letter.HashToken("token-b"), lim.ConfirmTTL); err != nil {
			t.Fatal(err)
		}
		if o := storedOptIn(t, st, a.ID); o.on || o.text != "" || !o.at.IsZero() {
			t.Fatalf("an unconfirmed attempt changed the confirmed signature's opt-in: %+v", o)
		}
		// Her own confirmation of the attempt records it.
		first, err := st.Confirm(ctx, letter.HashToken("token-b"), lim, nil)
		if !errors.Is(err, letter.ErrDuplicate) || first.ID != a.ID {
			t.Fatalf("confirming the repeat: %+v, %v", first, err)
		}
		o := storedOptIn(t, st, a.ID)
		if !o.on || o.text != "Keep me informed about this campaign by email." || o.lang != "en" {
			t.Errorf("after the repeat was confirmed: %+v", o)
		}
		// Its time is when she ticked the box and sent the form.
		var attemptAt time.Time
		st.DB().QueryRow(`SELECT created_at FROM signatures WHERE id = $1`, b.ID).Scan(&attemptAt)
		if o.at.Sub(attemptAt).Abs() > time.Second {
			t.Errorf("opt-in time %v, want the attempt's %v", o.at, attemptAt)
		}
		if states, _ := st.SignatureStates(ctx); states[letter.SignatureConfirmed] != 1 {
			t.Errorf("states %v, want one confirmed signature", states)
		}
	})
}

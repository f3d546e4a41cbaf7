package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

func signature(email string) (*letter.Signature, []letter.Message) {
	sig := &letter.Signature{ID: letter.NewID(), Signer: letter.Signer{
		Letter: "family-separation", FirstName: "Jane", LastName: "Doe", Email: email,
		Address: "12 Elm St", City: "Springfield", State: "IL", Zip: "62701", OptIn: true, Source: "test",
	}}
	var msgs []letter.Message
	for i, to := range []string{"one@gov.example", "two@gov.example"} {
		msgs = append(msgs, letter.Message{
			ID: fmt.Sprintf("%s.%d@mg.example", sig.ID, i), TargetIndex: i, TargetName: "Official", TargetEmail: to, To: to,
			From: "letters@mg.example", ReplyTo: email, Subject: "Subject", Text: "Dear …\n\nText\n", Tag: "family-separation",
		})
	}
	return sig, msgs
}

func TestRecordAndStates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		sig, msgs := signature("jane@example.org")
		got, err := st.Record(ctx, sig, msgs, store.Limits{}, nil)
		if err != nil || got.ID != sig.ID {
			t.Fatalf("Record = %v, %v", got, err)
		}
		stored, err := st.Messages(ctx, sig.ID)
		if err != nil || len(stored) != 2 {
			t.Fatalf("Messages = %v, %v", stored, err)
		}
		if stored[0].State != letter.StateQueued || stored[0].Text != msgs[0].Text || stored[1].TargetEmail != "two@gov.example" {
			t.Fatalf("stored = %+v", stored)
		}

		if err := st.MarkAttempt(ctx, msgs[0].ID, "status 500"); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkSent(ctx, msgs[0].ID, "<mg-1>"); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkFailed(ctx, msgs[1].ID, "status 400: bad address"); err != nil {
			t.Fatal(err)
		}
		// A sent message stays sent, whatever comes after.
		if err := st.MarkFailed(ctx, msgs[0].ID, "late failure"); err != nil {
			t.Fatal(err)
		}
		m0, _ := st.Message(ctx, msgs[0].ID)
		m1, _ := st.Message(ctx, msgs[1].ID)
		if m0.State != letter.StateSent || m0.ProviderID != "<mg-1>" || m0.Attempts != 2 {
			t.Errorf("message 0 = %s %q attempts %d", m0.State, m0.ProviderID, m0.Attempts)
		}
		if m1.State != letter.StateFailed || m1.Error != "status 400: bad address" {
			t.Errorf("message 1 = %s %q", m1.State, m1.Error)
		}
		counts, err := st.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[letter.StateSent] != 1 || counts[letter.StateFailed] != 1 || counts[letter.StateQueued] != 0 {
			t.Errorf("counts = %v", counts)
		}
		failed, err := st.MessagesInState(ctx, letter.StateFailed, 10)
		if err != nil || len(failed) != 1 || failed[0].Error != "status 400: bad address" {
			t.Errorf("failed messages = %+v, %v", failed, err)
		}
		if _, err := st.Message(ctx, "nope@mg.example"); !errors.Is(err, letter.ErrNotFound) {
			t.Errorf("Message(unknown) error = %v", err)
		}
		if err := st.MarkSent(ctx, "nope@mg.example", "x"); !errors.Is(err, letter.ErrNotFound) {
			t.Errorf("MarkSent(unknown) error = %v", err)
		}
	})
}

func TestRecordRepeatSigner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		first, msgs := signature("jane@example.org")
		if _, err := st.Record(ctx, first, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		again, msgs2 := signature("  Jane@EXAMPLE.org")
		got, err := st.Record(ctx, again, msgs2, store.Limits{}, func(store.Tx) error {
			t.Error("the repeat's extra work ran")
			return nil
		})
		if !errors.Is(err, letter.ErrDuplicate) || got == nil || got.ID != first.ID {
			t.Fatalf("repeat: %v, %v; want ErrDuplicate with the first signature", got, err)
		}
		if got.CreatedAt.IsZero() {
			t.Error("the first signature's time is missing")
		}
		if n, _ := st.SignatureCount(ctx); n != 1 {
			t.Errorf("%d signatures, want 1", n)
		}
		if m, _ := st.Messages(ctx, again.ID); len(m) != 0 {
			t.Errorf("the repeat stored %d messages", len(m))
		}
	})
}

func TestRecordRollsBackWhenTheJoinedWorkFails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		sig, msgs := signature("jane@example.org")
		boom := errors.New("enqueue failed")
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, func(store.Tx) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if n, _ := st.SignatureCount(ctx); n != 0 {
			t.Fatalf("%d signatures after a rolled-back record", n)
		}
		// The supporter can then sign again.
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentRecordsOfTheSameSigner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted, dup := 0, 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sig, msgs := signature("same@example.org")
				_, err := st.Record(ctx, sig, msgs, store.Limits{}, nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					accepted++
				case errors.Is(err, letter.ErrDuplicate):
					dup++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if accepted != 1 || dup != 7 {
			t.Fatalf("accepted %d, duplicates %d; want 1 and 7", accepted, dup)
		}
	})
}

func TestMigrationsAreIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		sig, msgs := signature("jane@example.org")
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		again := open() // migrates again over the same database
		if n, err := again.SignatureCount(ctx); err != nil || n != 1 {
			t.Fatalf("after a second migration: %d signatures, %v", n, err)
		}
	})
}

// A database made by the program before schema versions (its first
// tables, with a signature that was sent without confirmation) is brought
// up to date when opened: the signature counts as confirmed, and new
// signatures keep their UTM tags.
func TestMigrationBringsAnOlderDatabaseUpToDate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		old := open()
		ts := "TIMESTAMP"
		if old.Postgres() {
			ts = "TIMESTAMPTZ"
		}
		for _, stmt := range []string{
			`DROP TABLE messages`, `DROP TABLE signatures`, `DROP TABLE schema_version`, `DROP TABLE tallies`, `DROP TABLE client_limits`, `DROP TABLE confirm_mails`,
			`DROP TABLE webhook_tokens`,
			`DROP TABLE send_pace`,
			`CREATE TABLE signatures (id TEXT PRIMARY KEY, letter_id TEXT NOT NULL, email_key TEXT NOT NULL,
				first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT NOT NULL, address TEXT NOT NULL,
				city TEXT NOT NULL, state TEXT NOT NULL, zip TEXT NOT NULL, phone TEXT NOT NULL, opt_in BOOLEAN NOT NULL,
				source TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, created_at ` + ts + ` NOT NULL,
				UNIQUE (letter_id, email_key))`,
			`CREATE TABLE messages (id TEXT PRIMARY KEY, signature_id TEXT NOT NULL REFERENCES signatures (id),
				target_index INTEGER NOT NULL, target_name TEXT NOT NULL, target_email TEXT NOT NULL, to_addr TEXT NOT NULL,
				from_addr TEXT NOT NULL, reply_to TEXT NOT NULL, subject TEXT NOT NULL, text TEXT NOT NULL, tag TEXT NOT NULL,
				state TEXT NOT NULL, provider_id TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',
				attempts INTEGER NOT NULL DEFAULT 0, created_at ` + ts + ` NOT NULL, updated_at ` + ts + ` NOT NULL,
				UNIQUE (signature_id, target_index))`,
			`CREATE INDEX IF NOT EXISTS messages_state ON messages (state)`,
		} {
			if _, err := old.DB().ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		then := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
		if _, err := old.DB().ExecContext(ctx, `INSERT INTO signatures VALUES ('old', 'family-separation', 'ann@example.org',
			'Ann', 'Lee', 'ann@example.org', '1 Oak St', 'Salem', 'OR', '97301', '', false, '', '', '', $1)`, then); err != nil {
			t.Fatal(err)
		}
		old.Close()

		st := open()
		states, err := st.SignatureStates(ctx)
		if err != nil || states[letter.SignatureConfirmed] != 1 {
			t.Fatalf("after migrating: states %v, %v; want the old signature confirmed", states, err)
		}
		// The old signature still holds its address for the letter.
		again, msgs := signature("ann@example.org")
		again.Letter = "family-separation"
		if _, err := st.Record(ctx, again, msgs, store.Limits{}, nil); !errors.Is(err, letter.ErrDuplicate) {
			t.Fatalf("a repeat of the old signature: %v, want a duplicate", err)
		}
		sig, msgs := signature("jane@example.org")
		sig.UTMSource, sig.UTMMedium, sig.UTMCampaign, sig.UTMTerm, sig.UTMContent = "newsletter", "email", "spring", "families", "button"
		sig.Lang = "es" // migration 12: the language signed in
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		again, msgs = signature("jane@example.org")
		first, err := st.Record(ctx, again, msgs, store.Limits{}, nil)
		if !errors.Is(err, letter.ErrDuplicate) {
			t.Fatalf("repeat: %v", err)
		}
		if got := []string{first.UTMSource, first.UTMMedium, first.UTMCampaign, first.UTMTerm, first.UTMContent}; fmt.Sprint(got) != "[newsletter email spring families button]" {
			t.Errorf("stored UTM tags %q", got)
		}
		if first.Lang != "es" {
			t.Errorf("stored language %q, want es", first.Lang)
		}
	})
}

// unconfirmed is an attempt at signing in email's name that waits for
// confirmation, with its token's hash.
func unconfirmed(email, token string) (*letter.Signature, []letter.Message) {
	sig, msgs := signature(email)
	sig.State, sig.TokenHash = letter.SignatureUnconfirmed, letter.HashToken(token)
	for i := range msgs {
		msgs[i].State = letter.StateUnconfirmed
	}
	return sig, msgs
}

// The confirmation lifecycle on both databases: attempts in one name,
// the throttle, the first confirmation wins, the ceiling holds, release,
// expiry.
func TestConfirmationLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		lim := store.Limits{Ceiling: 1, ConfirmTTL: time.Hour}
		backdate := func(d time.Duration) {
			t.Helper()
			if _, err := st.DB().ExecContext(ctx, `UPDATE signatures SET created_at = $1 WHERE sig_state = 'unconfirmed'`, time.Now().UTC().Add(-d)); err != nil {
				t.Fatal(err)
			}
			if _, err := st.DB().ExecContext(ctx, `UPDATE confirm_mails SET sent_at = $1`, time.Now().UTC().Add(-d)); err != nil {
				t.Fatal(err)
			}
		}
		a, msgs := unconfirmed("jane@example.org", "token-a")
		if _, err := st.Record(ctx, a, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		b, msgs := unconfirmed("Jane@Example.org", "token-b")
		if _, err := st.Record(ctx, b, msgs, lim, nil); !errors.Is(err, letter.ErrThrottled) {
			t.Fatalf("a second attempt within ten minutes: %v, want throttled", err)
		}
		backdate(11 * time.Minute)
		if _, err := st.Record(ctx, b, msgs, lim, nil); err != nil {
			t.Fatalf("a second attempt after ten minutes: %v", err)
		}
		// The second attempt is confirmed first: its letters are queued.
		var queued []string
		got, err := st.Confirm(ctx, letter.HashToken("token-b"), lim, func(_ store.Tx, ids []string) error { queued = ids; return nil })
		if err != nil || got.ID != b.ID || got.State != letter.SignatureConfirmed || len(queued) != 2 {
			t.Fatalf("Confirm(b) = %+v, %v, queued %v", got, err, queued)
		}
		if _, err := st.Confirm(ctx, letter.HashToken("token-b"), lim, nil); !errors.Is(err, letter.ErrConfirmed) {
			t.Errorf("confirming b again: %v, want ErrConfirmed", err)
		}
		first, err := st.Confirm(ctx, letter.HashToken("token-a"), lim, nil)
		if !errors.Is(err, letter.ErrDuplicate) || first.ID != b.ID {
			t.Errorf("confirming a after b: %v (%+v), want b as the duplicate's first", err, first)
		}
		if _, err := st.Confirm(ctx, letter.HashToken("nope"), lim, nil); !errors.Is(err, letter.ErrNotFound) {
			t.Errorf("an unknown token: %v", err)
		}
		// Past the ceiling (1 a minute) the next confirmation is held.
		c, msgs := unconfirmed("john@example.org", "token-c")
		if _, err := st.Record(ctx, c, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		got, err = st.Confirm(ctx, letter.HashToken("token-c"), lim, func(store.Tx, []string) error {
			t.Error("a held signature's letters were queued")
			return nil
		})
		if err != nil || got.State != letter.SignatureHeld {
			t.Fatalf("Confirm(c) past the ceiling = %+v, %v", got, err)
		}
		if n, err := st.Release(ctx, "", 10, func(_ store.Tx, ids []string) error { queued = ids; return nil }); err != nil || n != 1 || len(queued) != 2 {
			t.Fatalf("Release = %d, %v, queued %v", n, err, queued)
		}
		// The attempt left unconfirmed expires: deleted, counted.
		d, msgs := unconfirmed("ann@example.org", "token-d")
		if _, err := st.Record(ctx, d, msgs, lim, nil); err != nil {
			t.Fatal(err)
		}
		backdate(2 * time.Hour)
		if _, _, err := st.Pending(ctx, letter.HashToken("token-d"), lim.ConfirmTTL); !errors.Is(err, letter.ErrNotFound) {
			t.Errorf("an expired link: %v", err)
		}
		if n, err := st.Expire(ctx, lim.ConfirmTTL); err != nil || n != 2 { // a and d
			t.Fatalf("Expire = %d, %v; want 2", n, err)
		}
		states, _ := st.SignatureStates(ctx)
		if states[letter.SignatureUnconfirmed] != 0 || states["expired"] != 2 || states[letter.SignatureConfirmed] != 2 {
			t.Errorf("states %v", states)
		}
		var rows int
		st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE signature_id IN ($1, $2)`, a.ID, d.ID).Scan(&rows)
		if rows != 0 {
			t.Errorf("%d messages of expired signatures are left", rows)
		}
	})
}

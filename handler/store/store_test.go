package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

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
		got, err := st.Record(ctx, sig, msgs, nil)
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
		if _, err := st.Record(ctx, first, msgs, nil); err != nil {
			t.Fatal(err)
		}
		again, msgs2 := signature("  Jane@EXAMPLE.org")
		got, err := st.Record(ctx, again, msgs2, func(store.Tx) error {
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
		if _, err := st.Record(ctx, sig, msgs, func(store.Tx) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if n, _ := st.SignatureCount(ctx); n != 0 {
			t.Fatalf("%d signatures after a rolled-back record", n)
		}
		// The supporter can then sign again.
		if _, err := st.Record(ctx, sig, msgs, nil); err != nil {
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
				_, err := st.Record(ctx, sig, msgs, nil)
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
		if _, err := st.Record(ctx, sig, msgs, nil); err != nil {
			t.Fatal(err)
		}
		again := open() // migrates again over the same database
		if n, err := again.SignatureCount(ctx); err != nil || n != 1 {
			t.Fatalf("after a second migration: %d signatures, %v", n, err)
		}
	})
}

// A database made before the UTM columns existed gets them when opened,
// and keeps a signature's UTM tags from then on.
func TestMigrationAddsTheUTMColumnsToAnOlderDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		old := open()
		for _, c := range []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"} {
			if _, err := old.DB().ExecContext(ctx, `ALTER TABLE signatures DROP COLUMN `+c); err != nil {
				t.Fatal(err)
			}
		}
		old.Close()
		st := open()
		sig, msgs := signature("jane@example.org")
		sig.UTMSource, sig.UTMMedium, sig.UTMCampaign, sig.UTMTerm, sig.UTMContent = "newsletter", "email", "spring", "families", "button"
		if _, err := st.Record(ctx, sig, msgs, nil); err != nil {
			t.Fatal(err)
		}
		again, msgs := signature("jane@example.org")
		first, err := st.Record(ctx, again, msgs, nil)
		if !errors.Is(err, letter.ErrDuplicate) {
			t.Fatalf("repeat: %v", err)
		}
		if got := []string{first.UTMSource, first.UTMMedium, first.UTMCampaign, first.UTMTerm, first.UTMContent}; fmt.Sprint(got) != "[newsletter email spring families button]" {
			t.Errorf("stored UTM tags %q", got)
		}
	})
}

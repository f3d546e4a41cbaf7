package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// newSignature is a signature of two letters, queued.
func newSignature(i int) (*letter.Signature, []letter.Message) {
	sig := &letter.Signature{ID: letter.NewID(), State: letter.SignatureConfirmed, Signer: letter.Signer{Letter: "l",
		FirstName: "F", LastName: "L", Email: fmt.Sprintf("s%d-%s@example.org", i, letter.NewID()[24:]),
		Address: "A", City: "C", State: "IL", Zip: "62701"}}
	var msgs []letter.Message
	for t := range 2 {
		id := fmt.Sprintf("%s.%d@mg.example", sig.ID, t)
		msgs = append(msgs, letter.Message{ID: id, TargetIndex: t, TargetName: "T", TargetEmail: target(i, t), To: target(i, t),
			From: "letters@mg.example", ReplyTo: sig.Email, Subject: "S", Text: "Body " + id, Tag: "l",
			Kind: letter.KindLetter, State: letter.StateQueued})
	}
	return sig, msgs
}

// A batch with one bad signature (its message's id is another's) commits
// the others with their delivery jobs: their letters arrive, once.
func TestBatchWithABadSignatureCommitsTheOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		mg := mailguntest.New()
		defer mg.Close()
		q := start(t, st, mg, queue.Options{Workers: 4}, 0)
		var sigs []*letter.Signature
		var msgs [][]letter.Message
		var want []string
		for i := range 5 {
			sig, m := newSignature(i)
			sigs, msgs = append(sigs, sig), append(msgs, m)
		}
		msgs[2][1].ID = msgs[0][1].ID
		for i, m := range msgs {
			if i != 2 {
				want = append(want, m[0].ID, m[1].ID)
			}
		}
		errs := q.RecordTogether(context.Background(), sigs, msgs)
		for i, err := range errs {
			if (err != nil) != (i == 2) {
				t.Errorf("signature %d: %v", i, err)
			}
		}
		counts := waitCounts(t, st, 30*time.Second)
		if counts[letter.StateSent] != len(want) {
			t.Fatalf("counts = %v, want %d sent", counts, len(want))
		}
		assertEachArrivedOnce(t, mg, want)
		if n, _ := st.SignatureCount(context.Background()); n != 4 {
			t.Errorf("%d signatures stored, want 4", n)
		}
	})
}

// Signatures posted while a transaction holds SQLite's one connection are
// committed together once it is free, each caller answered after it, and
// every letter arrives once.
func TestSignaturesArrivingTogetherShareATransaction(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	q := start(t, st, mg, queue.Options{Workers: 4}, 0)
	ctx := context.Background()
	hold, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ids []string
	var answered int
	record := func(i int) {
		sig, m := newSignature(i)
		ids = append(ids, m[0].ID, m[1].ID)
		wg.Go(func() {
			if _, err := q.Record(ctx, sig, m); err != nil {
				t.Error(err)
			}
			mu.Lock()
			answered++
			mu.Unlock()
		})
	}
	waiting := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			sigs, batches := q.Waiting()
			if sigs == want && batches == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d signatures waiting, %d batches committing; want %d and 1", sigs, batches, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// The first batch waits for the connection, the rest for that batch.
	record(0)
	waiting(0)
	for i := 1; i < n; i++ {
		record(i)
	}
	waiting(n - 1)
	mu.Lock()
	if answered != 0 {
		t.Errorf("%d signatures answered before their commit", answered)
	}
	mu.Unlock()
	hold.Rollback()
	wg.Wait()
	if batches, sigs, _ := q.Batches(); batches != 2 || sigs != n {
		t.Errorf("%d signatures in %d batches, want %d in 2", sigs, batches, n)
	}
	waitCounts(t, st, 30*time.Second)
	assertEachArrivedOnce(t, mg, ids)
}

// The email that asks a signer to confirm goes out before the letters
// already waiting: behind them, at a viral peak, it waited for hours.
func TestConfirmationEmailGoesBeforeWaitingLetters(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	if err := queue.Migrate(ctx, st); err != nil {
		t.Fatal(err)
	}
	d := &deliver.Deliverer{Store: st, Log: quiet(), TokenKey: []byte("key"), Sender: mailgun.New(mailgun.Account{
		Domain: "mg.example", APIKey: mg.APIKey, APIBase: mg.APIBase(), Timeout: time.Second,
	})}
	q, err := queue.New(st, d, queue.Options{Workers: 1, PollInterval: 50 * time.Millisecond, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	const letters = 10
	for i := range letters {
		sig, m := newSignature(i)
		if _, err := q.Record(ctx, sig, m); err != nil {
			t.Fatal(err)
		}
	}
	sig, m := newSignature(letters)
	sig.State, sig.TokenHash = letter.SignatureUnconfirmed, "hash"
	for i := range m {
		m[i].State = letter.StateUnconfirmed
	}
	m = append(m, letter.Message{ID: sig.ID + ".confirm@mg.example", TargetIndex: -1, To: sig.Email, From: "letters@mg.example", ReplyTo: "letters@mg.example",
		Subject: "Please confirm", Text: "Open " + letter.TokenPlaceholder, Tag: "l", Kind: letter.KindConfirm, State: letter.StateQueued})
	if _, err := q.Record(ctx, sig, m); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		q.Stop(stopCtx)
	})
	got := mg.WaitFor(2*letters+1, 30*time.Second)
	if len(got) != 2*letters+1 {
		t.Fatalf("%d messages arrived, want %d", len(got), 2*letters+1)
	}
	if to := got[0].Get("to"); to != sig.Email {
		t.Errorf("the first message went to %s, want the confirmation email to %s", to, sig.Email)
	}
}

// Each message queued has one delivery job, whichever way it got there
// (signed, or confirmed, twice at once and once more): the jobs are not
// River-unique, and moving a message to queued happens once.
func TestEachQueuedMessageHasOneDeliveryJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		if err := queue.Migrate(ctx, st); err != nil {
			t.Fatal(err)
		}
		q, err := queue.New(st, &deliver.Deliverer{Store: st, Log: quiet()}, queue.Options{Log: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			sig, m := newSignature(i)
			if _, err := q.Record(ctx, sig, m); err != nil {
				t.Fatal(err)
			}
		}
		sig, m := newSignature(3)
		sig.State, sig.TokenHash = letter.SignatureUnconfirmed, "hash"
		for i := range m {
			m[i].State = letter.StateUnconfirmed
		}
		m = append(m, letter.Message{ID: sig.ID + ".confirm@mg.example", TargetIndex: -1, To: sig.Email, From: "letters@mg.example",
			ReplyTo: "letters@mg.example", Subject: "Please confirm", Text: "Open " + letter.TokenPlaceholder, Tag: "l",
			Kind: letter.KindConfirm, State: letter.StateQueued})
		if _, err := q.Record(ctx, sig, m); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q.Confirm(ctx, "hash")
			}()
		}
		wg.Wait()
		if _, err := q.Confirm(ctx, "hash"); !errors.Is(err, letter.ErrConfirmed) {
			t.Fatalf("confirming again: %v, want letter.ErrConfirmed", err)
		}

		messageID := `json_extract(args, '$.message_id')`
		if st.Postgres() {
			messageID = `args->>'message_id'`
		}
		rows, err := st.DB().QueryContext(ctx, `SELECT `+messageID+`, count(*) FROM river_job WHERE kind = 'deliver_message' GROUP BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		jobs := map[string]int{}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			jobs[id] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		queued, err := st.MessagesInState(ctx, letter.StateQueued, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(queued) != 3*2+1+2 {
			t.Errorf("%d messages queued, want %d (3 signatures' letters, the confirmation email, the confirmed signature's letters)", len(queued), 3*2+1+2)
		}
		for _, msg := range queued {
			if jobs[msg.ID] != 1 {
				t.Errorf("message %s has %d delivery jobs, want 1", msg.ID, jobs[msg.ID])
			}
			delete(jobs, msg.ID)
		}
		if len(jobs) > 0 {
			t.Errorf("delivery jobs for messages not queued: %v", jobs)
		}
	})
}

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

// Each message queued has one delivery job, whichever way it got there:
// signed; confirmed, twice at once and once more; released by id and by
// letter, twice at once each; with and without the inline send of a
// Netlify function. The jobs are not River-unique: moving a message to
// queued happens once, in the transaction that inserts its job.
func TestEachQueuedMessageHasOneDeliveryJob(t *testing.T) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, open func() *store.Store) {
				eachQueuedMessageHasOneDeliveryJob(t, open(), inline)
			})
		})
	}
}

func eachQueuedMessageHasOneDeliveryJob(t *testing.T, st *store.Store, inline bool) {
	ctx := context.Background()
	if err := queue.Migrate(ctx, st); err != nil {
		t.Fatal(err)
	}
	mg := mailguntest.New()
	defer mg.Close()
	d := &deliver.Deliverer{Store: st, Log: quiet(), TokenKey: []byte("key"), Sender: mailgun.New(mailgun.Account{
		Domain: "mg.example", APIKey: mg.APIKey, APIBase: mg.APIBase(), Timeout: time.Second})}
	// Past two signatures a minute the letters are held (the ceiling),
	// for Release to release.
	opts := queue.Options{Log: quiet(), Limits: store.Limits{Ceiling: 2}}
	if inline {
		opts.TryInline = 5 * time.Second
	}
	q, err := queue.New(st, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	twiceAtOnce := func(f func()) {
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f()
			}()
		}
		wg.Wait()
	}
	var sigs []string
	record := func(sig *letter.Signature, m []letter.Message) {
		if _, err := q.Record(ctx, sig, m); err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig.ID)
	}
	sig, m := newSignature(3)
	sig.State, sig.TokenHash = letter.SignatureUnconfirmed, "hash"
	for i := range m {
		m[i].State = letter.StateUnconfirmed
	}
	m = append(m, letter.Message{ID: sig.ID + ".confirm@mg.example", TargetIndex: -1, To: sig.Email, From: "letters@mg.example",
		ReplyTo: "letters@mg.example", Subject: "Please confirm", Text: "Open " + letter.TokenPlaceholder, Tag: "l",
		Kind: letter.KindConfirm, State: letter.StateQueued})
	record(sig, m)
	twiceAtOnce(func() { q.Confirm(ctx, "hash") })
	if _, err := q.Confirm(ctx, "hash"); !errors.Is(err, letter.ErrConfirmed) {
		t.Fatalf("confirming again: %v, want letter.ErrConfirmed", err)
	}
	// The second confirmed signature this minute is queued, the next ones
	// held.
	for i := range 3 {
		record(newSignature(i))
	}

	// Held for an organizer's review, released by id; the rest held past
	// the ceiling, released by letter.
	sig, m = newSignature(4)
	sig.Hold = letter.HoldReview
	record(sig, m)
	twiceAtOnce(func() { q.ReleaseSignatures(ctx, []string{sig.ID}) })
	record(newSignature(5))
	twiceAtOnce(func() { q.Release(ctx, "l", 10) })

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
	want := 3*2 + 1 + 2 + 2*2 // letters signed, the confirmation email, the confirmed letters, the released ones
	moved := 0
	for _, id := range sigs {
		msgs, err := st.Messages(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range msgs {
			if msg.State == letter.StateUnconfirmed || msg.State == letter.StateHeld {
				t.Errorf("message %s is still %s", msg.ID, msg.State)
				continue
			}
			moved++
			if jobs[msg.ID] != 1 {
				t.Errorf("message %s (%s) has %d delivery jobs, want 1", msg.ID, msg.State, jobs[msg.ID])
			}
			delete(jobs, msg.ID)
		}
	}
	if moved != want {
		t.Errorf("%d messages moved past unconfirmed and held, want %d", moved, want)
	}
	if len(jobs) > 0 {
		t.Errorf("delivery jobs for no message: %v", jobs)
	}
	if inline {
		// What was sent at once (not the confirmation email, nor what
		// Release queued for the workers) went once, and is recorded sent.
		got := mg.WaitFor(want, 2*time.Second)
		seen := map[string]bool{}
		for _, r := range got {
			if id := r.Get("h:Message-Id"); seen[id] {
				t.Errorf("%s sent twice", id)
			} else {
				seen[id] = true
			}
		}
		counts, err := st.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || counts[letter.StateSent] != len(got) {
			t.Errorf("%d letters sent inline, %d recorded sent", len(got), counts[letter.StateSent])
		}
	}
}

package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// start runs a queue with workers on st, sending to the stand-in.
// backoffCap is the longest wait between retries (0: the default).
func start(t *testing.T, st *store.Store, mg *mailguntest.Server, opts queue.Options, backoffCap time.Duration) *queue.Queue {
	t.Helper()
	return startWith(context.Background(), t, st, mg, opts, backoffCap)
}

// startWith is start with the context a program would give Start (its
// signal's).
func startWith(ctx context.Context, t *testing.T, st *store.Store, mg *mailguntest.Server, opts queue.Options, backoffCap time.Duration) *queue.Queue {
	t.Helper()
	if err := queue.Migrate(ctx, st); err != nil {
		t.Fatal(err)
	}
	d := &deliver.Deliverer{Store: st, Log: quiet(), BackoffCap: backoffCap, Sender: mailgun.New(mailgun.Account{
		Domain: "mg.example", APIKey: mg.APIKey, APIBase: mg.APIBase(), Timeout: time.Second,
	})}
	opts.Log = quiet()
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	q, err := queue.New(st, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	return q
}

// sign records n signatures of two messages each through q.
func sign(t *testing.T, q *queue.Queue, n int, to func(i, target int) string) []string {
	t.Helper()
	var ids []string
	for i := range n {
		sig := &letter.Signature{ID: letter.NewID(), Signer: letter.Signer{Letter: "l", FirstName: "F", LastName: "L",
			Email: fmt.Sprintf("s%d-%s@example.org", i, letter.NewID()[24:]), Address: "A", City: "C", State: "IL", Zip: "62701"}}
		var msgs []letter.Message
		for target := range 2 {
			id := fmt.Sprintf("%s.%d@mg.example", sig.ID, target)
			ids = append(ids, id)
			msgs = append(msgs, letter.Message{ID: id, TargetIndex: target, TargetName: "T", TargetEmail: to(i, target), To: to(i, target),
				From: "letters@mg.example", ReplyTo: sig.Email, Subject: "S", Text: "Body " + id, Tag: "l"})
		}
		if _, err := q.Record(context.Background(), sig, msgs); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func target(_, t int) string { return fmt.Sprintf("target%d@gov.example", t) }

// waitCounts waits until no message is queued, then returns the counts.
func waitCounts(t *testing.T, st *store.Store, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		counts, err := st.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if counts[letter.StateQueued] == 0 || time.Now().After(deadline) {
			return counts
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEveryLetterArrivesOnceThroughFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		mg := mailguntest.New()
		defer mg.Close()
		// A third of calls fail with 500, a few hang past the client's
		// timeout, and above 40 a second Mailgun answers 429.
		mg.SetBehaviour(mailguntest.Behaviour{FailRate: 0.3, HangRate: 0.05, HangFor: 3 * time.Second, RateLimit: 40})
		q := start(t, st, mg, queue.Options{Workers: 8, JobTimeout: 2 * time.Second}, 300*time.Millisecond)
		ids := sign(t, q, 60, target)

		counts := waitCounts(t, st, 60*time.Second)
		if counts[letter.StateSent] != len(ids) || counts[letter.StateFailed] != 0 {
			t.Fatalf("counts = %v, want all %d sent", counts, len(ids))
		}
		assertEachArrivedOnce(t, mg, ids)
		calls, statuses := mg.Calls()
		if statuses[http.StatusInternalServerError] == 0 {
			t.Errorf("the stand-in never failed (%d calls: %v): the test proves nothing", calls, statuses)
		}
		t.Logf("%d calls to the stand-in: %v", calls, statuses)
	})
}

func TestPermanentFailureIsRecordedAndNotRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		mg := mailguntest.New()
		defer mg.Close()
		mg.SetBehaviour(mailguntest.Behaviour{Reject: "bad@"})
		q := start(t, st, mg, queue.Options{Workers: 2}, 100*time.Millisecond)
		ids := sign(t, q, 1, func(_, t int) string {
			if t == 1 {
				return "bad@gov.example"
			}
			return "good@gov.example"
		})
		counts := waitCounts(t, st, 20*time.Second)
		if counts[letter.StateSent] != 1 || counts[letter.StateFailed] != 1 {
			t.Fatalf("counts = %v, want 1 sent and 1 failed", counts)
		}
		m, err := st.Message(context.Background(), ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if m.State != letter.StateFailed || !strings.Contains(m.Error, "400") || !strings.Contains(m.Error, "not a valid address") {
			t.Fatalf("failed message: state %s, error %q; want Mailgun's reason", m.State, m.Error)
		}
		waitJobsCancelled(t, st, 1) // no job left that could retry it
		if calls, _ := mg.Calls(); calls != 2 {
			t.Fatalf("%d calls, want 2: a 400 must not be retried", calls)
		}
	})
}

func TestRateLimitedSenderSlowsDownAndDelivers(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{RateLimit: 10})
	q := start(t, st, mg, queue.Options{Workers: 8}, 500*time.Millisecond)
	ids := sign(t, q, 15, target)
	counts := waitCounts(t, st, 30*time.Second)
	if counts[letter.StateSent] != len(ids) {
		t.Fatalf("counts = %v", counts)
	}
	calls, statuses := mg.Calls()
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Fatalf("never rate limited (%v): the test proves nothing", statuses)
	}
	// After a 429 every worker waits out Retry-After, so 429s stay few
	// rather than one per attempt of every worker.
	if statuses[http.StatusTooManyRequests] > len(ids) {
		t.Errorf("%d answers 429 for %d messages: the workers did not slow down", statuses[http.StatusTooManyRequests], len(ids))
	}
	t.Logf("%d calls: %v", calls, statuses)
}

func TestSendRateCapsMessagesPerSecond(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	ids := make([]string, 0)
	q := start(t, st, mg, queue.Options{Workers: 8, SendRate: 20}, 0)
	startAt := time.Now()
	ids = append(ids, sign(t, q, 20, target)...)
	msgs := mg.WaitFor(len(ids), 30*time.Second)
	elapsed := time.Since(startAt)
	if len(msgs) != len(ids) {
		t.Fatalf("%d of %d arrived", len(msgs), len(ids))
	}
	// 40 messages at 20 a second cannot take less than 1.95 s (the first
	// goes at once). No upper bound: a slow machine is not a failure.
	if elapsed < 1950*time.Millisecond {
		t.Fatalf("40 messages took %v at a cap of 20/s", elapsed)
	}
}

// failSentUpdates makes the next n updates of a message to "sent" fail, as
// a dropped connection or a locked database would.
func failSentUpdates(t *testing.T, st *store.Store, n int) {
	t.Helper()
	for _, stmt := range []string{
		`CREATE TABLE fail_budget (n INTEGER)`,
		fmt.Sprintf(`INSERT INTO fail_budget VALUES (%d)`, n),
		// RAISE(FAIL) keeps the decrement made before it.
		`CREATE TRIGGER fail_sent BEFORE UPDATE OF state ON messages
		 WHEN NEW.state = 'sent' AND (SELECT n FROM fail_budget) > 0
		 BEGIN UPDATE fail_budget SET n = n - 1; SELECT RAISE(FAIL, 'injected failure'); END`,
	} {
		if _, err := st.DB().Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSentStateFailingOnceIsRetriedWithoutResending(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	q := start(t, st, mg, queue.Options{Workers: 2}, 100*time.Millisecond)
	failSentUpdates(t, st, 1)
	ids := sign(t, q, 1, target)
	counts := waitCounts(t, st, 20*time.Second)
	if counts[letter.StateSent] != 2 {
		t.Fatalf("counts = %v, want both sent", counts)
	}
	waitJobs(t, st, "no job left that could send again", func(n map[string]int) bool {
		return n["available"]+n["running"]+n["retryable"]+n["scheduled"] == 0
	})
	assertEachArrivedOnce(t, mg, ids)
}

// assertArrived checks that each message reached the stand-in once.
func assertArrived(t *testing.T, mg *mailguntest.Server, ids []string) {
	t.Helper()
	arrived := map[string]int{}
	for _, m := range mg.Messages() {
		arrived[strings.Trim(m.Get("h:Message-Id"), "<>")]++
	}
	for _, id := range ids {
		if arrived[id] != 1 {
			t.Errorf("message %s arrived %d times, want once", id, arrived[id])
		}
	}
}

// assertEachArrivedOnce checks that the stand-in got each message exactly
// once, and nothing else.
func assertEachArrivedOnce(t *testing.T, mg *mailguntest.Server, ids []string) {
	t.Helper()
	assertArrived(t, mg, ids)
	if n := len(mg.Messages()); n != len(ids) {
		t.Errorf("%d messages arrived, want %d", n, len(ids))
	}
}

func TestSentButNeverRecordedIsNotSentAgain(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	q := start(t, st, mg, queue.Options{Workers: 2}, 100*time.Millisecond)
	failSentUpdates(t, st, 1000)
	ids := sign(t, q, 1, target)
	if n := len(mg.WaitFor(2, 10*time.Second)); n != 2 {
		t.Fatalf("%d letters arrived, want 2", n)
	}
	// The deliverer retries the record for a few seconds, then gives up
	// without sending again; the job is cancelled, not retried.
	waitJobsCancelled(t, st, 2)
	if n := len(mg.Messages()); n != 2 {
		t.Fatalf("%d letters arrived, want 2: a message Mailgun accepted was sent again", n)
	}
	for _, id := range ids {
		m, err := st.Message(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.State == letter.StateSent {
			t.Fatalf("message %s recorded as sent despite the injected failure: the test proves nothing", id)
		}
	}
}

// waitJobs waits until the count of River jobs by state meets done;
// "held" counts the jobs waiting (available, scheduled or retryable) whose
// time has not come.
func waitJobs(t *testing.T, st *store.Store, what string, done func(map[string]int) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var n map[string]int
	for time.Now().Before(deadline) {
		n = map[string]int{}
		rows, err := st.DB().Query(`SELECT state, scheduled_at FROM river_job`)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for rows.Next() {
			var state string
			var at time.Time
			if err := rows.Scan(&state, &at); err != nil {
				t.Fatal(err)
			}
			n[state]++
			if state != "running" && state != "completed" && state != "cancelled" && state != "discarded" && at.After(now) {
				n["held"]++
			}
		}
		rows.Close()
		if done(n) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("waited 15 s for %s; jobs by state: %v", what, n)
}

// waitJobsCancelled waits until n delivery jobs are cancelled and none is
// left to run.
func waitJobsCancelled(t *testing.T, st *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var cancelled, open int
	for time.Now().Before(deadline) {
		st.DB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE state = 'cancelled'`).Scan(&cancelled)
		st.DB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled')`).Scan(&open)
		if cancelled == n && open == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%d jobs cancelled and %d still open, want %d and 0", cancelled, open, n)
}

// The Netlify sign function's path: a send made inline whose record fails
// cancels its job, so the scheduled run does not send it again.
func TestInlineSendNotRecordedCancelsItsJob(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	q := start(t, st, mg, queue.Options{TryInline: 5 * time.Second}, 0)
	failSentUpdates(t, st, 1000)
	sign(t, q, 1, target)
	if n := len(mg.Messages()); n != 2 {
		t.Fatalf("%d letters sent inline, want 2", n)
	}
	waitJobsCancelled(t, st, 2)
	// A worker now finds nothing of it to send: checked once it has sent a
	// letter recorded after it.
	worker := start(t, st, mg, queue.Options{Workers: 2}, 0)
	later := sign(t, worker, 1, func(_, t int) string { return fmt.Sprintf("later%d@gov.example", t) })
	mg.WaitFor(4, 10*time.Second)
	if n := len(mg.Messages()); n != 4 {
		t.Fatalf("%d letters, want 4 (2 inline, 2 later): an inline send was sent again", n)
	}
	assertArrived(t, mg, later)
}

// A wrong API key holds every worker back (one call, not one per letter)
// and keeps the letters queued until the key is fixed.
func TestWrongKeyHoldsLettersWithoutHammering(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	q := start(t, st, mg, queue.Options{Workers: 8}, time.Second)
	mg.SetAcceptedKey("rotated") // our key is no longer valid
	ids := sign(t, q, 10, target)
	// Every job has had its chance to call Mailgun once each is held back
	// (snoozed to later) rather than due or running.
	waitJobs(t, st, "every job held back", func(n map[string]int) bool { return n["held"] == len(ids) })
	calls, statuses := mg.Calls()
	if statuses[http.StatusUnauthorized] == 0 {
		t.Fatalf("no 401 seen (%v): the test proves nothing", statuses)
	}
	if calls > 8 { // at most the workers already under way when the first 401 came back
		t.Fatalf("%d calls with a refused key for %d letters: every letter hammered Mailgun", calls, len(ids))
	}
	counts, _ := st.Counts(context.Background())
	if counts[letter.StateQueued] != len(ids) {
		t.Fatalf("counts = %v, want every letter still queued", counts)
	}
	mg.SetAcceptedKey(mg.APIKey) // the operator fixes the key
	if counts := waitCounts(t, st, 30*time.Second); counts[letter.StateSent] != len(ids) {
		t.Fatalf("after the fix: %v", counts)
	}
}

// A 429 holds back every worker for its Retry-After, not just the one
// that got it: apart from sends already under way, nothing reaches
// Mailgun until the wait is over.
func TestA429PausesEveryWorker(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{Script: []mailguntest.Answer{{Status: http.StatusTooManyRequests, RetryAfter: "1"}}})
	const workers = 4
	q := start(t, st, mg, queue.Options{Workers: workers, PollInterval: 20 * time.Millisecond}, 0)
	ids := sign(t, q, 6, target)
	if counts := waitCounts(t, st, 30*time.Second); counts[letter.StateSent] != len(ids) {
		t.Fatalf("counts = %v, want all %d sent", counts, len(ids))
	}
	log := mg.Log()
	if log[0].Status != http.StatusTooManyRequests {
		t.Fatalf("first call answered %d: the test proves nothing", log[0].Status)
	}
	soon := 0
	for _, c := range log[1:] {
		if c.At.Sub(log[0].At) < 800*time.Millisecond {
			soon++
		}
	}
	if soon > workers-1 {
		t.Fatalf("%d calls within 800 ms of a 429 with Retry-After: 1 (at most the %d sends already under way may finish)", soon, workers-1)
	}
	assertEachArrivedOnce(t, mg, ids)
}

// After its last attempt a message that kept failing is recorded as
// failed, with the reason, and no longer retried.
func TestGivesUpAfterTheLastAttempt(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{FailRate: 1})
	q := start(t, st, mg, queue.Options{Workers: 2, MaxAttempts: 2}, 100*time.Millisecond)
	ids := sign(t, q, 1, target)
	counts := waitCounts(t, st, 20*time.Second)
	if counts[letter.StateFailed] != 2 {
		t.Fatalf("counts = %v, want both failed", counts)
	}
	for _, id := range ids {
		m, err := st.Message(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Attempts != 2 || !strings.Contains(m.Error, "gave up after 2 attempts") || !strings.Contains(m.Error, "500") {
			t.Errorf("message %s: %d attempts, error %q", id, m.Attempts, m.Error)
		}
	}
	waitJobsCancelled(t, st, 2)
	if calls, _ := mg.Calls(); calls != 4 {
		t.Fatalf("%d calls, want 4 (two attempts per message)", calls)
	}
}

// A stopping process (Ctrl-C, SIGTERM) lets a send in flight finish and
// records it: cut short, it would be tried again after Mailgun took it.
func TestStopLetsSendsInFlightFinish(t *testing.T) {
	st := storetest.OpenSQLite(t, t.TempDir())
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{Delay: 500 * time.Millisecond})
	ctx, signal := context.WithCancel(context.Background())
	q := startWith(ctx, t, st, mg, queue.Options{Workers: 1, PollInterval: 20 * time.Millisecond}, 0)
	ids := sign(t, q, 1, target)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if calls, _ := mg.Calls(); calls > 0 {
			break // a send is under way
		}
		if time.Now().After(deadline) {
			t.Fatal("no send started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	signal()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	m, err := st.Message(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(mg.Messages()) == 0 || m.State != letter.StateSent || m.Attempts != 1 {
		t.Fatalf("after the stop: %d accepted by Mailgun, first message %s after %d attempts; want it sent and recorded once",
			len(mg.Messages()), m.State, m.Attempts)
	}
}

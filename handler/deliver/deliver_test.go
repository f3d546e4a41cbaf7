package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"testing"
	"time"

	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

var testLetter = &letter.Letter{
	ID: "l", Subject: "Subject", Body: "Body from {{city}}.",
	Targets: []letter.Target{
		{Name: "One", Email: "one@gov.example", Salutation: "Dear One,"},
		{Name: "Two", Email: "two@gov.example", Salutation: "Dear Two,"},
	},
}

// signed is one signature's two messages, merged and addressed.
func signed() (*letter.Signature, []letter.Message) {
	s := &letter.Signer{Letter: "l", FirstName: "Ana", LastName: "Ruiz", Email: "ana@example.org", City: "Springfield"}
	return letter.Sign(testLetter, s, letter.Sending{From: mail.Address{Address: "letters@mg.example"}, MessageIDDomain: "mg.example"})
}

func sender(mg *mailguntest.Server) *mailgun.Sender {
	return mailgun.New(mailgun.Account{Domain: "mg.example", APIKey: mg.APIKey, APIBase: mg.APIBase(), Timeout: 5 * time.Second})
}

// recorded stores one signature and returns a deliverer for it.
func recorded(t *testing.T, mg *mailguntest.Server) (*deliver.Deliverer, *store.Store, []letter.Message) {
	t.Helper()
	st := storetest.OpenSQLite(t, t.TempDir())
	sig, msgs := signed()
	if _, err := st.Record(context.Background(), sig, msgs, store.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	d := &deliver.Deliverer{Store: st, Sender: sender(mg), BackoffCap: 10 * time.Second, Log: slog.New(slog.DiscardHandler)}
	return d, st, msgs
}

// TestOneOutcomes: each answer of the mail service becomes one outcome,
// and the message's recorded state says the same.
func TestOneOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		answer    mailguntest.Answer
		attempt   deliver.Attempt
		verdict   deliver.Verdict
		wait      time.Duration // exact, or a bound when waitUpTo
		waitUpTo  bool
		state     string
		errorHint string
	}{
		{"accepted", mailguntest.Answer{Status: 200}, deliver.Attempt{N: 1}, deliver.Sent, 0, false, letter.StateSent, ""},
		{"server error is retried", mailguntest.Answer{Status: 500}, deliver.Attempt{N: 1}, deliver.Retry, 0, false, letter.StateQueued, "500"},
		{"server error on the last attempt fails", mailguntest.Answer{Status: 500}, deliver.Attempt{N: 9, Last: true}, deliver.Failed, 0, false,
			letter.StateFailed, "gave up after 9 attempts"},
		{"unavailable with Retry-After waits as told", mailguntest.Answer{Status: 503, RetryAfter: "7"}, deliver.Attempt{N: 1}, deliver.Retry,
			7 * time.Second, false, letter.StateQueued, "503"},
		{"429 pauses every sender as told", mailguntest.Answer{Status: 429, RetryAfter: "2"}, deliver.Attempt{N: 1}, deliver.Pause,
			2 * time.Second, false, letter.StateQueued, "429"},
		{"429 without Retry-After pauses within the backoff cap", mailguntest.Answer{Status: 429}, deliver.Attempt{N: 20}, deliver.Pause,
			10 * time.Second, true, letter.StateQueued, "429"},
		{"429 on the last attempt still waits, never fails", mailguntest.Answer{Status: 429, RetryAfter: "1"}, deliver.Attempt{N: 9, Last: true},
			deliver.Pause, time.Second, false, letter.StateQueued, "429"},
		{"refused key pauses every sender for the cap", mailguntest.Answer{Status: 401}, deliver.Attempt{N: 1}, deliver.Pause,
			10 * time.Second, false, letter.StateQueued, "401"},
		{"refused message fails at once", mailguntest.Answer{Status: 400}, deliver.Attempt{N: 1}, deliver.Failed, 0, false,
			letter.StateFailed, "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mg := mailguntest.New()
			defer mg.Close()
			mg.SetBehaviour(mailguntest.Behaviour{Script: []mailguntest.Answer{tt.answer}})
			d, st, msgs := recorded(t, mg)
			out := d.One(context.Background(), msgs[0].ID, tt.attempt)
			if out.Verdict != tt.verdict {
				t.Fatalf("verdict %v, want %v (err %v)", out.Verdict, tt.verdict, out.Err)
			}
			if tt.waitUpTo {
				if out.Wait <= 0 || out.Wait > tt.wait {
					t.Errorf("wait %v, want within (0, %v]", out.Wait, tt.wait)
				}
			} else if out.Wait != tt.wait {
				t.Errorf("wait %v, want %v", out.Wait, tt.wait)
			}
			m, err := st.Message(context.Background(), msgs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if m.State != tt.state || m.Attempts != 1 {
				t.Errorf("recorded %s after %d attempts, want %s after 1", m.State, m.Attempts, tt.state)
			}
			if !strings.Contains(m.Error, tt.errorHint) {
				t.Errorf("recorded error %q, want it to mention %q", m.Error, tt.errorHint)
			}
			if tt.verdict == deliver.Sent && !strings.Contains(m.ProviderID, "stand-in") {
				t.Errorf("provider id %q, want the stand-in's", m.ProviderID)
			}
		})
	}
}

// TestOneNeverResendsWhatIsDone: a message sent or given up before is not
// sent again, whoever asks.
func TestOneNeverResendsWhatIsDone(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	d, st, msgs := recorded(t, mg)
	ctx := context.Background()
	if err := st.MarkSent(ctx, msgs[0].ID, "earlier"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFailed(ctx, msgs[1].ID, "refused earlier"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{msgs[0].ID, msgs[1].ID, "unknown.0@mg.example"} {
		if out := d.One(ctx, id, deliver.Attempt{N: 2}); out.Verdict != deliver.Skipped {
			t.Errorf("%s: verdict %v, want skipped", id, out.Verdict)
		}
	}
	if calls, _ := mg.Calls(); calls != 0 {
		t.Fatalf("%d calls to Mailgun for messages already done", calls)
	}
	if m, _ := st.Message(ctx, msgs[0].ID); m.State != letter.StateSent || m.ProviderID != "earlier" {
		t.Errorf("the sent message became %s (%s)", m.State, m.ProviderID)
	}
}

// TestOneSendsExactlyWhatWasRecorded: the wire carries the recorded
// recipient, sender, reply address, subject, text, tag and Message-Id.
func TestOneSendsExactlyWhatWasRecorded(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	d, _, msgs := recorded(t, mg)
	if out := d.One(context.Background(), msgs[1].ID, deliver.Attempt{N: 1}); out.Verdict != deliver.Sent {
		t.Fatalf("verdict %v: %v", out.Verdict, out.Err)
	}
	got := mg.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages arrived", len(got))
	}
	m := msgs[1]
	for field, want := range map[string]string{"to": m.To, "from": m.From, "h:Reply-To": m.ReplyTo, "subject": m.Subject,
		"text": m.Text, "o:tag": m.Tag, "h:Message-Id": "<" + m.ID + ">"} {
		if got[0].Get(field) != want {
			t.Errorf("%s = %q, want %q", field, got[0].Get(field), want)
		}
	}
	if !strings.HasPrefix(m.Text, "Dear Two,\n\nBody from Springfield.") {
		t.Errorf("text %q is not the second target's copy", m.Text)
	}
}

func TestDirectTriesThreeTimesThenSucceeds(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{Script: []mailguntest.Answer{{Status: 500}, {Status: 502}}})
	sig, msgs := signed()
	d := &deliver.Direct{Sender: sender(mg), Backoff: time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	if _, err := d.Record(context.Background(), sig, msgs); err != nil {
		t.Fatalf("two failures then success: %v", err)
	}
	if n := len(mg.Messages()); n != 2 {
		t.Fatalf("%d letters arrived, want 2", n)
	}
	if calls, _ := mg.Calls(); calls != 4 {
		t.Fatalf("%d calls, want 4 (3 for the first letter, 1 for the second)", calls)
	}
}

func TestDirectReportsWhatItCouldNotSend(t *testing.T) {
	tests := []struct {
		name      string
		behaviour mailguntest.Behaviour
		calls     int
	}{
		{"Mailgun down: three tries each", mailguntest.Behaviour{FailRate: 1}, 6},
		{"refused message: no retry", mailguntest.Behaviour{Reject: "gov.example"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mg := mailguntest.New()
			defer mg.Close()
			mg.SetBehaviour(tt.behaviour)
			sig, msgs := signed()
			d := &deliver.Direct{Sender: sender(mg), Backoff: time.Millisecond, Log: slog.New(slog.DiscardHandler)}
			_, err := d.Record(context.Background(), sig, msgs)
			var se *letter.SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want the send errors reported", err)
			}
			for _, m := range msgs {
				if !strings.Contains(err.Error(), m.ID) {
					t.Errorf("the error does not name message %s: %v", m.ID, err)
				}
			}
			if calls, _ := mg.Calls(); calls != tt.calls {
				t.Errorf("%d calls, want %d", calls, tt.calls)
			}
		})
	}
}

// TestBackoffDoublesToItsCap: 1 s doubling, jittered between half and all,
// never above the cap.
func TestBackoffDoublesToItsCap(t *testing.T) {
	for attempt, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 7: 30 * time.Second, 100: 30 * time.Second} {
		for range 50 {
			if d := deliver.Backoff(30*time.Second, attempt); d < full/2 || d > full {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	if d := deliver.Backoff(0, 1); d <= 0 {
		t.Fatalf("no cap: %v, want the default", d)
	}
}

// A Mailgun that hangs cannot hold a direct send past its budget: the
// supporter is answered (letter not sent) in time.
func TestDirectKeepsToItsBudget(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{HangRate: 1, HangFor: time.Minute})
	sig, msgs := signed()
	d := &deliver.Direct{Sender: sender(mg), Budget: 300 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	done := make(chan error, 1)
	go func() {
		_, err := d.Record(context.Background(), sig, msgs)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a send that never got an answer was reported as sent")
		}
	case <-time.After(15 * time.Second): // 50 times the budget
		t.Fatal("a direct send held on past its budget")
	}
}

// Without a configured cap the policy still waits: a refused key must not
// turn into a loop of calls.
func TestClassifyWithoutACapUsesAMinute(t *testing.T) {
	refused := &letter.SendError{Refused: true, Err: errors.New("401")}
	if out := deliver.Classify(refused, deliver.Attempt{N: 1}, 0); out.Verdict != deliver.Pause || out.Wait != time.Minute {
		t.Fatalf("refused without a cap: %v for %v, want a pause of a minute", out.Verdict, out.Wait)
	}
	limited := &letter.SendError{RateLimited: true, Err: errors.New("429")}
	if out := deliver.Classify(limited, deliver.Attempt{N: 40}, 0); out.Wait < 30*time.Second || out.Wait > time.Minute {
		t.Fatalf("rate limited without a cap on attempt 40: wait %v, want within [30 s, 1 min]", out.Wait)
	}
}

// A passing database error while recording "sent" is retried at once,
// within the record budget: the letter counts as sent, not as unrecorded.
func TestOneRetriesRecordingTheSentState(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	d, st, msgs := recorded(t, mg)
	d.Log = nil // the default logger serves
	for _, stmt := range []string{
		`CREATE TABLE fail_budget (n INTEGER)`, `INSERT INTO fail_budget VALUES (1)`,
		`CREATE TRIGGER fail_sent BEFORE UPDATE OF state ON messages
		 WHEN NEW.state = 'sent' AND (SELECT n FROM fail_budget) > 0
		 BEGIN UPDATE fail_budget SET n = n - 1; SELECT RAISE(FAIL, 'injected failure'); END`,
	} {
		if _, err := st.DB().Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if out := d.One(context.Background(), msgs[0].ID, deliver.Attempt{N: 1}); out.Verdict != deliver.Sent {
		t.Fatalf("verdict %v (%v), want sent", out.Verdict, out.Err)
	}
	if took := time.Since(start); took >= deliver.RecordBudget {
		t.Errorf("one failed record took %v: the retry waited out the whole budget", took)
	}
	if m, _ := st.Message(context.Background(), msgs[0].ID); m.State != letter.StateSent {
		t.Fatalf("recorded %s, want sent", m.State)
	}
	if calls, _ := mg.Calls(); calls != 1 {
		t.Fatalf("%d calls, want 1", calls)
	}
}

// Between tries a direct send waits (300 ms, then 600 ms by default), so
// that a passing failure has time to pass.
func TestDirectWaitsBetweenTries(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{FailRate: 1})
	one := *testLetter
	one.Targets = one.Targets[:1]
	s := &letter.Signer{Letter: "l", FirstName: "A", LastName: "B", Email: "a@example.org"}
	sig, msgs := letter.Sign(&one, s, letter.Sending{From: mail.Address{Address: "letters@mg.example"}, MessageIDDomain: "mg.example"})
	d := &deliver.Direct{Sender: sender(mg)} // default tries, waits and logger
	start := time.Now()
	if _, err := d.Record(context.Background(), sig, msgs); err == nil {
		t.Fatal("a failing send reported as sent")
	}
	if took := time.Since(start); took < 850*time.Millisecond {
		t.Fatalf("three tries took %v, want at least the 300 + 600 ms between them", took)
	}
	if calls, _ := mg.Calls(); calls != 3 {
		t.Fatalf("%d calls, want 3", calls)
	}
}

func TestSpreadAddsUpToAQuarter(t *testing.T) {
	for range 100 {
		if d := deliver.Spread(4 * time.Second); d < 4*time.Second || d > 5*time.Second {
			t.Fatalf("spread of 4 s: %v, want within [4 s, 5 s]", d)
		}
	}
}

// The operator's log says which attempt each send was and whether it was
// the last; it never names the supporter.
func TestOneLogsEachAttempt(t *testing.T) {
	for _, tt := range []struct {
		answer int
		want   string
	}{
		{200, `msg="message sent" message=%s attempt=1`},
		{500, `msg="send failed" message=%s attempt=1 failed=false`},
		{400, `msg="send failed" message=%s attempt=1 failed=true`},
	} {
		mg := mailguntest.New()
		mg.SetBehaviour(mailguntest.Behaviour{Script: []mailguntest.Answer{{Status: tt.answer}}})
		d, _, msgs := recorded(t, mg)
		var log strings.Builder
		d.Log = slog.New(slog.NewTextHandler(&log, nil))
		d.One(context.Background(), msgs[0].ID, deliver.Attempt{N: 1})
		mg.Close()
		if want := fmt.Sprintf(tt.want, msgs[0].ID); !strings.Contains(log.String(), want) {
			t.Errorf("answer %d: log lacks %q:\n%s", tt.answer, want, log.String())
		}
		if strings.Contains(log.String(), "ana@example.org") || strings.Contains(log.String(), "Ruiz") {
			t.Errorf("the log names the supporter:\n%s", log.String())
		}
	}
}

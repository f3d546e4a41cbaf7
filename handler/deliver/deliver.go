// Package deliver is the send policy: it sends one recorded message
// through a Sender, records the outcome in the store, and says what the
// caller (the queue, or a direct send) should do next.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
)

// Sender sends one message exactly as recorded and returns the mail
// service's id for it. Its errors are *letter.SendError when the service
// said why.
type Sender interface {
	Send(ctx context.Context, m *letter.Message) (string, error)
}

// Verdict is what became of one attempt.
type Verdict int

const (
	// Sent: the service accepted the message and it is recorded as sent.
	Sent Verdict = iota
	// Skipped: nothing to do; the message was sent or given up before, or
	// no longer exists.
	Skipped
	// Unrecorded: the service accepted the message but its sent state
	// could not be saved. It must never be sent again.
	Unrecorded
	// Retry this message after Wait (zero: the caller's own backoff).
	Retry
	// Pause every sender for Wait, then retry this message: the service
	// is overloaded, or refuses our key, domain or region.
	Pause
	// Failed: given up, recorded as failed with the service's reason.
	Failed
)

// Outcome is what one attempt came to.
type Outcome struct {
	Verdict Verdict
	// Wait before the next attempt (Retry, Pause).
	Wait time.Duration
	// Err is why the send failed, or why the sent state was not saved.
	Err error
}

// Deliverer sends messages from the store.
type Deliverer struct {
	Store  *store.Store
	Sender Sender
	// BackoffCap is the longest wait between retries (default 1 minute).
	BackoffCap time.Duration
	// TokenKey makes the links of confirmation emails as they are sent
	// (letter.Message.Expand).
	TokenKey []byte
	Log      *slog.Logger
}

// Attempt numbers an attempt at a message.
type Attempt struct {
	// N counts from 1.
	N int
	// Last is set when no further attempt will be made: a failure that
	// could be retried is then recorded as failed.
	Last bool
}

// One sends the message with this id unless it was already sent or given
// up, and records the outcome.
func (d *Deliverer) One(ctx context.Context, id string, a Attempt) Outcome {
	m, err := d.Store.Message(ctx, id)
	if errors.Is(err, letter.ErrNotFound) {
		return Outcome{Verdict: Skipped}
	}
	if err != nil {
		return Outcome{Verdict: Retry, Err: fmt.Errorf("deliver: %w", err)}
	}
	if m.State != letter.StateQueued {
		return Outcome{Verdict: Skipped}
	}
	var providerID string
	text, sendErr := m.Expand(d.TokenKey)
	if sendErr == nil {
		m.Text = text
		providerID, sendErr = d.Sender.Send(ctx, m)
	}
	if sendErr == nil {
		// Once the service accepted the message, its record must not be
		// lost to a cancelled request or a passing database error: a
		// message still marked queued would be sent again.
		if err := d.markSent(context.WithoutCancel(ctx), id, providerID); err != nil {
			d.log().Error("sent but not recorded: the message stays queued and is not sent again",
				"message", id, "error", err.Error())
			return Outcome{Verdict: Unrecorded, Err: err}
		}
		d.log().Info("message sent", "message", id, "attempt", m.Attempts+1)
		return Outcome{Verdict: Sent}
	}
	out := Classify(sendErr, a, d.BackoffCap)
	mark := d.Store.MarkAttempt
	reason := sendErr.Error()
	if out.Verdict == Failed {
		mark = d.Store.MarkFailed
		if !IsPermanent(sendErr) {
			reason = fmt.Sprintf("gave up after %d attempts: %v", a.N, sendErr)
		}
	}
	if err := mark(context.WithoutCancel(ctx), id, reason); err != nil {
		// The state could not be saved: try again later, whatever the verdict.
		return Outcome{Verdict: Retry, Err: errors.Join(sendErr, err)}
	}
	d.log().Warn("send failed", "message", id, "attempt", m.Attempts+1, "failed", out.Verdict == Failed,
		"error", sendErr.Error())
	return out
}

// Classify is the one policy for a failed send: a message the service
// refuses fails at once; an overloaded service or a refused key pauses
// every sender; anything else is retried until the last attempt.
func Classify(err error, a Attempt, backoffCap time.Duration) Outcome {
	if backoffCap <= 0 {
		backoffCap = time.Minute
	}
	var se *letter.SendError
	errors.As(err, &se)
	switch {
	case se != nil && se.Permanent:
		return Outcome{Verdict: Failed, Err: err}
	case se != nil && se.RateLimited:
		wait := se.RetryAfter
		if wait <= 0 {
			wait = Backoff(backoffCap, a.N)
		}
		return Outcome{Verdict: Pause, Wait: wait, Err: err}
	case se != nil && se.Refused:
		// Every send would fail alike until the operator fixes the key or
		// domain: hold every sender back, and keep the letter waiting.
		return Outcome{Verdict: Pause, Wait: backoffCap, Err: err}
	case a.Last:
		return Outcome{Verdict: Failed, Err: err}
	case se != nil && se.RetryAfter > 0:
		return Outcome{Verdict: Retry, Wait: se.RetryAfter, Err: err}
	}
	return Outcome{Verdict: Retry, Err: err}
}

// IsPermanent reports whether err is a send error that retrying cannot fix.
func IsPermanent(err error) bool {
	var se *letter.SendError
	return errors.As(err, &se) && se.Permanent
}

// Backoff is the wait before retry n (1-based): 1 s doubling to the cap,
// then between half and all of it, so that senders do not retry in step.
// Letters are timely, so the wait never passes the cap.
func Backoff(cap time.Duration, attempt int) time.Duration {
	if cap <= 0 {
		cap = time.Minute
	}
	d := cap
	if n := max(attempt-1, 0); n < 30 { // beyond, the shift overflows: the cap it is
		d = min(cap, time.Second<<n)
	}
	return d/2 + rand.N(d/2+1)
}

// Spread is d plus up to a quarter more, at random: waits that end
// together (every job held back by one pause) end apart.
func Spread(d time.Duration) time.Duration {
	return d + rand.N(d/4+1)
}

// RecordBudget bounds how long recording a sent message may take, retries
// included: a send's attempt lasts at most its HTTP timeout plus this.
const RecordBudget = 3 * time.Second

// markSent records the sent state, retrying within RecordBudget.
func (d *Deliverer) markSent(ctx context.Context, id, providerID string) error {
	ctx, cancel := context.WithTimeout(ctx, RecordBudget)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := d.Store.MarkSent(ctx, id, providerID)
		if err == nil || errors.Is(err, letter.ErrNotFound) {
			return err
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-ctx.Done():
			return err
		}
	}
}

func (d *Deliverer) log() *slog.Logger {
	if d.Log == nil {
		return slog.Default()
	}
	return d.Log
}

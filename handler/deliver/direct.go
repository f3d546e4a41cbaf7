package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"campaignkit/handler/letter"
)

// Direct sends each message at once, with a few quick retries, and keeps
// no record: the mode of a Netlify function without a database. It cannot
// promise what the queue does: a letter whose retries all fail is not sent
// (the supporter is told so), a repeat signer is not recognised, and
// organizers see nothing of it but Mailgun's own logs.
type Direct struct {
	Sender Sender
	// Attempts per message (default 3), Backoff before the second (doubling).
	Attempts int
	Backoff  time.Duration
	// Budget bounds the whole of one Record, every message and attempt
	// included, so that the supporter is answered in time (zero: none).
	Budget time.Duration
	Log    *slog.Logger
}

// Record sends every message now; it fails if any could not be sent.
func (d *Direct) Record(ctx context.Context, sig *letter.Signature, msgs []letter.Message) (*letter.Signature, error) {
	attempts, backoff := d.Attempts, d.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = 300 * time.Millisecond
	}
	if d.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Budget)
		defer cancel()
	}
	var errs []error
	for i := range msgs {
		var err error
	tries:
		for a := 1; a <= attempts; a++ {
			if _, err = d.Sender.Send(ctx, &msgs[i]); err == nil {
				break
			}
			out := Classify(err, Attempt{N: a, Last: a == attempts}, backoff)
			if out.Verdict == Failed || a == attempts {
				break
			}
			// Waits are short here: a supporter is waiting for the answer.
			select {
			case <-time.After(min(max(out.Wait, backoff<<(a-1)), 2*time.Second)):
			case <-ctx.Done():
				err = errors.Join(err, ctx.Err())
				break tries
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("deliver: message %s: %w", msgs[i].ID, err))
		}
	}
	if len(errs) > 0 {
		d.log().Error("direct send failed", "messages", len(errs), "error", errors.Join(errs...).Error())
	}
	return sig, errors.Join(errs...)
}

func (d *Direct) log() *slog.Logger {
	if d.Log == nil {
		return slog.Default()
	}
	return d.Log
}

package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
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
	Log      *slog.Logger
}

// Record sends every message now; it fails if any could not be sent.
func (d *Direct) Record(ctx context.Context, sig *store.Signature, msgs []store.Message) (*store.Signature, error) {
	attempts, backoff := d.Attempts, d.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = 300 * time.Millisecond
	}
	var errs []error
	for i := range msgs {
		e := Envelope(&msgs[i])
		var err error
		for a := 1; a <= attempts; a++ {
			if _, err = d.Sender.Send(ctx, e); err == nil || letter.IsPermanent(err) {
				break
			}
			if a < attempts {
				select {
				case <-time.After(backoff << (a - 1)):
				case <-ctx.Done():
					err = errors.Join(err, ctx.Err())
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("deliver: message %s: %w", msgs[i].ID, err))
		}
	}
	return sig, errors.Join(errs...)
}

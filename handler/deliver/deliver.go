// Package deliver sends recorded messages through a Sender and records
// each outcome in the store.
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

// Sender sends one envelope and returns the mail service's id for it.
type Sender interface {
	Send(ctx context.Context, e letter.Envelope) (string, error)
}

// Deliverer sends messages from the store.
type Deliverer struct {
	Store  *store.Store
	Sender Sender
	Log    *slog.Logger
}

// ErrSentNotRecorded is returned when the mail service accepted a message
// but its state could not be saved. The message must not be sent again.
var ErrSentNotRecorded = errors.New("deliver: sent, but the sent state could not be recorded")

// Envelope is what goes on the wire for m: exactly what was recorded.
func Envelope(m *store.Message) letter.Envelope {
	return letter.Envelope{
		MessageID: m.ID, From: m.From, ReplyTo: m.ReplyTo, To: m.To,
		Subject: m.Subject, Text: m.Text, Tag: m.Tag,
	}
}

// One sends the message with this id unless it was already sent or given
// up, and records the outcome. A returned error means the send failed; it is a
// *letter.SendError when the mail service said why.
func (d *Deliverer) One(ctx context.Context, id string) error {
	m, err := d.Store.Message(ctx, id)
	if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	if m.State != store.StateQueued {
		return nil
	}
	providerID, sendErr := d.Sender.Send(ctx, Envelope(m))
	if sendErr == nil {
		// Once the service accepted the message, its record must not be
		// lost to a cancelled request or a passing database error: a
		// message still marked queued would be sent again.
		if err := d.markSent(context.WithoutCancel(ctx), id, providerID); err != nil {
			d.log().Error("sent but not recorded: the message stays queued and is not sent again",
				"message", id, "error", err.Error())
			return fmt.Errorf("%w: %w", ErrSentNotRecorded, err)
		}
		d.log().Info("message sent", "message", id, "attempt", m.Attempts+1)
		return nil
	}
	mark := d.Store.MarkAttempt
	if letter.IsPermanent(sendErr) {
		mark = d.Store.MarkFailed
	}
	if err := mark(context.WithoutCancel(ctx), id, sendErr.Error()); err != nil {
		return errors.Join(sendErr, err)
	}
	d.log().Warn("send failed", "message", id, "attempt", m.Attempts+1, "permanent", letter.IsPermanent(sendErr),
		"error", sendErr.Error())
	return sendErr
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
		if err == nil || errors.Is(err, store.ErrNotFound) {
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

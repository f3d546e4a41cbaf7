// Package deliver sends recorded messages through a Sender and records
// each outcome in the store.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	// SandboxTo, when set, receives every letter instead of its target.
	SandboxTo string
	Log       *slog.Logger
}

// Envelope is what goes on the wire for m: to its target, or to
// sandboxTo when set.
func Envelope(m *store.Message, sandboxTo string) letter.Envelope {
	to := m.TargetEmail
	if m.TargetName != "" {
		to = formatAddress(m.TargetName, m.TargetEmail)
	}
	if sandboxTo != "" {
		to = sandboxTo
	}
	return letter.Envelope{
		MessageID: m.ID, From: m.From, ReplyTo: m.ReplyTo, To: to,
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
	providerID, sendErr := d.Sender.Send(ctx, Envelope(m, d.SandboxTo))
	if sendErr == nil {
		// Use a fresh context: once the service accepted the message, the
		// record of it must not be lost to a cancelled request.
		if err := d.Store.MarkSent(context.WithoutCancel(ctx), id, providerID); err != nil {
			return fmt.Errorf("deliver: sent but not recorded: %w", err)
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

func (d *Deliverer) log() *slog.Logger {
	if d.Log == nil {
		return slog.Default()
	}
	return d.Log
}

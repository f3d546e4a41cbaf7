package letter

import "errors"

// DeliveryEvent is the mail service's word on one of our messages, from
// its webhooks: what truly became of it after the service accepted it.
type DeliveryEvent struct {
	// MessageID is our Message-Id, without angle brackets.
	MessageID string
	// State is where the message moves: StateDelivered, StateFailed (a
	// permanent failure) or StateComplained. Empty for an event that
	// changes no state (a temporary failure, which the service retries).
	State string
	// Reason is why a message failed, in the service's words.
	Reason string
}

// ErrReplayed is returned for a webhook event whose token was seen
// before: a replay, whoever sends it.
var ErrReplayed = errors.New("this event was received before")

// MovesFrom lists the states a message may leave for state on the mail
// service's word, so that no event moves it backwards and loses what is
// known:
//   - delivered: from queued (the service took it but recording "sent"
//     failed; settling it stops a second send), sent, or failed (we gave
//     up after a timeout the service had in fact accepted);
//   - failed: from queued or sent, and from delivered: the service only
//     reports a permanent failure after a delivery for a late bounce, when
//     the target's server took the letter and then returned it;
//   - complained: from any of those, since a complaint means it arrived.
//
// Nothing leaves complained: a late "delivered" says less. Unconfirmed and
// held messages were never handed to the service and never move.
func MovesFrom(state string) []string {
	switch state {
	case StateDelivered:
		return []string{StateQueued, StateSent, StateFailed}
	case StateFailed:
		return []string{StateQueued, StateSent, StateDelivered}
	case StateComplained:
		return []string{StateQueued, StateSent, StateDelivered, StateFailed}
	}
	return nil
}

// MaxReason caps the service's words kept for a failure.
const MaxReason = 500

// FailureReason is the service's words on a failure as kept: one line,
// without control or hidden characters, at most MaxReason characters. It
// is shown to organizers, in a terminal too.
func FailureReason(words string) string { return cleanText(words, MaxReason) }

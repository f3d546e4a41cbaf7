package handler

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"campaignkit/handler/letter"
)

// Events records what the mail service says became of our messages (the
// store). DeliveryEvent takes each webhook's token once, by its hash: it
// returns letter.ErrReplayed for a token seen before and
// letter.ErrNotFound for a message not ours, and reports whether the
// message moved.
type Events interface {
	DeliveryEvent(ctx context.Context, tokenHash string, ev letter.DeliveryEvent) (bool, error)
}

// MailgunEventsPath is where Mailgun posts its webhooks.
const MailgunEventsPath = "/api/mailgun/events"

// MaxEventBytes caps a webhook's body; Mailgun's events are a few KB.
const MaxEventBytes = 64 << 10

// WebhookSkew is how far a webhook's timestamp may be from our clock.
const WebhookSkew = 5 * time.Minute

// mailgunEvent is the part of Mailgun's webhook payload we read.
type mailgunEvent struct {
	Signature struct {
		// Timestamp is signed as sent; Mailgun sends it as a string, its
		// documentation says a number: json.Number keeps either verbatim.
		Timestamp json.Number `json:"timestamp"`
		Token     string      `json:"token"`
		Signature string      `json:"signature"`
	} `json:"signature"`
	Data struct {
		Event    string `json:"event"`
		Severity string `json:"severity"`
		Reason   string `json:"reason"`
		Status   struct {
			Code        int    `json:"code"`
			Message     string `json:"message"`
			Description string `json:"description"`
		} `json:"delivery-status"`
		Message struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
	} `json:"event-data"`
}

// mailgunEvents takes Mailgun's webhook: it verifies the signature, the
// timestamp and that the token is new, then moves the message named by
// our Message-Id. Forged, stale and replayed events get 406, which tells
// Mailgun not to retry; a passing failure of ours gets 5xx, which it
// retries. Nothing of the event but its message id and kind is logged.
func (h *handler) mailgunEvents(w http.ResponseWriter, r *http.Request) {
	if len(h.cfg.WebhookSigningKey) == 0 {
		// Never take an event unsigned: without the key there is no endpoint.
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Mailgun posts its events here.", http.StatusMethodNotAllowed)
		return
	}
	if h.cfg.Events == nil {
		http.Error(w, "Delivery events need a database: set DATABASE_URL.", http.StatusServiceUnavailable)
		return
	}
	var e mailgunEvent
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxEventBytes)).Decode(&e); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "The event is too large.", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "The event is not Mailgun's webhook JSON.", http.StatusBadRequest)
		return
	}
	if !h.signedByMailgun(e.Signature.Timestamp.String(), e.Signature.Token, e.Signature.Signature) {
		h.refuseEvent(w, "forged", "The signature does not verify.")
		return
	}
	ts, err := e.Signature.Timestamp.Int64()
	if d := h.cfg.Now().Sub(time.Unix(ts, 0)); err != nil || d > WebhookSkew || d < -WebhookSkew {
		h.refuseEvent(w, "stale", "The timestamp is more than 5 minutes from our clock.")
		return
	}

	ev := letter.DeliveryEvent{MessageID: messageID(e.Data.Message.Headers.MessageID)}
	switch d := e.Data; {
	case d.Event == "delivered":
		ev.State = letter.StateDelivered
	case d.Event == "complained":
		ev.State = letter.StateComplained
	case d.Event == "failed" && d.Severity == "permanent":
		ev.State = letter.StateFailed
		ev.Reason = failureReason(d.Reason, d.Status.Code, d.Status.Message, d.Status.Description)
	}
	if ev.MessageID == "" {
		ev.State = "" // only the token is recorded
	}
	moved, err := h.cfg.Events.DeliveryEvent(r.Context(), letter.HashToken(e.Signature.Token), ev)
	var unavailable *letter.Unavailable
	switch {
	case errors.Is(err, letter.ErrReplayed):
		h.refuseEvent(w, "replayed", "This event was received before.")
		return
	case errors.Is(err, letter.ErrNotFound):
		h.log.Info("mailgun: event for a message not ours", "event", e.Data.Event)
	case errors.As(err, &unavailable):
		h.log.Warn("mailgun: event not recorded", "reason", unavailable.Reason)
		w.Header().Set("Retry-After", "60")
		http.Error(w, unavailable.Reason, http.StatusServiceUnavailable)
		return
	case err != nil:
		h.log.Error("mailgun: event not recorded", "message", ev.MessageID, "error", err.Error())
		http.Error(w, "The event could not be recorded.", http.StatusInternalServerError)
		return
	case ev.State != "":
		h.log.Info("mailgun: delivery event", "message", ev.MessageID, "state", ev.State, "moved", moved)
	case e.Data.Event == "failed":
		// Mailgun tries again itself; its next event says how it ended.
		h.log.Info("mailgun: temporary delivery failure", "message", ev.MessageID)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// signedByMailgun checks signature as the hex HMAC-SHA256 of timestamp
// and token under the webhook signing key, in constant time.
func (h *handler) signedByMailgun(timestamp, token, signature string) bool {
	got, err := hex.DecodeString(signature)
	if err != nil || token == "" || timestamp == "" {
		return false
	}
	m := hmac.New(sha256.New, h.cfg.WebhookSigningKey)
	m.Write([]byte(timestamp))
	m.Write([]byte(token))
	return hmac.Equal(m.Sum(nil), got)
}

func (h *handler) refuseEvent(w http.ResponseWriter, why, message string) {
	h.log.Warn("mailgun: event refused", "why", why)
	http.Error(w, message+" Not accepted.", http.StatusNotAcceptable)
}

// messageID is a Message-Id header's id without its angle brackets; ""
// when it cannot be one of ours.
func messageID(header string) string {
	id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(header), "<"), ">")
	if len(id) > 255 || letter.HasLineBreakOrControl(id, false) {
		return ""
	}
	return id
}

// failureReason is what an organizer reads of a permanent failure:
// Mailgun's reason, then the receiving server's code and words.
func failureReason(reason string, code int, message, description string) string {
	head := "Mailgun: permanent failure"
	if reason != "" {
		head += " (" + reason + ")"
	}
	var words []string
	if code != 0 {
		words = append(words, strconv.Itoa(code))
	}
	// The description often repeats the message.
	for _, s := range []string{message, description} {
		if s = strings.TrimSpace(s); s != "" && !strings.Contains(strings.Join(words, " "), s) {
			words = append(words, s)
		}
	}
	if len(words) > 0 {
		head += ": " + strings.Join(words, " ")
	}
	return letter.FailureReason(head)
}

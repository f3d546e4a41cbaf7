package handler_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
)

const webhookKey = "whk-0123456789abcdef"

// newWebhookEnv is newEnv with Mailgun's webhook signing key set.
func newWebhookEnv(t *testing.T, tweak func(*handler.Settings)) *env {
	t.Helper()
	return newEnvWith(t, map[string]string{"CAMPAIGN_CONFIRM": "off", "MAILGUN_WEBHOOK_SIGNING_KEY": webhookKey}, tweak)
}

// mailgunWebhook is the JSON Mailgun posts: the signature (hex
// HMAC-SHA256 of timestamp and token under key) and the event's data.
func mailgunWebhook(t *testing.T, key string, at time.Time, token string, data map[string]any) string {
	t.Helper()
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + token))
	body, err := json.Marshal(map[string]any{
		"signature":  map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(m.Sum(nil))},
		"event-data": data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// eventData is an event's data as Mailgun sends it, for our Message-Id
// (as the header carries it, in angle brackets or not).
func eventData(event, messageID string) map[string]any {
	return map[string]any{
		"event": event, "id": "G9Bn5sl1TC6nu79C8C0bwg", "timestamp": float64(time.Now().UnixMicro()) / 1e6,
		"recipient": "president@whitehouse.example", "tags": []string{"family-separation"},
		"envelope": map[string]any{"sender": "letters@mg.example", "transport": "smtp"},
		"message": map[string]any{"headers": map[string]any{
			"to": "president@whitehouse.example", "message-id": messageID, "from": "letters@mg.example", "subject": "Protect children",
		}, "attachments": []any{}, "size": 1234},
		"delivery-status": map[string]any{"code": 250, "message": "OK", "description": "", "attempt-no": 1},
	}
}

// webhook signs data as Mailgun would now, with a fresh token.
func webhook(t *testing.T, data map[string]any) string {
	return mailgunWebhook(t, webhookKey, time.Now(), letter.NewID()+"0123456789abcdef01", data)
}

func (e *env) postEvent(t *testing.T, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+handler.MailgunEventsPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, readBody(t, resp)
}

// signAndSend signs once and waits until both letters are sent; it
// returns them in target order.
func (e *env) signAndSend(t *testing.T) []letter.Message {
	t.Helper()
	if resp := e.postForm(t, signerForm()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign: %d", resp.StatusCode)
	}
	sent := e.mg.WaitFor(2, 10*time.Second)
	if len(sent) != 2 {
		t.Fatalf("stand-in got %d messages, want 2", len(sent))
	}
	sigID := strings.TrimPrefix(strings.Split(sent[0].Get("h:Message-Id"), ".")[0], "<")
	waitSent(t, e.store, sigID, 2)
	msgs, err := e.store.Messages(context.Background(), sigID)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func (e *env) state(t *testing.T, id string) *letter.Message {
	t.Helper()
	m, err := e.store.Message(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMailgunEventsMoveTheirMessages(t *testing.T) {
	var logs bytes.Buffer
	e := newWebhookEnv(t, func(s *handler.Settings) { s.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	msgs := e.signAndSend(t)

	// Mailgun's header carries the id in angle brackets, or not.
	if status, body := e.postEvent(t, webhook(t, eventData("delivered", "<"+msgs[0].ID+">"))); status != http.StatusOK {
		t.Fatalf("delivered: %d %s", status, body)
	}
	if m := e.state(t, msgs[0].ID); m.State != letter.StateDelivered {
		t.Errorf("after delivered: %s", m.State)
	}
	if status, _ := e.postEvent(t, webhook(t, eventData("complained", msgs[0].ID))); status != http.StatusOK {
		t.Fatalf("complained: %d", status)
	}
	// A late "delivered" says less than the complaint: it stays.
	if status, _ := e.postEvent(t, webhook(t, eventData("delivered", msgs[0].ID))); status != http.StatusOK {
		t.Fatalf("late delivered: %d", status)
	}
	if m := e.state(t, msgs[0].ID); m.State != letter.StateComplained {
		t.Errorf("after complained and a late delivered: %s", m.State)
	}

	// A temporary failure changes nothing: Mailgun retries.
	temporary := eventData("failed", msgs[1].ID)
	temporary["severity"], temporary["reason"] = "temporary", "generic"
	temporary["delivery-status"] = map[string]any{"code": 421, "message": "4.4.2 try again later", "attempt-no": 1}
	if status, _ := e.postEvent(t, webhook(t, temporary)); status != http.StatusOK {
		t.Fatalf("temporary failure: %d", status)
	}
	if m := e.state(t, msgs[1].ID); m.State != letter.StateSent || m.Error != "" {
		t.Errorf("after a temporary failure: %s %q", m.State, m.Error)
	}

	// A permanent failure records its reason.
	permanent := eventData("failed", msgs[1].ID)
	permanent["severity"], permanent["reason"] = "permanent", "bounce"
	permanent["delivery-status"] = map[string]any{"code": 550, "attempt-no": 1,
		"message":     "5.1.1 The email account that you tried to reach does not exist",
		"description": "5.1.1 The email account that you tried to reach does not exist"}
	if status, _ := e.postEvent(t, webhook(t, permanent)); status != http.StatusOK {
		t.Fatalf("permanent failure: %d", status)
	}
	m := e.state(t, msgs[1].ID)
	want := "Mailgun: permanent failure (bounce): 550 5.1.1 The email account that you tried to reach does not exist"
	if m.State != letter.StateFailed || m.Error != want {
		t.Errorf("after a permanent failure: %s %q, want failed %q", m.State, m.Error, want)
	}
	counts, err := e.store.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts[letter.StateComplained] != 1 || counts[letter.StateFailed] != 1 || counts[letter.StateSent] != 0 {
		t.Errorf("counts = %v", counts)
	}
	// The log names messages by id, never a person or an address.
	for _, private := range []string{"Jane", "jane@example.org", "whitehouse", "does not exist"} {
		if strings.Contains(logs.String(), private) {
			t.Errorf("the log carries %q:\n%s", private, logs.String())
		}
	}
	if !strings.Contains(logs.String(), msgs[1].ID) {
		t.Errorf("the log does not name the message:\n%s", logs.String())
	}
}

func TestMailgunEventsRefusedAndUnknown(t *testing.T) {
	e := newWebhookEnv(t, nil)
	msgs := e.signAndSend(t)
	id := msgs[0].ID
	delivered := eventData("delivered", id)
	token := func() string { return letter.NewID() + "0123456789abcdef01" }

	good := mailgunWebhook(t, webhookKey, time.Now(), token(), delivered)
	var forgedSig map[string]any
	json.Unmarshal([]byte(good), &forgedSig)
	forgedSig["signature"].(map[string]any)["token"] = token() // signed for another token
	forgedToken, _ := json.Marshal(forgedSig)
	unsigned := strings.Replace(good, `"signature":"`, `"signature":"00`, 1)

	for _, tt := range []struct {
		name string
		body string
	}{
		{"another key", mailgunWebhook(t, "whk-not-ours", time.Now(), token(), delivered)},
		{"another token", string(forgedToken)},
		{"bad signature", unsigned},
		{"no signature", `{"event-data":{"event":"delivered","message":{"headers":{"message-id":"` + id + `"}}}}`},
		{"6 minutes old", mailgunWebhook(t, webhookKey, time.Now().Add(-6*time.Minute), token(), delivered)},
		{"6 minutes ahead", mailgunWebhook(t, webhookKey, time.Now().Add(6*time.Minute), token(), delivered)},
	} {
		if status, body := e.postEvent(t, tt.body); status != http.StatusNotAcceptable {
			t.Errorf("%s: %d %s, want 406", tt.name, status, body)
		}
	}
	if m := e.state(t, id); m.State != letter.StateSent {
		t.Fatalf("a refused event moved the message to %s", m.State)
	}

	// A replay is refused, even within the 5 minutes, even carrying
	// another event under the same token.
	tok := token()
	first := mailgunWebhook(t, webhookKey, time.Now().Add(-4*time.Minute), tok, eventData("delivered", msgs[1].ID))
	if status, _ := e.postEvent(t, first); status != http.StatusOK {
		t.Fatalf("4 minutes old: %d, want 200", status)
	}
	if status, _ := e.postEvent(t, first); status != http.StatusNotAcceptable {
		t.Errorf("replayed: %d, want 406", status)
	}
	if status, _ := e.postEvent(t, mailgunWebhook(t, webhookKey, time.Now().Add(-4*time.Minute), tok, eventData("complained", msgs[1].ID))); status != http.StatusNotAcceptable {
		t.Errorf("replayed token with another event: %d, want 406", status)
	}
	if m := e.state(t, msgs[1].ID); m.State != letter.StateDelivered {
		t.Errorf("after the replays: %s, want delivered", m.State)
	}

	// An event for a message not ours: 200, nothing changes.
	before, _ := e.store.Counts(context.Background())
	for _, other := range []string{"20260101.1234@mg.other.example", "", strings.Repeat("x", 300) + "@mg.example"} {
		if status, _ := e.postEvent(t, webhook(t, eventData("delivered", other))); status != http.StatusOK {
			t.Errorf("unknown message %.20q: %d, want 200", other, status)
		}
	}
	after, _ := e.store.Counts(context.Background())
	if before[letter.StateSent] != 1 || after[letter.StateSent] != 1 || after[letter.StateDelivered] != 1 {
		t.Errorf("counts before %v, after %v", before, after)
	}

	// Not Mailgun's JSON, or too large, or not a post.
	if status, _ := e.postEvent(t, "signature=x"); status != http.StatusBadRequest {
		t.Errorf("not JSON: %d", status)
	}
	big := eventData("delivered", id)
	big["padding"] = strings.Repeat("x", handler.MaxEventBytes)
	if status, _ := e.postEvent(t, webhook(t, big)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("too large: %d", status)
	}
	resp, err := http.Get(e.srv.URL + handler.MailgunEventsPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

// Without the signing key there is no endpoint, whatever is posted;
// without a database it says what it needs.
func TestMailgunEventsOff(t *testing.T) {
	e := newEnv(t, nil)
	msgs := e.signAndSend(t)
	body := webhook(t, eventData("delivered", msgs[0].ID))
	if status, _ := e.postEvent(t, body); status != http.StatusNotFound {
		t.Errorf("without a signing key: %d, want 404", status)
	}
	if m := e.state(t, msgs[0].ID); m.State != letter.StateSent {
		t.Errorf("without a signing key the event moved the message to %s", m.State)
	}
	noDB := newWebhookEnv(t, func(s *handler.Settings) { s.Events = nil })
	if status, text := noDB.postEvent(t, body); status != http.StatusServiceUnavailable || !strings.Contains(text, "DATABASE_URL") {
		t.Errorf("without a database: %d %q", status, text)
	}
}

// countingSender counts the sends it is asked for.
type countingSender struct{ n atomic.Int32 }

func (s *countingSender) Send(context.Context, *letter.Message) (string, error) {
	s.n.Add(1)
	return "<counted>", nil
}

// Mailgun took the letter but recording "sent" failed: it stays queued,
// and only the webhook knows it went. "delivered" settles it, and no
// attempt sends it again.
func TestDeliveredWhileQueuedIsNotSentAgain(t *testing.T) {
	e := newWebhookEnv(t, nil)
	if _, err := e.store.DB().Exec(`CREATE TRIGGER fail_sent BEFORE UPDATE OF state ON messages
		WHEN NEW.state = 'sent' AND NEW.target_index = 0
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	if resp := e.postForm(t, signerForm()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign: %d", resp.StatusCode)
	}
	sent := e.mg.WaitFor(2, 10*time.Second)
	var id string
	for _, m := range sent {
		if h := m.Get("h:Message-Id"); strings.HasSuffix(h, ".0@mg.example>") {
			id = strings.Trim(h, "<>")
		}
	}
	if id == "" {
		t.Fatalf("the stand-in never got the first letter: %d messages", len(sent))
	}
	if m := e.state(t, id); m.State != letter.StateQueued {
		t.Fatalf("with its record failing, the letter is %s, want queued", m.State)
	}
	if status, _ := e.postEvent(t, webhook(t, eventData("delivered", id))); status != http.StatusOK {
		t.Fatalf("delivered: %d", status)
	}
	if m := e.state(t, id); m.State != letter.StateDelivered {
		t.Fatalf("after delivered: %s", m.State)
	}
	// Whatever attempt comes next (the queue's job, a retry) skips it.
	var s countingSender
	d := &deliver.Deliverer{Store: e.store, Sender: &s, Log: quietLog()}
	if out := d.One(context.Background(), id, deliver.Attempt{N: 2}); out.Verdict != deliver.Skipped || s.n.Load() != 0 {
		t.Errorf("another attempt: verdict %v, %d sends; want skipped, none", out.Verdict, s.n.Load())
	}
	time.Sleep(deliver.RecordBudget + time.Second) // the queue's own attempt ends
	if n := len(e.mg.Messages()); n != 2 {
		t.Errorf("the stand-in got %d messages, want the 2 letters once each", n)
	}
	if m := e.state(t, id); m.State != letter.StateDelivered {
		t.Errorf("in the end: %s, want delivered", m.State)
	}
}

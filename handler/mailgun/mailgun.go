// Package mailgun sends letters through Mailgun's messages API with
// mailgun-go, and classifies its failures for retrying.
package mailgun

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	mg "github.com/mailgun/mailgun-go/v4"

	"campaignkit/handler/letter"
)

// Account is the Mailgun account and domain to send from (the
// environment's MAILGUN_* names).
type Account struct {
	Domain  string
	APIKey  string
	APIBase string // as mailgun-go's SetAPIBase takes it; empty = Mailgun's US API
	// Timeout bounds each call; mailgun-go has none of its own.
	Timeout time.Duration
}

// Sender sends one message per call.
type Sender struct {
	client *mg.MailgunImpl
}

// New returns a sender for the domain.
func New(cfg Account) *Sender {
	c := mg.NewMailgun(cfg.Domain, cfg.APIKey)
	if cfg.APIBase != "" {
		c.SetAPIBase(cfg.APIBase)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	c.SetClient(&http.Client{
		Timeout:   cfg.Timeout,
		Transport: retryAfterTransport{base: http.DefaultTransport},
	})
	return &Sender{client: c}
}

// Send sends e. Its To is the only recipient; no field of e can become a
// Mailgun option (o:), variable (v:) or extra header (h:) other than the
// ones set here.
func (s *Sender) Send(ctx context.Context, e *letter.Message) (string, error) {
	if err := e.CheckHeaders(); err != nil {
		return "", fmt.Errorf("mailgun: send: %w", err)
	}
	m := mg.NewMessage(e.From, e.Subject, e.Text, e.To)
	m.SetReplyTo(e.ReplyTo)
	if e.Tag != "" {
		if err := m.AddTag(e.Tag); err != nil {
			return "", fmt.Errorf("mailgun: send: %w", &letter.SendError{Permanent: true, Err: err})
		}
	}
	m.AddHeader("Message-Id", "<"+e.ID+">")
	// Tracking rewrites links and adds pixels: the letter must arrive as written.
	m.SetTracking(false)

	hint := &retryAfterHint{}
	_, id, err := s.client.Send(context.WithValue(ctx, retryAfterKey{}, hint), m)
	if err != nil {
		return "", fmt.Errorf("mailgun: send: %w", classify(err, hint.get()))
	}
	return id, nil
}

// classify turns mailgun-go's error into a letter.SendError.
func classify(err error, retryAfter time.Duration) error {
	var ue *mg.UnexpectedResponseError
	if errors.As(err, &ue) {
		msg := fmt.Errorf("status %d: %s", ue.Actual, strings.TrimSpace(string(ue.Data)))
		switch {
		case ue.Actual == http.StatusTooManyRequests:
			return &letter.SendError{RateLimited: true, RetryAfter: retryAfter, Err: msg}
		case ue.Actual >= 500 || ue.Actual == http.StatusRequestTimeout:
			return &letter.SendError{RetryAfter: retryAfter, Err: msg}
		case ue.Actual == http.StatusUnauthorized || ue.Actual == http.StatusForbidden || ue.Actual == http.StatusNotFound:
			// A wrong or rotated key, or a wrong domain or region: the
			// operator's to fix, and the letters must wait for it, not fail.
			return &letter.SendError{Refused: true, Err: fmt.Errorf("%w (check MAILGUN_API_KEY, MAILGUN_DOMAIN and MAILGUN_API_BASE)", msg)}
		default:
			return &letter.SendError{Permanent: true, Err: msg}
		}
	}
	if errors.Is(err, mg.ErrInvalidMessage) {
		return &letter.SendError{Permanent: true, Err: err}
	}
	// Anything else (a timeout, a connection reset, a garbled answer) may pass.
	return &letter.SendError{Err: err}
}

type retryAfterKey struct{}

// retryAfterHint carries a Retry-After header out of the transport, since
// mailgun-go's error does not keep response headers.
type retryAfterHint struct {
	mu sync.Mutex
	d  time.Duration
}

func (h *retryAfterHint) set(d time.Duration) { h.mu.Lock(); h.d = d; h.mu.Unlock() }
func (h *retryAfterHint) get() time.Duration  { h.mu.Lock(); defer h.mu.Unlock(); return h.d }

type retryAfterTransport struct{ base http.RoundTripper }

func (t retryAfterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil && resp.StatusCode >= 400 {
		if hint, ok := r.Context().Value(retryAfterKey{}).(*retryAfterHint); ok {
			hint.set(ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
		}
	}
	return resp, err
}

// ParseRetryAfter reads a Retry-After value (seconds or an HTTP date);
// zero when absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

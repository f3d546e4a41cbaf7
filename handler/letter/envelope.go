package letter

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Envelope is one message ready for the wire: every header it will carry
// and its plain-text body.
type Envelope struct {
	MessageID string // without angle brackets: id@domain
	From      string
	ReplyTo   string
	To        string
	Subject   string
	Text      string
	Tag       string
}

// CheckHeaders refuses an envelope whose header values hold a line break,
// the one way text could add a header or a recipient. Validation already
// refuses them; senders check again before anything reaches the wire.
func (e *Envelope) CheckHeaders() error {
	for name, v := range map[string]string{"Message-Id": e.MessageID, "From": e.From, "Reply-To": e.ReplyTo,
		"To": e.To, "Subject": e.Subject, "Tag": e.Tag} {
		if strings.ContainsAny(v, "\r\n\x00") || strings.ContainsRune(v, '\u2028') || strings.ContainsRune(v, '\u2029') {
			return &SendError{Permanent: true, Err: fmt.Errorf("header %s holds a line break", name)}
		}
		if v == "" && name != "Tag" {
			return &SendError{Permanent: true, Err: fmt.Errorf("header %s is empty", name)}
		}
	}
	return nil
}

// SendError is a failed send, classified for retrying.
type SendError struct {
	// Permanent errors will fail again: do not retry.
	Permanent bool
	// RateLimited is set when the service asked us to slow down.
	RateLimited bool
	// Refused is set when the service refused our credentials, domain or
	// region: every send fails alike until the operator fixes it.
	Refused bool
	// RetryAfter is the wait the service asked for, when it said.
	RetryAfter time.Duration
	Err        error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a send error that retrying cannot fix.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

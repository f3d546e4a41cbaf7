package letter

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Signature is one supporter's signature of one letter, as recorded. Its
// Signer's Subject and Body are empty when the supporter kept the
// published ones.
type Signature struct {
	ID string
	Signer
	// State is unconfirmed, confirmed, held or rejected (Signature…).
	State string
	// Edited is set when the signer changed the published subject or
	// text; Hold says why its letters wait, or waited, for an organizer
	// (Hold…; empty when they never did).
	Edited bool
	Hold   string
	// TokenHash is the hash of its confirmation link's token (HashToken),
	// empty when the letter needs no confirmation.
	TokenHash   string
	CreatedAt   time.Time
	ConfirmedAt time.Time
	// OptInAt, OptInText and OptInLang record the signer's opt-in (Signer's
	// OptIn): when they sent the form with the box ticked, and the box's
	// words and language as they saw them. Zero when they did not opt in.
	OptInAt   time.Time
	OptInText string
	OptInLang string
	// PurgedAt is when its personal data was deleted (retention); zero
	// while it is kept.
	PurgedAt time.Time
}

// Message states.
const (
	// StateUnconfirmed messages wait for their signer's confirmation;
	// StateHeld ones for an organizer's release (the campaign's ceiling).
	StateUnconfirmed = "unconfirmed"
	StateHeld        = "held"
	StateQueued      = "queued"
	StateSent        = "sent"
	StateFailed      = "failed"
	// StateDelivered and StateComplained are the mail service's word,
	// from its webhooks (DeliveryEvent): the target's server took the
	// message, or the target marked it as spam.
	StateDelivered  = "delivered"
	StateComplained = "complained"
	// StateRejected letters were held and an organizer refused them: they
	// are never sent, and their text is deleted.
	StateRejected = "rejected"
)

// Message is one letter to one target: merged, addressed, and where its
// delivery stands. What is recorded is exactly what goes on the wire.
type Message struct {
	// ID is our Message-Id (without angle brackets), stable for
	// (signature, target): a retried send is recognisably the same letter.
	ID          string
	SignatureID string
	// Kind is a letter to a target, or a message to the signer (Kind…).
	Kind        string
	TargetIndex int
	TargetName  string
	TargetEmail string
	// To is the envelope recipient, fixed when the letter is recorded: the
	// target, or the sandbox address of a preview. Delivery sends exactly
	// this, whatever process sends it.
	To      string
	From    string
	ReplyTo string
	Subject string
	Text    string
	Tag     string
	State   string
	// ProviderID is the id the mail service gave the message.
	ProviderID string
	// Error is why the last attempt failed, in the mail service's words.
	Error     string
	Attempts  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ErrDuplicate is returned when the same email address already signed the
// same letter; the first signature comes with it.
var ErrDuplicate = errors.New("this address already signed this letter")

// ErrConfirmed is returned when a signature was confirmed before: its
// letters went out then, and nothing more is sent.
var ErrConfirmed = errors.New("this signature was confirmed before")

// ErrThrottled is returned when the address was sent a confirmation for
// the letter too recently to be sent another.
var ErrThrottled = errors.New("a confirmation was mailed to this address too recently")

// ErrNotFound is returned when a message or signature does not exist.
var ErrNotFound = errors.New("not found")

// Sending is how the campaign addresses its letters (from the configuration).
type Sending struct {
	// From is the From address (CAMPAIGN_FROM); its display name, if any,
	// follows the signer's name.
	From mail.Address
	// MessageIDDomain is the right-hand side of our Message-Ids.
	MessageIDDomain string
	// SandboxTo, when set, receives every letter instead of its target.
	SandboxTo string
	// SiteURL is the site's address, for the links in emails to signers.
	SiteURL string
	// TokenKey makes confirmation links (Token); ConfirmTTL is how long
	// they work.
	TokenKey   []byte
	ConfirmTTL time.Duration
}

// Sign turns a valid signer of l into the signature and the messages to
// record: one per target, merged and addressed.
func Sign(l *Letter, s *Signer, how Sending) (*Signature, []Message) {
	sig := &Signature{ID: NewID(), Signer: *s, State: SignatureConfirmed}
	sig.Letter = l.ID
	// The language of the translation signed, whatever the form said.
	sig.Lang = l.Lang
	if s.OptIn {
		sig.OptInText, sig.OptInLang = l.OptIn.Text, l.OptIn.Lang
	}
	// An unedited letter is recorded as such, so organizers can tell.
	if s.Subject == l.Subject {
		sig.Subject = ""
	}
	// The page shows merge fields as words ("[your city]"): a body posted
	// as shown is the published one.
	if s.Body == l.Body || l.Unspell(s.Body) == l.Body {
		sig.Body = ""
	}
	sig.Edited = sig.Subject != "" || sig.Body != ""
	if sig.Edited && l.ReviewEdits {
		sig.Hold = HoldReview
	}
	fromName := s.FullName()
	if how.From.Name != "" {
		fromName += " via " + how.From.Name
	}
	from := (&mail.Address{Name: fromName, Address: how.From.Address}).String()
	replyTo := (&mail.Address{Name: s.FullName(), Address: s.Email}).String()
	msgs := Merge(l, s)
	for i := range msgs {
		m := &msgs[i]
		m.ID = MessageID(sig.ID, i, how.MessageIDDomain)
		m.SignatureID = sig.ID
		m.To = (&mail.Address{Name: m.TargetName, Address: m.TargetEmail}).String()
		if how.SandboxTo != "" {
			m.To = how.SandboxTo
		}
		m.From, m.ReplyTo, m.Tag, m.Kind, m.State = from, replyTo, l.ID, KindLetter, StateQueued
	}
	return sig, msgs
}

// MessageID is our Message-Id for a signature's message to target i.
func MessageID(signatureID string, target int, domain string) string {
	return fmt.Sprintf("%s.%d@%s", signatureID, target, domain)
}

// NewID returns an identifier of 128 bits, hex: the time in milliseconds
// (48 bits), then 80 random bits. Ids made one after another sort
// together, so that the indexes on them (a signature's, its messages')
// grow at one end: random ids each touched a page of their own, and a
// signature wrote several more pages to the database.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	rand.Read(b[6:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// EmailKey is the form of an address used to recognise a repeat signer.
func EmailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// CheckHeaders refuses a message whose header values hold a line break or
// a control character, the one way text could add a header or a
// recipient. Validation already refuses them; senders check again before
// anything reaches the wire.
func (m *Message) CheckHeaders() error {
	for _, h := range []struct{ name, value string }{{"Message-Id", m.ID}, {"From", m.From},
		{"Reply-To", m.ReplyTo}, {"To", m.To}, {"Subject", m.Subject}, {"Tag", m.Tag}} {
		if HasLineBreakOrControl(h.value, false) {
			return &SendError{Permanent: true, Err: fmt.Errorf("header %s holds a line break", h.name)}
		}
		if h.value == "" && h.name != "Tag" {
			return &SendError{Permanent: true, Err: fmt.Errorf("header %s is empty", h.name)}
		}
	}
	return nil
}

// SendError is a failed send, as the mail service explained it.
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

// Unavailable is returned by a recorder that will not take signatures now,
// with words for the supporter (a deploy preview that must not mail
// officials, a database out of reach): Key, when set, names them among
// the letter's messages (Say), in the supporter's language; Reason is
// the English.
type Unavailable struct{ Reason, Key string }

func (e *Unavailable) Error() string { return e.Reason }

package letter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Signature states. A signature whose letter needs its signer's
// confirmation is recorded unconfirmed; confirming it queues its letters,
// or holds them when the campaign takes more than its ceiling.
const (
	SignatureUnconfirmed = "unconfirmed"
	SignatureConfirmed   = "confirmed"
	SignatureHeld        = "held"
	// SignatureRejected was held, and an organizer refused its letters.
	SignatureRejected = "rejected"
)

// Why a signature's letters are held for an organizer: an edited letter
// of a letter with `review_edits: true`, or the campaign past its
// ceiling (CAMPAIGN_MAX_SIGN_RATE).
const (
	HoldReview  = "review"
	HoldCeiling = "ceiling"
)

// Message kinds: a letter to a target, the email that asks its signer to
// confirm, and the signer's own copy of what was sent.
const (
	KindLetter  = "letter"
	KindConfirm = "confirm"
	KindCopy    = "copy"
)

// Target indexes of the messages to the signer (a letter's are 0, 1, …).
const (
	confirmIndex = -1
	copyIndex    = -2
)

// ConfirmPath is where a confirmation link points, the token following.
const ConfirmPath = "/api/confirm/"

// TokenPlaceholder stands for the link's token in a recorded confirmation
// email; the sender fills it in at the moment of sending (see Token), so
// the token itself is stored nowhere, only its hash.
const TokenPlaceholder = "{{token}}"

// Token is the secret of a signature's confirmation link: an HMAC of its
// id under the campaign's key (256 bits, URL-safe). Anyone who can read
// the database still cannot make one.
func Token(key []byte, signatureID string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("confirm:" + signatureID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// HashToken is how a token is stored and looked up.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Confirms reports whether the letter's signers must confirm by email
// before it is sent, the operator's switch (on) and the letter's own
// front matter (`confirm: false`) taken together.
func (l *Letter) Confirms(on bool) bool {
	return on && (l.Confirm == nil || *l.Confirm)
}

// Expand returns the text as it goes on the wire: a confirmation email's
// link gets its token. Every other message is sent exactly as recorded.
func (m *Message) Expand(key []byte) (string, error) {
	if m.Kind != KindConfirm {
		return m.Text, nil
	}
	if len(key) == 0 {
		return "", &SendError{Permanent: true, Err: fmt.Errorf("no key to make the confirmation link")}
	}
	return strings.Replace(m.Text, TokenPlaceholder, Token(key, m.SignatureID), 1), nil
}

// SignToConfirm is Sign for a letter whose signer must confirm: the
// letters are recorded unconfirmed (exactly as they will go out), with
// one email to the signer that asks them to review and send them. That
// email holds nothing the visitor typed, only the letter's title, its
// targets and the link, so it cannot carry anyone's words to a stranger.
func SignToConfirm(l *Letter, s *Signer, how Sending) (*Signature, []Message) {
	sig, msgs := Sign(l, s, how)
	sig.State = SignatureUnconfirmed
	sig.TokenHash = HashToken(Token(how.TokenKey, sig.ID))
	for i := range msgs {
		msgs[i].State = StateUnconfirmed
	}
	var to strings.Builder
	for _, t := range l.Targets {
		to.WriteString("- " + t.Name)
		if t.Title != "" {
			to.WriteString(", " + t.Title)
		}
		to.WriteString("\n")
	}
	ttl := how.ConfirmTTL
	if ttl <= 0 {
		ttl = DefaultConfirmTTL
	}
	site := strings.TrimRight(how.SiteURL, "/")
	// In the letter's language: the signer's (the letter is the
	// translation they signed).
	text := l.Say("confirm_email_text",
		"campaign", l.Campaign, "site", site, "targets", to.String(),
		"link", site+ConfirmPath+TokenPlaceholder, "ttl", l.Duration(ttl))
	msgs = append(msgs, toSigner(l, sig, how, KindConfirm, l.Say("confirm_email_subject", "subject", l.Subject), text))
	return sig, msgs
}

// CopyForSigner is the signer's own copy of the letters as sent, for a
// letter with `copy_to_signer: true`.
func CopyForSigner(l *Letter, sig *Signature, letters []Message, how Sending) Message {
	var b strings.Builder
	b.WriteString(l.Say("copy_email_intro") + "\n")
	for _, m := range letters {
		if m.Kind != KindLetter && m.Kind != "" {
			continue
		}
		fmt.Fprintf(&b, "\n----------------------------------------\n%s: %s\n%s: %s\n\n%s",
			l.Say("copy_email_to"), m.TargetName, l.Say("copy_email_subject_label"), m.Subject, m.Text)
	}
	return toSigner(l, sig, how, KindCopy, l.Say("copy_email_subject", "subject", l.Subject), b.String())
}

// toSigner addresses a message from the campaign to the signer.
func toSigner(l *Letter, sig *Signature, how Sending, kind, subject, text string) Message {
	index := confirmIndex
	if kind == KindCopy {
		index = copyIndex
	}
	sender := how.From
	if sender.Name == "" {
		sender.Name = l.Campaign
	}
	from := sender.String()
	to := (&mail.Address{Address: sig.Email}).String()
	if how.SandboxTo != "" {
		// A preview mails no stranger either: its testers read the sandbox.
		to = how.SandboxTo
	}
	return Message{
		ID:          fmt.Sprintf("%s.%s@%s", sig.ID, kind, how.MessageIDDomain),
		SignatureID: sig.ID,
		Kind:        kind,
		TargetIndex: index,
		TargetName:  sig.FullName(),
		TargetEmail: sig.Email,
		To:          to,
		From:        from,
		ReplyTo:     from,
		Subject:     subject,
		Text:        text,
		Tag:         kind,
		State:       StateQueued,
	}
}

// DefaultConfirmTTL is how long a confirmation link works (and an
// unconfirmed signature is kept).
const DefaultConfirmTTL = 7 * 24 * time.Hour

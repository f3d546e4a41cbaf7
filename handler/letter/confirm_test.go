package letter

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
)

func TestConfirmationTokensAndTheirEmail(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	if Token(key, "a") == Token(key, "b") || Token(key, "a") != Token(key, "a") || Token(key, "a") == Token([]byte("another key of 32 bytes, or more"), "a") {
		t.Fatal("a token must be fixed by key and signature, and differ with either")
	}
	if n := len(Token(key, "a")); n < 22 {
		t.Fatalf("token of %d characters: under 128 bits", n)
	}
	if HashToken("x") == "x" || len(HashToken("x")) != 64 {
		t.Fatalf("HashToken(x) = %q", HashToken("x"))
	}

	l := testLetter()
	how := Sending{From: mail.Address{Address: "letters@mg.example"}, MessageIDDomain: "mg.example",
		SiteURL: "https://letters.example.org/", TokenKey: key}
	s := validSigner()
	sig, msgs := SignToConfirm(l, &s, how)
	if sig.State != SignatureUnconfirmed || sig.TokenHash != HashToken(Token(key, sig.ID)) {
		t.Fatalf("signature %+v", sig)
	}
	if len(msgs) != len(l.Targets)+1 {
		t.Fatalf("%d messages, want the letters and the confirmation", len(msgs))
	}
	for _, m := range msgs[:len(l.Targets)] {
		if m.State != StateUnconfirmed || m.Kind != KindLetter {
			t.Errorf("letter %s: state %s, kind %s", m.ID, m.State, m.Kind)
		}
	}
	c := msgs[len(msgs)-1]
	if c.Kind != KindConfirm || c.State != StateQueued || c.To != "<"+s.Email+">" || c.CheckHeaders() != nil {
		t.Fatalf("confirmation %+v", c)
	}
	if strings.Contains(c.Text, Token(key, sig.ID)) || !strings.Contains(c.Text, "https://letters.example.org/api/confirm/"+TokenPlaceholder) {
		t.Fatalf("the recorded confirmation must hold the placeholder, not the token:\n%s", c.Text)
	}
	text, err := c.Expand(key)
	if err != nil || !strings.Contains(text, "https://letters.example.org/api/confirm/"+Token(key, sig.ID)+"\n") {
		t.Fatalf("Expand = %v\n%s", err, text)
	}
	var se *SendError
	if _, err := c.Expand(nil); !errors.As(err, &se) || !se.Permanent {
		t.Errorf("Expand without a key = %v, want a permanent send error", err)
	}
	if text, _ := msgs[0].Expand(nil); text != msgs[0].Text {
		t.Error("a letter must go out exactly as recorded")
	}
}

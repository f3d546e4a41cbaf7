package mailgun

import (
	"testing"
	"time"
)

// mailgun-go has no timeout of its own: a sender always has one.
func TestSenderAlwaysHasATimeout(t *testing.T) {
	for given, want := range map[time.Duration]time.Duration{0: 20 * time.Second, -time.Second: 20 * time.Second, 3 * time.Second: 3 * time.Second} {
		if got := New(Account{Domain: "mg.example", APIKey: "k", Timeout: given}).client.Client().Timeout; got != want {
			t.Errorf("Timeout %v gives an HTTP timeout of %v, want %v", given, got, want)
		}
	}
}

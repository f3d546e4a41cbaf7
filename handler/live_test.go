package handler_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"campaignkit/handler"
	"campaignkit/handler/letter"
)

// keepingRecorder accepts every signature and keeps its messages.
type keepingRecorder struct {
	mu   sync.Mutex
	msgs []letter.Message
}

func (k *keepingRecorder) Record(_ context.Context, sig *letter.Signature, msgs []letter.Message) (*letter.Signature, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.msgs = append(k.msgs, msgs...)
	return sig, nil
}

// Letters stored into LiveLetters are the ones the next signature merges;
// a letter removed from the set is unknown at once.
func TestLiveLettersAreMergedFromTheNextRequest(t *testing.T) {
	letters, err := letter.Load(os.DirFS("testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &keepingRecorder{}
	live := handler.NewLiveLetters(letters)
	h := handler.New(handler.Settings{Live: live, Recorder: rec, Log: quietLog()})
	sign := func(i int) int {
		v := signerForm()
		v.Set("email", fmt.Sprintf("live%d@example.org", i))
		req := httptest.NewRequest(http.MethodPost, "/api/sign", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	lastText := func() string {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.msgs) == 0 {
			t.Fatal("nothing recorded")
		}
		return rec.msgs[len(rec.msgs)-1].Text
	}

	old := letters["family-separation"]
	if code := sign(1); code != http.StatusSeeOther {
		t.Fatalf("first signature: %d", code)
	}
	// The last message is the last target's copy: its passages only.
	if !strings.Contains(lastText(), letter.BodyFor(old.Passages, old.Body, old.Targets[len(old.Targets)-1].Name)) {
		t.Fatalf("the first letter does not carry the published body:\n%s", lastText())
	}

	edited := *old
	edited.Body = "An edited letter, published a moment ago.\n\n" + old.Body
	live.Store(letter.Letters{edited.ID: &edited})
	if code := sign(2); code != http.StatusSeeOther {
		t.Fatalf("signature after the swap: %d", code)
	}
	if !strings.Contains(lastText(), "An edited letter, published a moment ago.") {
		t.Fatalf("the letter after the swap is not the new text:\n%s", lastText())
	}

	live.Store(letter.Letters{})
	if code := sign(3); code != http.StatusNotFound {
		t.Fatalf("a letter no longer published: %d, want 404", code)
	}
}

package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestDisguisedFieldsAreFieldErrors: hidden characters, an encoded or
// address-shaped name and a non-ASCII address are each a 422 naming the
// field, and nothing is recorded.
func TestDisguisedFieldsAreFieldErrors(t *testing.T) {
	e := newEnv(t, nil)
	raw, _ := json.Marshal(map[string]any{
		"letter": "family-separation", "first_name": "=?utf-8?q?Barack?=", "last_name": "Doe <potus@whitehouse.gov>",
		"email": "jöhn@example.org", "address": "12 Elm St", "city": "Spring\u200bfield", "state": "IL", "zip": "62701",
		"subject": "Reunite\u202e families", "body": "My letter\U000E0041", "phone": "555 010 0199\ue000",
	})
	resp := e.post(t, "application/json", string(raw), nil)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", resp.StatusCode, readBody(t, resp))
	}
	var answer struct{ Errors map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	for field, says := range map[string]string{
		"first_name": "not encoded", "last_name": "without the characters < > @", "email": "plain letters",
		"city": "invisible formatting", "subject": "invisible formatting", "body": "tag characters", "phone": "private-use",
	} {
		if !strings.Contains(answer.Errors[field], says) {
			t.Errorf("%s: error %q, want it to say %q", field, answer.Errors[field], says)
		}
	}
	if len(answer.Errors) != 7 {
		t.Errorf("errors %v, want the seven fields", answer.Errors)
	}
	if n, _ := e.store.SignatureCount(context.Background()); n != 0 {
		t.Errorf("%d signatures recorded", n)
	}
}

package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"campaignkit/handler"
)

// TestSourceNeverRefusesASignature: a share link carries whatever its
// sharer typed; a line separator in ?source= once made signing impossible.
// Source and the UTM tags are cleaned and kept, or dropped, never a reason
// to refuse.
func TestSourceNeverRefusesASignature(t *testing.T) {
	e := newEnv(t, func(c *handler.Settings) { c.Burst = 100 })
	form := signerForm()
	form.Set("source", " share\u2028link\r\n ")
	form.Set("utm_medium", "e\u200bmail")
	form.Set("utm_campaign", "spring")
	form.Add("utm_campaign", "twice") // the first is kept
	if resp := e.postForm(t, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("form with U+2028 in source: status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	for email, source := range map[string]any{"jane2@example.org": "news\u202eletter\x00", "jane3@example.org": 5} {
		raw, _ := json.Marshal(map[string]any{
			"letter": "family-separation", "first_name": "Jane", "last_name": "Doe", "email": email,
			"address": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701", "source": source,
			"utm_source": "x\uffffy", "utm_term": []string{"not", "a", "string"},
		})
		if resp := e.post(t, "application/json", string(raw), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("JSON with source %q: status %d: %s", source, resp.StatusCode, readBody(t, resp))
		}
	}
	want := map[string][6]string{
		"jane@example.org":  {"share link", "", "email", "spring", "", ""},
		"jane2@example.org": {"newsletter", "xy", "", "", "", ""},
		"jane3@example.org": {"", "xy", "", "", "", ""},
	}
	for email, w := range want {
		var got [6]string
		err := e.store.DB().QueryRowContext(context.Background(),
			`SELECT source, utm_source, utm_medium, utm_campaign, utm_term, utm_content FROM signatures WHERE email = $1`, email).
			Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5])
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s: recorded %q, want %q", email, got, w)
		}
	}
}

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

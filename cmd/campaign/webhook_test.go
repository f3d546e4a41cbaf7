package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"campaignkit/handler/mailgun/mailguntest"
)

// signedEvent is a Mailgun webhook for messageID, signed with key.
func signedEvent(t *testing.T, key, token string, data map[string]any) string {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
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

// campaign serve takes Mailgun's webhooks, and campaign status shows
// what they said.
func TestServeTakesMailgunWebhooks(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	const key = "whk-0123456789abcdef"
	data := t.TempDir()
	env := append(mailgunEnv(mg), noConfirm, "MAILGUN_WEBHOOK_SIGNING_KEY="+key)
	inst := startServe(t, serveOpts{DataDir: data, Env: env})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(inst.URL+"/api/sign", url.Values{"letter": {"family-separation"}, "first_name": {"Jane"},
		"last_name": {"Doe"}, "email": {"jane@example.org"}, "address": {"12 Elm St"}, "city": {"Springfield"},
		"state": {"IL"}, "zip": {"62701"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /api/sign = %d", resp.StatusCode)
	}
	sent := mg.WaitFor(2, 20*time.Second)
	if len(sent) != 2 {
		t.Fatalf("stand-in got %d messages, want 2\n%s", len(sent), inst.Logs())
	}
	status := func() string {
		t.Helper()
		cmd := exec.Command(binary, "status")
		cmd.Dir = repoRoot(t)
		cmd.Env = append([]string{"CAMPAIGN_DATA_DIR=" + data}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("campaign status: %v\n%s", err, out)
		}
		return string(out)
	}
	// A failure recorded after the webhook would undo it: wait for both
	// sends to be recorded first.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(status(), "messages sent           2\n"); {
		if time.Now().After(deadline) {
			t.Fatalf("the letters were not recorded as sent:\n%s", status())
		}
		time.Sleep(100 * time.Millisecond)
	}

	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(inst.URL+"/api/mailgun/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, event := range []string{"delivered", "complained"} {
		id := sent[i].Get("h:Message-Id")
		ev := map[string]any{"event": event, "message": map[string]any{"headers": map[string]any{"message-id": strings.Trim(id, "<>")}}}
		body := signedEvent(t, key, "token-"+event+"-0123456789abcdef0123456789abcdef", ev)
		if got := post(body); got != http.StatusOK {
			t.Fatalf("%s: %d\n%s", event, got, inst.Logs())
		}
		if got := post(body); got != http.StatusNotAcceptable {
			t.Errorf("%s replayed: %d, want 406", event, got)
		}
	}
	out := status()
	for _, want := range []string{"messages delivered      1\n", "messages complained     1\n", "messages sent           0\n", "(marked as spam)"} {
		if !strings.Contains(out, want) {
			t.Errorf("campaign status lacks %q:\n%s", want, out)
		}
	}
}

package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
)

const webhookKey = "whk-0123456789abcdef"

// mailgunDelivered is Mailgun's "delivered" webhook for messageID, signed
// with key, as netlify.toml's rewrite hands it to the function.
func mailgunDelivered(t *testing.T, key, messageID string) events.APIGatewayProxyRequest {
	t.Helper()
	ts, token := strconv.FormatInt(time.Now().Unix(), 10), letter.NewID()+"0123456789abcdef01"
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + token))
	body, err := json.Marshal(map[string]any{
		"signature": map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(m.Sum(nil))},
		"event-data": map[string]any{"event": "delivered", "recipient": "president@whitehouse.example",
			"message": map[string]any{"headers": map[string]any{"message-id": messageID}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/api/mailgun/events",
		Headers: map[string]string{"Content-Type": "application/json", "Host": "letters.example.org"}, Body: string(body)}
}

func TestMailgunEventsNeedTheKeyAndADatabase(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	if resp := invoke(t, function(t, published(t, "production"), env), mailgunDelivered(t, webhookKey, "x.0@mg.example")); resp.StatusCode != 404 {
		t.Errorf("without MAILGUN_WEBHOOK_SIGNING_KEY: %d %s, want 404", resp.StatusCode, resp.Body)
	}
	env["MAILGUN_WEBHOOK_SIGNING_KEY"] = webhookKey
	resp := invoke(t, function(t, published(t, "production"), env), mailgunDelivered(t, webhookKey, "x.0@mg.example"))
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "DATABASE_URL") {
		t.Errorf("without DATABASE_URL: %d %s, want 503 naming it", resp.StatusCode, resp.Body)
	}
}

func TestMailgunEventsThroughTheFunctionWithPostgres(t *testing.T) {
	url := migratedDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"] = url
	env["MAILGUN_WEBHOOK_SIGNING_KEY"] = webhookKey
	fn := function(t, published(t, "production"), env)
	if resp := invoke(t, fn, event(t, "form.json")); resp.StatusCode != 303 {
		t.Fatalf("sign: %d %s", resp.StatusCode, resp.Body)
	}
	sent := mg.Messages()
	if len(sent) != 2 {
		t.Fatalf("%d letters sent inline, want 2", len(sent))
	}
	id := strings.Trim(sent[0].Get("h:Message-Id"), "<>")
	delivered := mailgunDelivered(t, webhookKey, id)
	if resp := invoke(t, fn, delivered); resp.StatusCode != 200 {
		t.Fatalf("delivered: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := invoke(t, fn, delivered); resp.StatusCode != 406 {
		t.Errorf("replayed: %d %s, want 406", resp.StatusCode, resp.Body)
	}
	if resp := invoke(t, fn, mailgunDelivered(t, "whk-not-ours", id)); resp.StatusCode != 406 {
		t.Errorf("forged: %d %s, want 406", resp.StatusCode, resp.Body)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var state string
	if err := db.QueryRow(`SELECT state FROM messages WHERE id = $1`, id).Scan(&state); err != nil || state != letter.StateDelivered {
		t.Errorf("the message is %q (%v), want delivered", state, err)
	}
}

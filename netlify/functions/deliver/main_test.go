package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/storetest"
)

// A letter whose inline send failed in the sign function is sent by the
// next scheduled run, once its retry time has come.
func TestScheduledRunSendsWhatTheSignFunctionCouldNot(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase(),
		"DATABASE_URL": url, "CAMPAIGN_SEND_TIMEOUT": "500ms"}
	getenv := func(k string) string { return env[k] }
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()

	// As the sign function does, with Mailgun down.
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := cfg.Open(ctx, config.Program{TryInline: time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer parts.Close()
	st := parts.Store
	mg.SetBehaviour(mailguntest.Behaviour{FailRate: 1})
	sig := &letter.Signature{ID: letter.NewID(), Signer: letter.Signer{Letter: "l", FirstName: "F", LastName: "L", Email: "f@example.org",
		Address: "A", City: "C", State: "IL", Zip: "62701"}}
	msgs := []letter.Message{{ID: sig.ID + ".0@mg.example", TargetEmail: "t@gov.example", To: "t@gov.example", From: "letters@mg.example",
		ReplyTo: "f@example.org", Subject: "S", Text: "T", Tag: "l"}}
	if _, err := parts.Recorder.Record(ctx, sig, msgs); err != nil {
		t.Fatal(err)
	}
	if m, _ := st.Message(ctx, msgs[0].ID); m.State != letter.StateQueued || m.Attempts != 1 {
		t.Fatalf("after the failed inline send: %s, %d attempts", m.State, m.Attempts)
	}

	// Mailgun recovers; the next runs deliver it.
	mg.SetBehaviour(mailguntest.Behaviour{})
	deadline := time.Now().Add(30 * time.Second)
	for len(mg.Messages()) == 0 && time.Now().Before(deadline) {
		if resp := run(ctx, getenv, log); resp.StatusCode != 200 {
			t.Fatalf("run: %d %s", resp.StatusCode, resp.Body)
		}
	}
	if n := len(mg.Messages()); n != 1 {
		t.Fatalf("%d letters arrived, want 1", n)
	}
	if m, _ := st.Message(ctx, msgs[0].ID); m.State != letter.StateSent {
		t.Fatalf("state %s, want sent", m.State)
	}
}

func TestRunWithoutDatabaseDoesNothing(t *testing.T) {
	resp := run(context.Background(), func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

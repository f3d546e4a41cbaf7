package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler"
	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store"
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

// A scheduled run deletes signatures left unconfirmed past their link's
// life: on Netlify no process lives long enough for River's periodic job.
func TestScheduledRunDeletesExpiredUnconfirmedSignatures(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase(),
		"DATABASE_URL": url, "CAMPAIGN_CONFIRM_TTL": "1h"}
	getenv := func(k string) string { return env[k] }
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := cfg.Open(ctx, config.Program{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer parts.Close()
	sig := &letter.Signature{ID: letter.NewID(), State: letter.SignatureUnconfirmed, TokenHash: letter.HashToken("t"),
		Signer: letter.Signer{Letter: "l", FirstName: "F", LastName: "L", Email: "f@example.org", Address: "A", City: "C", State: "IL", Zip: "62701"}}
	msgs := []letter.Message{{ID: sig.ID + ".0@mg.example", TargetEmail: "t@gov.example", To: "t@gov.example", From: "letters@mg.example",
		ReplyTo: "f@example.org", Subject: "S", Text: "T", Tag: "l", State: letter.StateUnconfirmed}}
	if _, err := parts.Recorder.Record(ctx, sig, msgs); err != nil {
		t.Fatal(err)
	}
	if _, err := parts.Store.DB().ExecContext(ctx, `UPDATE signatures SET created_at = $1`, time.Now().UTC().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if resp := run(ctx, getenv, log); resp.StatusCode != 200 {
		t.Fatalf("run: %d %s", resp.StatusCode, resp.Body)
	}
	states, err := parts.Store.SignatureStates(ctx)
	if err != nil || states[letter.SignatureUnconfirmed] != 0 || states["expired"] != 1 {
		t.Fatalf("after a scheduled run: %v, %v; want the unconfirmed signature expired", states, err)
	}
}

// A scheduled run applies the retention itself, for the same reason.
func TestScheduledRunPurgesPersonalDataPastRetention(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase(),
		"DATABASE_URL": url, "CAMPAIGN_CONFIRM_TTL": "1h", "CAMPAIGN_RETENTION": "1h"}
	getenv := func(k string) string { return env[k] }
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if err := config.MigratePostgres(ctx, url); err != nil {
		t.Fatal(err)
	}
	parts, err := cfg.Open(ctx, config.Program{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer parts.Close()
	sig := &letter.Signature{ID: letter.NewID(), Signer: letter.Signer{Letter: "l", FirstName: "Ann", LastName: "Lee",
		Email: "ann@example.org", Address: "A", City: "C", State: "IL", Zip: "62701"}}
	msgs := []letter.Message{{ID: sig.ID + ".0@mg.example", TargetEmail: "t@gov.example", To: "t@gov.example", From: "letters@mg.example",
		ReplyTo: "ann@example.org", Subject: "S", Text: "T", Tag: "l", State: letter.StateQueued}}
	if _, err := parts.Store.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := parts.Store.MarkSent(ctx, msgs[0].ID, "<1@mg>"); err != nil {
		t.Fatal(err)
	}
	if _, err := parts.Store.DB().ExecContext(ctx, `UPDATE signatures SET created_at = $1`, time.Now().UTC().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if resp := run(ctx, getenv, log); resp.StatusCode != 200 {
		t.Fatalf("run: %d %s", resp.StatusCode, resp.Body)
	}
	var email string
	if err := parts.Store.DB().QueryRowContext(ctx, `SELECT email FROM signatures WHERE id = $1`, sig.ID).Scan(&email); err != nil || email != "" {
		t.Fatalf("after a scheduled run the signer's email is %q (%v), want it deleted", email, err)
	}
}

// Without a queue to work (no DATABASE_URL: the sign function sends
// directly; no MAILGUN_API_KEY: nothing may be sent) a scheduled run does
// nothing: it says so, sends nothing and creates nothing, not even the
// queue's tables.
func TestRunWithoutDatabaseDoesNothing(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	tests := []struct {
		name     string
		env      map[string]string
		database bool // DATABASE_URL names a fresh database
	}{
		{"nothing set", map[string]string{}, false},
		{"Mailgun without a database", map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase()}, false},
		{"a database without Mailgun's key", map[string]string{"MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase()}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"CAMPAIGN_DATA_DIR": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			var db *sql.DB
			if tt.database {
				env["DATABASE_URL"] = storetest.NewPostgresDatabase(t)
				var err error
				if db, err = sql.Open("pgx", env["DATABASE_URL"]); err != nil {
					t.Fatal(err)
				}
				defer db.Close()
			}
			callsBefore, _ := mg.Calls()
			resp := run(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
			if resp.StatusCode != 200 || !strings.Contains(resp.Body, "no queue") {
				t.Fatalf("run: %d %q, want 200 saying there is no queue", resp.StatusCode, resp.Body)
			}
			// run returns only when its work is done: whatever it would
			// have sent has reached the stand-in by now.
			if calls, _ := mg.Calls(); calls != callsBefore {
				t.Errorf("the run made %d calls to Mailgun", calls-callsBefore)
			}
			if entries, err := os.ReadDir(env["CAMPAIGN_DATA_DIR"]); err != nil || len(entries) != 0 {
				t.Errorf("the run left %d entries in the data folder (%v)", len(entries), err)
			}
			if db != nil {
				var job sql.NullString
				if err := db.QueryRow("SELECT to_regclass('river_job')::text").Scan(&job); err != nil {
					t.Fatal(err)
				}
				var tables int
				if err := db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&tables); err != nil {
					t.Fatal(err)
				}
				if job.Valid || tables != 0 {
					t.Errorf("the run created tables: river_job %q, %d in all", job.String, tables)
				}
			}
		})
	}
}

// schedulerEvent is the event Netlify's scheduler sends (as netlify dev
// imitates it).
func schedulerEvent() events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Path: "/.netlify/functions/deliver",
		Headers: map[string]string{"user-agent": "Netlify Clockwork", "x-nf-event": "schedule"},
		Body:    `{"next_run":"2026-03-01T12:01:00.000Z"}`,
	}
}

// A call that is not the scheduler's does nothing: not even the
// configuration is read, so no database is opened and nothing is sent.
func TestURLCallsDoNothing(t *testing.T) {
	withBody := func(method, body string, base64Encoded bool) events.APIGatewayProxyRequest {
		ev := schedulerEvent()
		ev.HTTPMethod, ev.Body, ev.IsBase64Encoded = method, body, base64Encoded
		return ev
	}
	for name, ev := range map[string]events.APIGatewayProxyRequest{
		"GET":                           withBody("GET", "", false),
		"GET with the scheduler's body": withBody("GET", `{"next_run":"2026-03-01T12:01:00Z"}`, false),
		"POST without a body":           withBody("POST", "", false),
		"POST of a form":                withBody("POST", "letter=family-separation&email=a%40example.org", false),
		"POST of other JSON":            withBody("POST", `{"letter":"family-separation"}`, false),
		"next_run not a time":           withBody("POST", `{"next_run":"now"}`, false),
		"next_run not a string":         withBody("POST", `{"next_run":1}`, false),
		"body not base64":               withBody("POST", `{"next_run":"2026-03-01T12:01:00Z"}`, true),
	} {
		t.Run(name, func(t *testing.T) {
			read := false
			getenv := func(string) string { read = true; return "" }
			resp := handle(context.Background(), ev, getenv, slog.New(slog.DiscardHandler))
			if resp.StatusCode != 404 {
				t.Errorf("status %d %q, want 404", resp.StatusCode, resp.Body)
			}
			if read {
				t.Error("the call read the configuration: it would have worked the queue")
			}
			checkSecurityHeaders(t, resp)
		})
	}
}

// The scheduler's call runs, its body plain or base64-encoded; each of
// the run's answers carries the security headers.
func TestSchedulerCallRuns(t *testing.T) {
	encoded := schedulerEvent()
	encoded.Body, encoded.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(encoded.Body)), true
	quiet := slog.New(slog.DiscardHandler)
	for name, ev := range map[string]events.APIGatewayProxyRequest{"plain": schedulerEvent(), "base64": encoded} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"CAMPAIGN_DATA_DIR": t.TempDir()}
			resp := handle(context.Background(), ev, func(k string) string { return env[k] }, quiet)
			if resp.StatusCode != 200 || !strings.Contains(resp.Body, "no queue") {
				t.Fatalf("run: %d %q, want 200 saying there is no queue", resp.StatusCode, resp.Body)
			}
			checkSecurityHeaders(t, resp)
		})
	}
	bad := map[string]string{"CAMPAIGN_SEND_TIMEOUT": "soon"}
	resp := handle(context.Background(), schedulerEvent(), func(k string) string { return bad[k] }, quiet)
	if resp.StatusCode != 500 {
		t.Fatalf("with a bad configuration: %d %q, want 500", resp.StatusCode, resp.Body)
	}
	checkSecurityHeaders(t, resp)
}

func checkSecurityHeaders(t *testing.T, r events.APIGatewayProxyResponse) {
	t.Helper()
	want := http.Header{}
	handler.SecurityHeaders(want, "")
	for name := range want {
		if len(r.MultiValueHeaders[name]) == 0 || r.MultiValueHeaders[name][0] == "" {
			t.Errorf("no %s: %v", name, r.MultiValueHeaders)
		}
	}
}

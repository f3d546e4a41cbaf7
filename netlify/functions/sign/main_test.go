package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/storetest"
	"campaignkit/netlify/lambda"
)

// published is the letters as a build leaves them in the function's folder,
// with the deploy context.
func published(t *testing.T, deployContext string) fs.FS {
	t.Helper()
	files := fstest.MapFS{}
	site := os.DirFS("../../../handler/testdata/site")
	err := fs.WalkDir(site, "letters", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(site, path)
		files[path] = &fstest.MapFile{Data: raw}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files["letters/build.json"] = &fstest.MapFile{Data: []byte(`{"context":"` + deployContext + `"}`)}
	return files
}

func event(t *testing.T, name string) events.APIGatewayProxyRequest {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func function(t *testing.T, files fs.FS, env map[string]string) lambda.Adapter {
	h := newHandler(context.Background(), files, func(k string) string { return env[k] }, quiet())
	return lambda.Adapter{Handler: h, Paths: map[string]string{"/.netlify/functions/sign": "/api/sign"}}
}

func mailgunEnv(mg *mailguntest.Server) map[string]string {
	return map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase()}
}

func header(r events.APIGatewayProxyResponse, name string) string {
	if v := r.MultiValueHeaders[name]; len(v) > 0 {
		return v[0]
	}
	return r.Headers[name]
}

func TestEventsWithoutDatabase(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	fn := function(t, published(t, "production"), mailgunEnv(mg))
	tests := []struct {
		event    string
		status   int
		location string
		body     string // part of the body
		letters  int    // letters at the stand-in after this event
	}{
		{"form.json", 303, "/thanks/", "", 2},
		{"form-base64-function-path.json", 303, "/thanks/", "", 4},
		{"json.json", 200, "", `"status":"accepted"`, 6},
		{"invalid-form.json", 422, "", "Please enter your first name.", 6},
		{"get.json", 405, "", `"errors"`, 6},
		{"bad-base64.json", 400, "", "not valid base64", 6},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			resp, err := fn.Invoke(context.Background(), event(t, tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, resp.Body)
			}
			if got := header(resp, "Location"); got != tt.location {
				t.Errorf("Location = %q, want %q", got, tt.location)
			}
			if !strings.Contains(resp.Body, tt.body) {
				t.Errorf("body lacks %q:\n%s", tt.body, resp.Body)
			}
			if tt.status != 400 { // the adapter's own answer for unreadable events
				for _, h := range []string{"Content-Security-Policy", "Strict-Transport-Security", "X-Content-Type-Options", "Referrer-Policy", "Permissions-Policy"} {
					if header(resp, h) == "" {
						t.Errorf("response lacks %s", h)
					}
				}
			}
			if n := len(mg.Messages()); n != tt.letters {
				t.Errorf("stand-in has %d letters, want %d", n, tt.letters)
			}
		})
	}
	for _, m := range mg.Messages()[:2] {
		if !strings.Contains(m.Get("text"), "My own words.\nSecond line.") {
			t.Errorf("the edited letter did not arrive as typed:\n%s", m.Get("text"))
		}
	}
}

func TestClientIPFromNetlifyHeader(t *testing.T) {
	req, err := lambda.Request(context.Background(), event(t, "form.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.RemoteAddr != "203.0.113.7:0" {
		t.Fatalf("RemoteAddr = %q, want Netlify's client address", req.RemoteAddr)
	}
	ev := event(t, "form.json")
	delete(ev.Headers, "x-nf-client-connection-ip")
	ev.Headers["x-forwarded-for"] = "6.6.6.6" // what a client claims is not trusted
	req, _ = lambda.Request(context.Background(), ev, nil)
	if req.RemoteAddr != "10.1.2.3:0" {
		t.Fatalf("RemoteAddr = %q, want the request context's source IP", req.RemoteAddr)
	}
	ev.Headers["x-nf-client-connection-ip"] = "2001:db8::7"
	req, _ = lambda.Request(context.Background(), ev, nil)
	if got := handler.RemoteIP(req); got != "2001:db8::7" {
		t.Fatalf("IPv6 client: RemoteAddr %q gives %q", req.RemoteAddr, got)
	}
}

func TestDatabaseDownAtColdStartRecovers(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	admin, err := sql.Open("pgx", os.Getenv(storetest.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := url[strings.LastIndex(url, "/")+1:]
	if i := strings.Index(name, "?"); i >= 0 {
		name = name[:i]
	}
	// The database is not there when the function starts…
	if _, err := admin.Exec("DROP DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"] = url
	fn := function(t, published(t, "production"), env)
	resp, _ := fn.Invoke(context.Background(), event(t, "form.json"))
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "try again") {
		t.Fatalf("database down: %d %s", resp.StatusCode, resp.Body)
	}
	// …and back a moment later: the same warm function takes letters.
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	resp, _ = fn.Invoke(context.Background(), event(t, "form.json"))
	if resp.StatusCode != 303 {
		t.Fatalf("database back: %d %s", resp.StatusCode, resp.Body)
	}
	if n := len(mg.Messages()); n != 2 {
		t.Fatalf("%d letters, want 2", n)
	}
}

func TestDeployPreviewNeverMailsOfficials(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()

	// Without a sandbox address, a preview refuses to send at all.
	fn := function(t, published(t, "deploy-preview"), mailgunEnv(mg))
	resp, _ := fn.Invoke(context.Background(), event(t, "form.json"))
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "preview") || !strings.Contains(resp.Body, "Springfield") {
		t.Fatalf("preview without sandbox: %d\n%s", resp.StatusCode, resp.Body)
	}
	// With one, every letter goes there.
	env := mailgunEnv(mg)
	env["CAMPAIGN_SANDBOX_TO"] = "staging@example.org"
	fn = function(t, published(t, "branch-deploy"), env)
	resp, _ = fn.Invoke(context.Background(), event(t, "form.json"))
	if resp.StatusCode != 303 {
		t.Fatalf("preview with sandbox: %d %s", resp.StatusCode, resp.Body)
	}
	msgs := mg.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d letters, want 2", len(msgs))
	}
	for _, m := range msgs {
		if m.Get("to") != "staging@example.org" {
			t.Errorf("a preview letter went to %q", m.Get("to"))
		}
	}
}

func TestMissingSetupAnswers503(t *testing.T) {
	// No Mailgun key: nothing can be sent, and the supporter is told.
	fn := function(t, published(t, "production"), nil)
	resp, _ := fn.Invoke(context.Background(), event(t, "form.json"))
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "not set up") {
		t.Fatalf("no key: %d %s", resp.StatusCode, resp.Body)
	}
	// A function built without letters says so instead of crashing.
	fn = function(t, fstest.MapFS{"letters/README.md": {Data: []byte("x")}}, nil)
	resp, _ = fn.Invoke(context.Background(), event(t, "form.json"))
	if resp.StatusCode != 503 {
		t.Fatalf("no letters: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestDurableWithPostgres(t *testing.T) {
	url := storetest.NewPostgresDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"] = url
	fn := function(t, published(t, "production"), env)
	resp, _ := fn.Invoke(context.Background(), event(t, "form.json"))
	if resp.StatusCode != 303 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	// Sent at once, inside the call.
	if n := len(mg.Messages()); n != 2 {
		t.Fatalf("%d letters after the call, want 2 sent inline", n)
	}
	// A repeat is recognised: no new mail.
	resp, _ = fn.Invoke(context.Background(), event(t, "form.json"))
	if resp.StatusCode != 303 || len(mg.Messages()) != 2 {
		t.Fatalf("repeat: %d, %d letters", resp.StatusCode, len(mg.Messages()))
	}

	// When Mailgun fails during the call the letter is still accepted and
	// left to the scheduled deliver function (see ../deliver).
	mg.SetBehaviour(mailguntest.Behaviour{FailRate: 1})
	ev := event(t, "json.json")
	start := time.Now()
	resp, _ = fn.Invoke(context.Background(), ev)
	if resp.StatusCode != 200 {
		t.Fatalf("with Mailgun down: %d %s", resp.StatusCode, resp.Body)
	}
	if time.Since(start) > 8*time.Second {
		t.Errorf("the call took %v: longer than a Netlify function may", time.Since(start))
	}
}

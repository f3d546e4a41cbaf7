package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler"
	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/storetest"
	"campaignkit/netlify/buildinfo"
	"campaignkit/netlify/lambda"
)

// published is the letters as a build leaves them in the function's folder,
// with the deploy context: the Spanish ones under letters/_translations.
func published(t *testing.T, deployContext string) fs.FS {
	t.Helper()
	files := fstest.MapFS{}
	site := os.DirFS("../../../handler/testdata/site")
	for dir, to := range map[string]string{"letters": "letters", "es/letters": "letters/" + buildinfo.Translations + "/es/letters"} {
		err := fs.WalkDir(site, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			raw, err := fs.ReadFile(site, p)
			files[path.Join(to, strings.TrimPrefix(p, dir))] = &fstest.MapFile{Data: raw}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
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
	return lambda.Adapter{Handler: h, Paths: paths}
}

// mailgunEnv sends through the stand-in, letters without the signer's
// confirmation: these tests are about the sending (TestConfirmation… keeps
// the default).
func mailgunEnv(mg *mailguntest.Server) map[string]string {
	return map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase(),
		"CAMPAIGN_CONFIRM": "off"}
}

func header(r events.APIGatewayProxyResponse, name string) string {
	if v := r.MultiValueHeaders[name]; len(v) > 0 {
		return v[0]
	}
	return r.Headers[name]
}

// invoke calls the function and fails the test if the call itself fails
// (Lambda would answer 502 then).
func invoke(t *testing.T, fn lambda.Adapter, ev events.APIGatewayProxyRequest) events.APIGatewayProxyResponse {
	t.Helper()
	resp, err := fn.Invoke(context.Background(), ev)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	return resp
}

// markerEmail signs the marker letter, which no fixture uses.
const markerEmail = "marker@example.org"

// replyTo is the supporter address a letter at the stand-in answers to.
func replyTo(m mailguntest.Received) string { return m.Get("h:Reply-To") }

// lettersBefore posts a good signature from markerEmail, waits until its
// letters reach the stand-in and returns the letters that arrived apart
// from them. A check that an earlier event sent nothing (or nothing more)
// thus waits until that event's letters, had there been any, would have
// arrived: they go out before a later signature's.
func lettersBefore(t *testing.T, fn lambda.Adapter, mg *mailguntest.Server) []mailguntest.Received {
	t.Helper()
	ev := event(t, "json.json")
	ev.Body = strings.Replace(ev.Body, "jose@example.org", markerEmail, 1)
	if resp := invoke(t, fn, ev); resp.StatusCode != 200 {
		t.Fatalf("marker signature: %d %s", resp.StatusCode, resp.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var marker int
		var others []mailguntest.Received
		for _, m := range mg.Messages() {
			if strings.Contains(replyTo(m), markerEmail) {
				marker++
			} else {
				others = append(others, m)
			}
		}
		if marker >= 2 {
			return others
		}
		if time.Now().After(deadline) {
			t.Fatalf("the marker's letters did not arrive: %d of 2", marker)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Each event runs against a function and stand-in of its own, so that the
// subtests hold in any order and alone.
func TestEventsWithoutDatabase(t *testing.T) {
	tests := []struct {
		event    string
		status   int
		location string
		body     string // part of the body
		letters  int    // letters this event sends
		from     string // whose letters they are
		edited   bool   // the letter carries the supporter's own words
	}{
		{"form.json", 303, "/thanks/", "", 2, "jane@example.org", true},
		{"form-base64-function-path.json", 303, "/thanks/", "", 2, "jane@example.org", true},
		{"json.json", 200, "", `"status":"accepted"`, 2, "jose@example.org", false},
		{"invalid-form.json", 422, "", "Please enter your first name.", 0, "", false},
		{"honeypot.json", 422, "", "This field must stay empty.", 0, "", false},
		{"get.json", 405, "", `"errors"`, 0, "", false},
		{"bad-base64.json", 400, "", "not valid base64", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			mg := mailguntest.New()
			defer mg.Close()
			fn := function(t, published(t, "production"), mailgunEnv(mg))
			resp := invoke(t, fn, event(t, tt.event))
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
			got := lettersBefore(t, fn, mg)
			if len(got) != tt.letters {
				t.Fatalf("the event sent %d letters, want %d", len(got), tt.letters)
			}
			for _, m := range got {
				if !strings.Contains(replyTo(m), tt.from) {
					t.Errorf("a letter answers to %q, want %s", replyTo(m), tt.from)
				}
				if tt.edited && !strings.Contains(m.Get("text"), "My own words.\nSecond line.") {
					t.Errorf("the edited letter did not arrive as typed:\n%s", m.Get("text"))
				}
			}
		})
	}
}

// In direct mode (no database) a letter whose sends all fail is not sent,
// and the supporter is told so, after each message was tried three times.
func TestDirectModeTellsTheSupporterWhenMailgunFails(t *testing.T) {
	files := published(t, "production")
	letters, err := letter.Load(buildinfo.Site(files))
	if err != nil {
		t.Fatal(err)
	}
	targets := len(letters["family-separation"].Targets)
	if targets != 2 {
		t.Fatalf("the test letter has %d targets; the fixtures expect 2", targets)
	}
	for _, ev := range []string{"form.json", "json.json"} {
		t.Run(ev, func(t *testing.T) {
			t.Parallel()
			mg := mailguntest.New()
			defer mg.Close()
			mg.SetBehaviour(mailguntest.Behaviour{FailRate: 1})
			fn := function(t, files, mailgunEnv(mg))
			start := time.Now()
			resp := invoke(t, fn, event(t, ev))
			took := time.Since(start)
			if resp.StatusCode != 500 {
				t.Fatalf("status %d, want 500: %s", resp.StatusCode, resp.Body)
			}
			if loc := header(resp, "Location"); loc != "" {
				t.Errorf("Location %q: the supporter is sent on as if the letter went out", loc)
			}
			const notSent = "your letter was not sent"
			if ev == "json.json" {
				var out struct {
					Status string
					Errors map[string]string
				}
				if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
					t.Fatalf("JSON answer: %v\n%s", err, resp.Body)
				}
				if out.Status == "accepted" || !strings.Contains(out.Errors["request"], notSent) {
					t.Errorf("the JSON answer does not say the letter was not sent: %s", resp.Body)
				}
			} else {
				if !strings.Contains(resp.Body, notSent) {
					t.Errorf("the page does not say the letter was not sent:\n%s", resp.Body)
				}
				if !strings.Contains(resp.Body, "Springfield") {
					t.Errorf("the page does not keep what the supporter typed:\n%s", resp.Body)
				}
			}
			calls, statuses := mg.Calls()
			if calls != 3*targets || statuses[500] != 3*targets {
				t.Errorf("the stand-in saw %d calls (%v), want 3 attempts for each of %d messages", calls, statuses, targets)
			}
			if n := len(mg.Messages()); n != 0 {
				t.Errorf("the stand-in accepted %d letters", n)
			}
			if took > 8*time.Second {
				t.Errorf("the call took %v: longer than a Netlify function may", took)
			}
		})
	}
}

// The handler the function wires reads the client's address where the
// adapter puts it: Netlify's header, else the request context's source IP;
// never what the client claims in X-Forwarded-For.
func TestClientIPFromNetlifyHeader(t *testing.T) {
	noHeader := func(ev *events.APIGatewayProxyRequest) { delete(ev.Headers, "x-nf-client-connection-ip") }
	tests := []struct {
		name string
		edit func(ev *events.APIGatewayProxyRequest)
		want string
	}{
		{"Netlify's header", func(*events.APIGatewayProxyRequest) {}, "203.0.113.7"},
		{"source IP", noHeader, "10.1.2.3"},
		{"IPv6", func(ev *events.APIGatewayProxyRequest) { ev.Headers["x-nf-client-connection-ip"] = "2001:db8::7" }, "2001:db8::7"},
		{"a list in Netlify's header", func(ev *events.APIGatewayProxyRequest) {
			ev.Headers["x-nf-client-connection-ip"] = "6.6.6.6, 203.0.113.7"
		}, "10.1.2.3"},
		{"neither", func(ev *events.APIGatewayProxyRequest) { noHeader(ev); ev.RequestContext.Identity.SourceIP = "" }, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event(t, "form.json")
			ev.Headers["x-forwarded-for"] = "6.6.6.6" // what a client claims is not trusted
			tt.edit(&ev)
			req, err := lambda.Request(context.Background(), ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := handler.RemoteIP(req).String(); got != tt.want {
				t.Errorf("RemoteAddr %q gives %q, want %q", req.RemoteAddr, got, tt.want)
			}
		})
	}
}

// signer is the JSON fixture's event, signed by the nth address, from ip
// (Netlify's header; none when empty, nor a source IP).
func signer(t *testing.T, n int, ip string) events.APIGatewayProxyRequest {
	t.Helper()
	ev := event(t, "json.json")
	ev.Body = strings.Replace(ev.Body, "jose@example.org", fmt.Sprintf("limit%d@example.org", n), 1)
	ev.Headers["x-nf-client-connection-ip"] = ip
	if ip == "" {
		delete(ev.Headers, "x-nf-client-connection-ip")
		ev.RequestContext.Identity.SourceIP = ""
	}
	return ev
}

// Requests whose client Netlify did not name are not limited as one
// client (before, all of them shared 0.0.0.0's ten signatures), while one
// named client still is.
func TestUnknownClientsDoNotShareABucket(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	fn := function(t, published(t, "production"), mailgunEnv(mg))
	for i := range 12 {
		if resp := invoke(t, fn, signer(t, i, "")); resp.StatusCode != 200 {
			t.Fatalf("unknown client %d: %d %s", i+1, resp.StatusCode, resp.Body)
		}
	}
	statuses := []int{}
	for i := range 12 {
		statuses = append(statuses, invoke(t, fn, signer(t, 100+i, "203.0.113.7")).StatusCode)
	}
	if statuses[9] != 200 || statuses[10] != 429 {
		t.Fatalf("one client's statuses %v: want its burst of 10, then 429", statuses)
	}
}

// With a database and CAMPAIGN_SECRET, every instance of the function
// counts a client's signatures in the database: two cold starts together
// allow one burst, not one each.
func TestInstancesShareTheLimitInTheDatabase(t *testing.T) {
	url := migratedDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"] = url
	env["CAMPAIGN_SECRET"] = "a secret of at least sixteen bytes"
	one := function(t, published(t, "production"), env)
	two := function(t, published(t, "production"), env)
	allowed := 0
	for i := range 20 {
		fn := one
		if i%2 == 1 {
			fn = two
		}
		switch resp := invoke(t, fn, signer(t, i, "2001:db8:1:2::"+strconv.Itoa(i+1))); resp.StatusCode {
		case 200:
			allowed++
		case 429:
		default:
			t.Fatalf("signature %d: %d %s", i+1, resp.StatusCode, resp.Body)
		}
	}
	if allowed != 10 {
		t.Fatalf("two instances allowed %d signatures from one /64, want one burst of 10", allowed)
	}
}

func TestDatabaseDownAtColdStartRecovers(t *testing.T) {
	url := migratedDatabase(t)
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
	down := invoke(t, fn, event(t, "form.json"))
	if down.StatusCode != 503 || !strings.Contains(down.Body, "try again") || !strings.Contains(down.Body, "was not sent") {
		t.Fatalf("database down: %d %s", down.StatusCode, down.Body)
	}
	// …and back a moment later, as its deploy left it: the same warm
	// function takes letters.
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	if err := config.MigratePostgres(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	back := invoke(t, fn, event(t, "form.json"))
	if back.StatusCode != 303 || header(back, "Location") != "/thanks/" {
		t.Fatalf("database back: %d %s", back.StatusCode, back.Body)
	}
	// Two letters: the second signature's; the refused one sent none.
	if got := lettersBefore(t, fn, mg); len(got) != 2 {
		t.Fatalf("%d letters, want 2", len(got))
	}
}

func TestDeployPreviewNeverMailsOfficials(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()

	// Without a sandbox address, a preview refuses to send at all…
	preview := function(t, published(t, "deploy-preview"), mailgunEnv(mg))
	refused := invoke(t, preview, event(t, "form.json"))
	if refused.StatusCode != 503 || !strings.Contains(refused.Body, "preview") || !strings.Contains(refused.Body, "Springfield") {
		t.Fatalf("preview without sandbox: %d\n%s", refused.StatusCode, refused.Body)
	}
	// …so once a production signature's letters arrived at the same
	// stand-in, nothing else has.
	if got := lettersBefore(t, function(t, published(t, "production"), mailgunEnv(mg)), mg); len(got) != 0 {
		t.Fatalf("the refused preview post sent %d letters", len(got))
	}

	// With one, every letter goes there.
	mg = mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["CAMPAIGN_SANDBOX_TO"] = "staging@example.org"
	branch := function(t, published(t, "branch-deploy"), env)
	resp := invoke(t, branch, event(t, "form.json"))
	if resp.StatusCode != 303 {
		t.Fatalf("preview with sandbox: %d %s", resp.StatusCode, resp.Body)
	}
	msgs := lettersBefore(t, branch, mg)
	if len(msgs) != 2 {
		t.Fatalf("%d letters, want 2", len(msgs))
	}
	for _, m := range mg.Messages() { // the marker's too
		if m.Get("to") != "staging@example.org" {
			t.Errorf("a preview letter went to %q", m.Get("to"))
		}
	}
}

func TestMissingSetupAnswers503(t *testing.T) {
	// No Mailgun key: nothing can be sent, and the supporter is told.
	fn := function(t, published(t, "production"), nil)
	noKey := invoke(t, fn, event(t, "form.json"))
	if noKey.StatusCode != 503 || !strings.Contains(noKey.Body, "not set up") || !strings.Contains(noKey.Body, "was not sent") {
		t.Fatalf("no key: %d %s", noKey.StatusCode, noKey.Body)
	}
	// A function built without letters says so instead of crashing.
	fn = function(t, fstest.MapFS{"letters/README.md": {Data: []byte("x")}}, nil)
	noLetters := invoke(t, fn, event(t, "form.json"))
	if noLetters.StatusCode != 503 || !strings.Contains(noLetters.Body, "cannot take letters yet") || header(noLetters, "Retry-After") == "" {
		t.Fatalf("no letters: %d %v %s", noLetters.StatusCode, noLetters.MultiValueHeaders, noLetters.Body)
	}
}

func TestDurableWithPostgres(t *testing.T) {
	url := migratedDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	env["DATABASE_URL"] = url
	fn := function(t, published(t, "production"), env)
	first := invoke(t, fn, event(t, "form.json"))
	if first.StatusCode != 303 {
		t.Fatalf("status %d: %s", first.StatusCode, first.Body)
	}
	// Sent at once, inside the call.
	if n := len(mg.Messages()); n != 2 {
		t.Fatalf("%d letters after the call, want 2 sent inline", n)
	}
	// A repeat is recognised: no new mail, once another signature's
	// letters have arrived.
	repeat := invoke(t, fn, event(t, "form.json"))
	if repeat.StatusCode != 303 {
		t.Fatalf("repeat: %d %s", repeat.StatusCode, repeat.Body)
	}
	if got := lettersBefore(t, fn, mg); len(got) != 2 {
		t.Fatalf("repeat: %d letters from the signer, want the first signature's 2", len(got))
	}

	// When Mailgun fails during the call the letter is still accepted and
	// left to the scheduled deliver function (see ../deliver).
	mg.SetBehaviour(mailguntest.Behaviour{FailRate: 1})
	start := time.Now()
	down := invoke(t, fn, event(t, "json.json"))
	if down.StatusCode != 200 || !strings.Contains(down.Body, `"status":"accepted"`) {
		t.Fatalf("with Mailgun down: %d %s", down.StatusCode, down.Body)
	}
	if time.Since(start) > 8*time.Second {
		t.Errorf("the call took %v: longer than a Netlify function may", time.Since(start))
	}
}

func TestConfirmationThroughTheFunctionWithPostgres(t *testing.T) {
	url := migratedDatabase(t)
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	delete(env, "CAMPAIGN_CONFIRM")
	env["DATABASE_URL"] = url
	files := published(t, "production").(fstest.MapFS)
	// The build wrote the deploy's address for the links.
	files["letters/build.json"] = &fstest.MapFile{Data: []byte(`{"context":"production","url":"https://letters.example.org"}`)}
	fn := function(t, files, env)

	signed := invoke(t, fn, event(t, "form.json"))
	if signed.StatusCode != 303 || header(signed, "Location") != "/check-your-inbox/" {
		t.Fatalf("sign: %d %q %s", signed.StatusCode, header(signed, "Location"), signed.Body)
	}
	// Nothing is mailed inside the call, so the answer takes as long
	// whether a confirmation goes out or the address was mailed lately:
	// the scheduled deliver function sends it (here, a worker like it).
	if n := len(mg.Messages()); n != 0 {
		t.Fatalf("the call sent %d messages, want none", n)
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	parts, err := cfg.Open(context.Background(), config.Program{Workers: 1}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer parts.Close()
	if _, err := parts.Queue.WorkFor(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	msgs := mg.Messages()
	if len(msgs) != 1 || msgs[0].Get("o:tag") != "confirm" {
		t.Fatalf("after a delivery run the stand-in got %d messages, want the confirmation alone", len(msgs))
	}
	link := regexp.MustCompile(`https://letters\.example\.org(/api/confirm/[A-Za-z0-9_-]+)`).FindStringSubmatch(msgs[0].Get("text"))
	if link == nil {
		t.Fatalf("no link in the confirmation:\n%s", msgs[0].Get("text"))
	}
	open := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: link[1], Headers: map[string]string{"Host": "letters.example.org"}}
	if page := invoke(t, fn, open); page.StatusCode != 200 || !strings.Contains(page.Body, `action="`+link[1]+`"`) {
		t.Fatalf("opening the link: %d\n%s", page.StatusCode, page.Body)
	}
	if n := len(mg.Messages()); n != 1 {
		t.Fatalf("opening the link sent %d messages", n-1)
	}
	confirm := open
	confirm.HTTPMethod = "POST"
	done := invoke(t, fn, confirm)
	if done.StatusCode != 303 || header(done, "Location") != "/thanks/" {
		t.Fatalf("confirming: %d %q %s", done.StatusCode, header(done, "Location"), done.Body)
	}
	if n := len(mg.Messages()); n != 3 {
		t.Fatalf("after confirming the stand-in got %d messages, want the 2 letters sent inline too", n)
	}
	if again := invoke(t, fn, confirm); again.StatusCode != 200 || !strings.Contains(again.Body, "already sent on") || len(mg.Messages()) != 3 {
		t.Fatalf("confirming again: %d, %d messages", again.StatusCode, len(mg.Messages()))
	}
}

func TestConfirmationNeedsADatabase(t *testing.T) {
	mg := mailguntest.New()
	defer mg.Close()
	env := mailgunEnv(mg)
	delete(env, "CAMPAIGN_CONFIRM")
	fn := function(t, published(t, "production"), env)
	resp := invoke(t, fn, event(t, "json.json"))
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, "confirmed") || len(mg.Messages()) != 0 {
		t.Fatalf("without a database: %d %s, %d sent", resp.StatusCode, resp.Body, len(mg.Messages()))
	}
}

// Called directly, the function's URL reaches the handler's path: the
// signature endpoint and the confirmation link, token in the path or not.
func TestDirectCallPaths(t *testing.T) {
	for from, want := range map[string]string{
		"/.netlify/functions/sign":                "/api/sign",
		"/.netlify/functions/sign/confirm":        "/api/confirm",
		"/.netlify/functions/sign/confirm/tok3n":  "/api/confirm/tok3n",
		"/api/confirm/tok3n":                      "/api/confirm/tok3n", // through netlify.toml's rewrite
		"/.netlify/functions/sign/confirmation/x": "/api/sign/confirmation/x",
		"/.netlify/functions/sign/mailgun/events": "/api/mailgun/events",
		"/.netlify/functions/sign/admin/stats":    "/api/admin/stats",
	} {
		req, err := lambda.Request(context.Background(), events.APIGatewayProxyRequest{Path: from}, paths)
		if err != nil {
			t.Fatal(err)
		}
		if req.URL.Path != want {
			t.Errorf("%s reaches the handler as %s, want %s", from, req.URL.Path, want)
		}
	}
}

// Every class of answer the function gives carries the security headers:
// the adapter's own 400, the handler's answers and errors, and the 503 of a
// function set up without letters.
func TestEveryAnswerCarriesSecurityHeaders(t *testing.T) {
	fn := function(t, published(t, "production"), nil)
	unknown := event(t, "get.json")
	unknown.Path = "/.netlify/functions/sign/nope"
	tests := []struct {
		name   string
		fn     lambda.Adapter
		ev     events.APIGatewayProxyRequest
		status int
	}{
		{"unreadable event", fn, event(t, "bad-base64.json"), 400},
		{"wrong method", fn, event(t, "get.json"), 405},
		{"unknown path", fn, unknown, 404},
		{"invalid fields", fn, event(t, "invalid-form.json"), 422},
		{"no Mailgun key", fn, event(t, "form.json"), 503},
		{"built without letters", function(t, fstest.MapFS{"letters/README.md": {Data: []byte("x")}}, nil), event(t, "form.json"), 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, tt.fn, tt.ev)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, resp.Body)
			}
			want := http.Header{}
			handler.SecurityHeaders(want, "")
			for name := range want {
				if header(resp, name) == "" {
					t.Errorf("no %s: %v", name, resp.MultiValueHeaders)
				}
			}
			if csp := header(resp, "Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
		})
	}
}

package handler_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/sqlite"
)

const domain = "mg.example"

type env struct {
	srv     *httptest.Server
	mg      *mailguntest.Server
	store   *store.Store
	queue   *queue.Queue
	letters letter.Letters
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv runs the handler with a real SQLite store and delivery queue,
// sending through mailgun-go to a stand-in Mailgun: the parts `campaign
// serve` opens, from the same configuration. Letters go out without the
// signer's confirmation (CAMPAIGN_CONFIRM=off): these tests are about the
// sending; newConfirmEnv keeps the default.
func newEnv(t *testing.T, tweak func(*handler.Settings)) *env {
	t.Helper()
	return newEnvWith(t, map[string]string{"CAMPAIGN_CONFIRM": "off"}, tweak)
}

func newEnvWith(t *testing.T, extra map[string]string, tweak func(*handler.Settings)) *env {
	t.Helper()
	ctx := context.Background()
	letters, err := letter.Load(os.DirFS("testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	mg := mailguntest.New()
	t.Cleanup(mg.Close)
	vars := map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": domain, "MAILGUN_API_BASE": mg.APIBase(),
		"CAMPAIGN_SEND_TIMEOUT": "5s", "CAMPAIGN_DATA_DIR": t.TempDir(), "CAMPAIGN_SITE_URL": "https://letters.example.org"}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	parts, err := cfg.Open(ctx, config.Program{Workers: 2, PollInterval: 100 * time.Millisecond, SQLite: sqlite.Open}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parts.Close() })
	if err := parts.Queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	settings := cfg.Handler(letters, parts.Recorder, parts.Confirmer, quietLog())
	settings.Events = parts.Events
	settings.Counter = parts.Counter
	if tweak != nil {
		tweak(&settings)
	}
	srv := httptest.NewServer(handler.New(settings))
	t.Cleanup(srv.Close)
	return &env{srv: srv, mg: mg, store: parts.Store, queue: parts.Queue, letters: letters}
}

func signerForm() url.Values {
	return url.Values{
		"letter": {"family-separation"}, "first_name": {"Jane"}, "last_name": {"Doe"},
		"email": {"jane@example.org"}, "address": {"12 Elm St"}, "city": {"Springfield"},
		"state": {"IL"}, "zip": {"62701"},
	}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (e *env) postForm(t *testing.T, v url.Values) *http.Response {
	t.Helper()
	return e.post(t, "application/x-www-form-urlencoded", v.Encode(), nil)
}

func (e *env) post(t *testing.T, contentType, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/sign", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wireFields is every field a letter may carry to Mailgun, no more.
var wireFields = []string{"from", "h:Message-Id", "h:Reply-To", "o:tag", "o:tracking", "subject", "text", "to"}

func assertOnlyFields(t *testing.T, m mailguntest.Received) {
	t.Helper()
	var got []string
	for k, v := range m.Fields {
		got = append(got, k)
		if len(v) != 1 {
			t.Errorf("field %s sent %d times: %q", k, len(v), v)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, wireFields) {
		t.Errorf("fields on the wire = %v, want exactly %v", got, wireFields)
	}
}

func TestFormPostSendsOneLetterPerTarget(t *testing.T) {
	e := newEnv(t, nil)
	resp := e.postForm(t, signerForm())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/thanks/" {
		t.Fatalf("status %d, Location %q; want 303 to /thanks/", resp.StatusCode, resp.Header.Get("Location"))
	}
	msgs := e.mg.WaitFor(2, 10*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("stand-in got %d messages, want 2", len(msgs))
	}
	slices.SortFunc(msgs, func(a, b mailguntest.Received) int {
		return strings.Compare(a.Get("h:Message-Id"), b.Get("h:Message-Id"))
	})
	l := e.letters["family-separation"]
	signature := "Sincerely,\n\nJane Doe\n12 Elm St\nSpringfield, IL 62701"
	var sigID string
	for i, want := range []struct{ to, salutation string }{
		{`"Donald J. Trump" <president@whitehouse.example>`, "Dear President Trump,"},
		{`"Kirstjen Nielsen" <secretary@dhs.example>`, "Dear Secretary Nielsen,"},
	} {
		m := msgs[i]
		assertOnlyFields(t, m)
		if m.Domain != domain {
			t.Errorf("domain = %q", m.Domain)
		}
		checks := map[string]string{
			"to":         want.to,
			"from":       `"Jane Doe" <letters@mg.example>`,
			"h:Reply-To": `"Jane Doe" <jane@example.org>`,
			"subject":    "Protect children, end family separation",
			"o:tag":      "family-separation",
			"o:tracking": "no",
			"text":       want.salutation + "\n\n" + letter.BodyFor(l.Passages, l.Body, l.Targets[i].Name) + "\n\n" + signature + "\n",
		}
		for field, v := range checks {
			if got := m.Get(field); got != v {
				t.Errorf("message %d %s = %q, want %q", i, field, got, v)
			}
		}
		id := m.Get("h:Message-Id")
		if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "."+string(rune('0'+i))+"@mg.example>") {
			t.Errorf("message %d Message-Id = %q, want <signature.%d@mg.example>", i, id, i)
		}
		if sigID == "" {
			sigID = strings.TrimPrefix(strings.Split(id, ".")[0], "<")
		} else if !strings.HasPrefix(id, "<"+sigID+".") {
			t.Errorf("the two messages carry different signature ids: %s", id)
		}
	}
	// The store holds both messages, one per target in target order…
	stored, err := e.store.Messages(context.Background(), sigID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 {
		t.Fatalf("%d messages stored for the signature, want 2", len(stored))
	}
	for i, m := range stored {
		if want := e.letters["family-separation"].Targets[i].Email; m.TargetIndex != i || m.TargetEmail != want {
			t.Errorf("stored message %d: target %d <%s>, want <%s>", i, m.TargetIndex, m.TargetEmail, want)
		}
	}
	// …and, once sent, as sent with Mailgun's ids.
	waitSent(t, e.store, sigID, 2)
	if stored, err = e.store.Messages(context.Background(), sigID); err != nil {
		t.Fatal(err)
	}
	for _, m := range stored {
		if m.State != letter.StateSent || !strings.Contains(m.ProviderID, "stand-in") {
			t.Errorf("stored message %s: state %s, provider id %q", m.ID, m.State, m.ProviderID)
		}
	}
}

func waitSent(t *testing.T, st *store.Store, sigID string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, err := st.Messages(context.Background(), sigID)
		if err != nil {
			t.Fatal(err)
		}
		sent := 0
		for _, m := range msgs {
			if m.State == letter.StateSent {
				sent++
			}
		}
		if sent == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages sent: %+v", sent, n, msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJSONPostWithEditedLetter(t *testing.T) {
	e := newEnv(t, nil)
	body := map[string]any{
		"letter": "family-separation", "first_name": "José", "last_name": "Núñez", "email": "jose@example.org",
		"address": "5 Oak Ave", "city": "Austin", "state": "tx", "zip": "78701-1234", "phone": "512 555 0100",
		"subject": "Reunite the families now", "body": "Dear officials are addressed above.\r\n\r\nMy own words, from {{city}}.",
		"opt_in": true, "source": "email-blast",
	}
	raw, _ := json.Marshal(body)
	resp := e.post(t, "application/json", string(raw), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	var answer map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	if answer["status"] != "accepted" || answer["thanks_url"] != "/thanks/" {
		t.Fatalf("answer = %v", answer)
	}
	msgs := e.mg.WaitFor(2, 10*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("stand-in got %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		assertOnlyFields(t, m)
		if m.Get("subject") != "Reunite the families now" {
			t.Errorf("subject = %q", m.Get("subject"))
		}
		wantTail := "\n\nDear officials are addressed above.\n\nMy own words, from Austin.\n\nSincerely,\n\nJosé Núñez\n5 Oak Ave\nAustin, TX 78701-1234\n"
		if !strings.HasSuffix(m.Get("text"), wantTail) {
			t.Errorf("text = %q, want it to end with %q", m.Get("text"), wantTail)
		}
		if m.Get("h:Reply-To") != `=?utf-8?q?Jos=C3=A9_N=C3=BA=C3=B1ez?= <jose@example.org>` {
			t.Errorf("Reply-To = %q", m.Get("h:Reply-To"))
		}
	}
}

func TestHeaderInjectionAndExtraRecipientsReachNothing(t *testing.T) {
	e := newEnv(t, func(c *handler.Settings) { c.Burst = 1000 })
	const evil = "evil@attacker.example"
	// Line breaks in any field that could become a header are refused.
	// (source is cleaned instead: inputs_test.go.)
	for _, field := range []string{"first_name", "last_name", "email", "address", "city", "state", "zip", "phone", "subject"} {
		v := signerForm()
		v.Set(field, "x\r\nBcc: "+evil)
		v.Set("email", strings.ReplaceAll(v.Get("email"), "jane", field))
		if field == "email" {
			v.Set("email", "jane@example.org\r\nBcc: "+evil)
		}
		resp := e.postForm(t, v)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s with CRLF: status %d, want 422", field, resp.StatusCode)
		}
	}
	// Extra recipients, From and Mailgun options sent as extra fields are
	// ignored in a form and refused in JSON.
	v := signerForm()
	for _, k := range []string{"to", "cc", "bcc", "from", "h:Bcc", "h:To", "h:From", "h:Reply-To", "o:testmode", "o:deliverytime", "v:my-var", "recipient-variables", "targets", "target"} {
		v.Set(k, evil)
	}
	resp := e.postForm(t, v)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("form with extra fields: status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	resp = e.post(t, "application/json", `{"letter":"family-separation","first_name":"J","last_name":"D","email":"j2@example.org","address":"1 A","city":"B","state":"IL","zip":"62701","bcc":"`+evil+`"}`, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("JSON with bcc: status %d, want 400", resp.StatusCode)
	}
	// A body that looks like headers is only ever body text.
	v = signerForm()
	v.Set("email", "other@example.org")
	v.Set("body", "Bcc: "+evil+"\nTo: "+evil+"\n\nHello")
	if resp := e.postForm(t, v); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("body with header-like text: status %d", resp.StatusCode)
	}
	msgs := e.mg.WaitFor(4, 10*time.Second)
	if len(msgs) != 4 {
		t.Fatalf("stand-in got %d messages, want 4 (two signatures, two targets)", len(msgs))
	}
	for _, m := range msgs {
		assertOnlyFields(t, m)
		for field, vals := range m.Fields {
			if field == "text" {
				continue
			}
			for _, val := range vals {
				if strings.Contains(val, evil) {
					t.Errorf("%s carries the attacker's address: %q", field, val)
				}
			}
		}
		to := m.Get("to")
		if !strings.Contains(to, "@whitehouse.example>") && !strings.Contains(to, "@dhs.example>") {
			t.Errorf("to = %q, not a target", to)
		}
		if m.Get("from") != `"Jane Doe" <letters@mg.example>` {
			t.Errorf("from = %q", m.Get("from"))
		}
	}
}

func TestRepeatSignerGetsSameAnswerAndNoNewMail(t *testing.T) {
	e := newEnv(t, nil)
	first := e.postForm(t, signerForm())
	if first.StatusCode != http.StatusSeeOther {
		t.Fatalf("first: %d", first.StatusCode)
	}
	e.mg.WaitFor(2, 10*time.Second)
	v := signerForm()
	v.Set("email", "  JANE@Example.org ")
	v.Set("body", "Signing again with other words.")
	again := e.postForm(t, v)
	if again.StatusCode != first.StatusCode || again.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("repeat: %d %q, first: %d %q", again.StatusCode, again.Header.Get("Location"), first.StatusCode, first.Header.Get("Location"))
	}
	if n, _ := e.store.SignatureCount(context.Background()); n != 1 {
		t.Fatalf("%d signatures stored, want 1", n)
	}

	// The browser that signed first holds its cookie and is told, in its
	// own words, that the letter already went out.
	var cookie *http.Cookie
	for _, c := range first.Cookies() {
		if c.Name == "signed_family-separation" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Path != "/api/sign" {
		t.Fatalf("first signature set no HttpOnly cookie scoped to /api/sign: %+v", first.Cookies())
	}
	// The repeat's headers look like a first signature's: a cookie of the
	// same shape, which matches no signature.
	var repeatCookie *http.Cookie
	for _, c := range again.Cookies() {
		if c.Name == cookie.Name {
			repeatCookie = c
		}
	}
	if repeatCookie == nil || len(repeatCookie.Value) != len(cookie.Value) || repeatCookie.Value == cookie.Value {
		t.Errorf("repeat cookie = %+v, want one shaped like the first (%+v) with another value", repeatCookie, cookie)
	}
	mine := e.post(t, "application/x-www-form-urlencoded", v.Encode(), http.Header{"Cookie": {cookie.String()}})
	page := readBody(t, mine)
	stored, err := e.store.Messages(context.Background(), cookie.Value)
	if err != nil || len(stored) == 0 {
		t.Fatalf("the cookie names no recorded signature: %v", err)
	}
	signedOn := stored[0].CreatedAt.UTC().Format("2 January 2006") // the day it was recorded, not today
	if mine.StatusCode != http.StatusOK || !strings.Contains(page, "A letter in your name was already sent on "+signedOn+".") ||
		!strings.Contains(page, `<header class="site">`) || !strings.Contains(page, `href="/thanks/"`) {
		t.Fatalf("repeat with the signer's cookie: %d\n%s", mine.StatusCode, page)
	}
	mineJSON := e.post(t, "application/x-www-form-urlencoded", v.Encode(), http.Header{"Cookie": {cookie.String()}, "Accept": {"application/json"}})
	var answer map[string]any
	json.NewDecoder(mineJSON.Body).Decode(&answer)
	if answer["status"] != "already_signed" {
		t.Fatalf("JSON repeat with cookie: %v", answer)
	}
	// Someone else's cookie value proves nothing.
	other := e.post(t, "application/x-www-form-urlencoded", v.Encode(), http.Header{"Cookie": {"signed_family-separation=0123456789abcdef0123456789abcdef"}})
	if other.StatusCode != http.StatusSeeOther {
		t.Fatalf("repeat with a wrong cookie: %d, want the usual 303", other.StatusCode)
	}
	// No repeat was mailed: checked once someone else's signature, made
	// after them all, has arrived.
	next := signerForm()
	next.Set("email", "next@example.org")
	if resp := e.postForm(t, next); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another signer: %d", resp.StatusCode)
	}
	e.mg.WaitFor(4, 10*time.Second)
	janes := 0
	for _, m := range e.mg.Messages() {
		if strings.Contains(m.Get("h:Reply-To"), "jane@example.org") {
			janes++
		}
	}
	if n := len(e.mg.Messages()); n != 4 || janes != 2 {
		t.Fatalf("stand-in got %d messages, %d of them Jane's; want 4 and 2 (no new mail for a repeat)", n, janes)
	}
}

func TestStatuses(t *testing.T) {
	e := newEnv(t, func(c *handler.Settings) { c.Burst = 1000 })
	valid := signerForm()
	jsonHeader := http.Header{"Accept": {"application/json"}}
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		header      http.Header
		want        int
		wantField   string // for JSON error answers
	}{
		{"GET", http.MethodGet, "", "", jsonHeader, http.StatusMethodNotAllowed, "request"},
		{"PUT", http.MethodPut, "application/x-www-form-urlencoded", valid.Encode(), jsonHeader, http.StatusMethodNotAllowed, "request"},
		{"no content type", http.MethodPost, "", valid.Encode(), jsonHeader, http.StatusBadRequest, "request"},
		{"text/plain", http.MethodPost, "text/plain", valid.Encode(), jsonHeader, http.StatusBadRequest, "request"},
		{"broken JSON", http.MethodPost, "application/json", `{"letter":`, nil, http.StatusBadRequest, "request"},
		{"JSON array", http.MethodPost, "application/json", `[1,2]`, nil, http.StatusBadRequest, "request"},
		{"JSON wrong type", http.MethodPost, "application/json", `{"zip":62701}`, nil, http.StatusBadRequest, "request"},
		{"field twice", http.MethodPost, "application/x-www-form-urlencoded", valid.Encode() + "&email=b@example.org", jsonHeader, http.StatusBadRequest, "request"},
		{"bad URL encoding", http.MethodPost, "application/x-www-form-urlencoded", "first_name=%zz", jsonHeader, http.StatusBadRequest, "request"},
		{"no letter", http.MethodPost, "application/x-www-form-urlencoded", strings.Replace(valid.Encode(), "letter=family-separation", "letter=", 1), jsonHeader, http.StatusUnprocessableEntity, "letter"},
		{"unknown letter", http.MethodPost, "application/x-www-form-urlencoded", strings.Replace(valid.Encode(), "family-separation", "nope", 1), jsonHeader, http.StatusNotFound, "letter"},
		{"too large", http.MethodPost, "application/x-www-form-urlencoded", valid.Encode() + "&body=" + strings.Repeat("a", handler.MaxRequestBytes), jsonHeader, http.StatusRequestEntityTooLarge, "request"},
		{"invalid fields", http.MethodPost, "application/x-www-form-urlencoded", "letter=family-separation&email=nope", jsonHeader, http.StatusUnprocessableEntity, "email"},
		{"honeypot", http.MethodPost, "application/x-www-form-urlencoded", valid.Encode() + "&website=http://x.example", jsonHeader, http.StatusUnprocessableEntity, "website"},
		{"bad opt_in", http.MethodPost, "application/x-www-form-urlencoded", valid.Encode() + "&opt_in=maybe", jsonHeader, http.StatusUnprocessableEntity, "opt_in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.srv.URL+"/api/sign", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, readBody(t, resp))
			}
			if tt.want == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("Content-Type = %q, want JSON", resp.Header.Get("Content-Type"))
			}
			var answer struct{ Errors map[string]string }
			if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
				t.Fatal(err)
			}
			if answer.Errors[tt.wantField] == "" {
				t.Fatalf("errors = %v, want one for %q", answer.Errors, tt.wantField)
			}
		})
	}
	// Nothing of the refused requests was recorded, nor mailed: checked once
	// a good signature made after them all has arrived.
	if n, _ := e.store.SignatureCount(context.Background()); n != 0 {
		t.Fatalf("refused requests recorded %d signatures", n)
	}
	if resp := e.postForm(t, signerForm()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("good signature: %d", resp.StatusCode)
	}
	if n := len(e.mg.WaitFor(2, 10*time.Second)); n != 2 {
		t.Fatalf("%d letters of the good signature arrived", n)
	}
	if n := len(e.mg.Messages()); n != 2 {
		t.Fatalf("refused requests sent %d messages", n-2)
	}
}

func TestFormErrorPageNamesProblemsAndKeepsTypedText(t *testing.T) {
	e := newEnv(t, nil)
	v := signerForm()
	v.Set("email", "jane-at-example.org")
	v.Set("zip", "123")
	v.Set("state", "IL")
	v.Set("subject", `My <subject> & "quotes"`)
	v.Set("body", "My edited letter, line one.\nLine <two> & more.")
	v.Set("opt_in", "yes")
	resp := e.postForm(t, v)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type = %q", ct)
	}
	page := readBody(t, resp)
	for _, want := range []string{
		`<a href="#email">Email</a>: Please enter an email address`,
		`<a href="#zip">ZIP code</a>: Please enter a 5-digit ZIP code`,
		`value="jane-at-example.org"`, `value="123"`, `value="Jane"`, `value="Springfield"`,
		`<option value="IL" selected="">`,
		`value="My &lt;subject&gt; &amp; &#34;quotes&#34;"`,
		">My edited letter, line one.\nLine &lt;two&gt; &amp; more.</textarea>",
		`id="opt_in" name="opt_in" type="checkbox" value="yes" checked="">`,
		`<input id="email" name="email" type="email" autocomplete="email" maxlength="254" required="" aria-describedby="email-error email-hint" value="jane-at-example.org" aria-invalid="true">`,
		`<label for="email">Email</label><p class="error-text" id="email-error">Please enter an email address`,
		// The letter's subject and body belong to the form from the letter's view.
		`<input id="subject" name="subject" form="sign-form"`, `<textarea id="body" name="body" form="sign-form"`,
		`<form method="post" action="/api/sign" id="sign-form"`, `name="letter" value="family-separation"`,
		// The site's own page: its language, stylesheet, header and footer.
		`<html lang="en-US">`, `<link rel="stylesheet" href="/css/site.min.`, `<header class="site">`, `<footer class="site">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("error page lacks %q", want)
		}
	}
	if n := strings.Count(page, `aria-invalid="true"`); n != 2 {
		t.Errorf("%d fields marked invalid, want 2 (email, zip)", n)
	}
	if strings.Index(page, `<a href="#email">`) > strings.Index(page, `<a href="#zip">`) {
		t.Error("the summary does not follow the form's order")
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *handler.Settings) {
		c.Burst, c.RatePerMinute = 2, 6
		c.Now = func() time.Time { return now }
	})
	statuses := []int{}
	for i := range 3 {
		v := signerForm()
		v.Set("email", "rate"+string(rune('a'+i))+"@example.org")
		statuses = append(statuses, e.postForm(t, v).StatusCode)
	}
	if !slices.Equal(statuses, []int{303, 303, 429}) {
		t.Fatalf("statuses = %v, want 303 303 429", statuses)
	}
	v := signerForm()
	v.Set("email", "rated@example.org")
	v.Set("body", "Keep this text.")
	resp := e.postForm(t, v)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "10" {
		t.Fatalf("status %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if page := readBody(t, resp); !strings.Contains(page, "Keep this text.</textarea>") || !strings.Contains(page, "wait a minute") {
		t.Fatalf("429 page does not keep the text or say why:\n%s", page)
	}
	now = now.Add(10 * time.Second)
	v.Set("email", "rate-later@example.org")
	if resp := e.postForm(t, v); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the wait: status %d", resp.StatusCode)
	}
}

// The sandbox is fixed into each message when it is recorded: whichever
// process sends it later (one without CAMPAIGN_SANDBOX_TO, say production's
// worker on a shared database) sends it to the sandbox, never to the target.
func TestSandboxIsFixedWhenRecorded(t *testing.T) {
	e := newEnv(t, func(c *handler.Settings) { c.Sending.SandboxTo = "staging@example.org" })
	if resp := e.postForm(t, signerForm()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", resp.StatusCode)
	}
	msgs := e.mg.WaitFor(2, 10*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("%d letters", len(msgs))
	}
	for _, m := range msgs {
		if m.Get("to") != "staging@example.org" {
			t.Errorf("to = %q, want the sandbox", m.Get("to"))
		}
		id := strings.Trim(m.Get("h:Message-Id"), "<>")
		stored, err := e.store.Message(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.To != "staging@example.org" || !strings.HasSuffix(stored.TargetEmail, ".example") {
			t.Errorf("stored To %q, target %q", stored.To, stored.TargetEmail)
		}
	}
}

package admin_test

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store"
	"campaignkit/handler/store/sqlite"
)

const token = "organizer-token-0123456789abcdef"

type env struct {
	srv   *httptest.Server
	mg    *mailguntest.Server
	store *store.Store
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv runs the handler with the organizer's room as `campaign serve`
// wires it: SQLite, the delivery queue, a stand-in Mailgun, the
// configuration from vars over a default with CAMPAIGN_ADMIN_TOKEN set
// (an empty value unsets one). review turns on review_edits.
func newEnv(t *testing.T, vars map[string]string, review bool) *env {
	t.Helper()
	ctx := context.Background()
	letters, err := letter.Load(os.DirFS("../testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	letters["family-separation"].ReviewEdits = review
	mg := mailguntest.New()
	t.Cleanup(mg.Close)
	all := map[string]string{"MAILGUN_API_KEY": mg.APIKey, "MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase(),
		"CAMPAIGN_DATA_DIR": t.TempDir(), "CAMPAIGN_SITE_URL": "https://letters.example.org", "CAMPAIGN_ADMIN_TOKEN": token}
	for k, v := range vars {
		all[k] = v
	}
	cfg, err := config.Load(func(k string) string { return all[k] })
	if err != nil {
		t.Fatal(err)
	}
	parts, err := cfg.Open(ctx, config.Program{Workers: 2, PollInterval: 50 * time.Millisecond, SQLite: sqlite.Open}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parts.Close() })
	if err := parts.Queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	settings := cfg.Handler(letters, parts.Recorder, parts.Confirmer, quietLog())
	settings.Admin = cfg.Admin(letters, func() (*config.Parts, error) { return parts, nil }, quietLog())
	srv := httptest.NewServer(handler.New(settings))
	t.Cleanup(srv.Close)
	return &env{srv: srv, mg: mg, store: parts.Store}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request (a form when form is not nil) and returns the
// response with its body read.
func (e *env) do(t *testing.T, method, path string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// session signs in through the page's form and returns the headers a
// browser then sends: its cookie, and its own origin.
func (e *env) session(t *testing.T) (http.Header, string) {
	t.Helper()
	origin := http.Header{"Origin": {e.srv.URL}}
	resp, _ := e.do(t, "POST", "/admin/login", url.Values{"token": {token}}, origin)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c := resp.Cookies()
	if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/admin/" || c[0].Secure || c[0].MaxAge != 0 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin/, a session cookie, not Secure on http", c)
	}
	if strings.Contains(c[0].Value, token) {
		t.Fatal("the cookie holds the token")
	}
	h := http.Header{"Cookie": {c[0].Name + "=" + c[0].Value}, "Origin": {e.srv.URL}}
	_, page := e.do(t, "GET", "/admin/", nil, h)
	m := csrfPattern.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page has no form token:\n%s", page)
	}
	return h, m[1]
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestOffWithoutAToken(t *testing.T) {
	e := newEnv(t, map[string]string{"CAMPAIGN_ADMIN_TOKEN": ""}, false)
	for _, path := range []string{"/admin/", "/admin/export.csv", "/api/admin/stats", "/api/admin/export.csv"} {
		if resp, _ := e.do(t, "GET", path, nil, bearer(token)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without CAMPAIGN_ADMIN_TOKEN: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := e.do(t, "POST", "/admin/login", url.Values{"token": {""}}, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /admin/login without CAMPAIGN_ADMIN_TOKEN: %d, want 404", resp.StatusCode)
	}
}

func TestTheEndpointsNeedTheToken(t *testing.T) {
	e := newEnv(t, nil, false)
	for _, path := range []string{"/api/admin/stats", "/api/admin/export.csv"} {
		for name, h := range map[string]http.Header{
			"no header":      nil,
			"wrong token":    bearer("organizer-token-0123456789abcdeX"),
			"longer token":   bearer(token + "x"),
			"a prefix":       bearer(token[:24]),
			"empty":          bearer(""),
			"basic scheme":   {"Authorization": {"Basic " + token}},
			"token only":     {"Authorization": {token}},
			"in a query":     nil,
			"session cookie": {"Cookie": {"campaign_admin=1.x"}},
		} {
			p := path
			if name == "in a query" {
				p += "?token=" + token
			}
			resp, body := e.do(t, "GET", p, nil, h)
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("GET %s, %s: %d, want 401 with WWW-Authenticate", path, name, resp.StatusCode)
			}
			if strings.Contains(body, "signatures") && strings.Contains(body, "{") {
				t.Errorf("GET %s, %s: the answer holds figures: %s", path, name, body)
			}
		}
		if resp, _ := e.do(t, "GET", path, nil, http.Header{"Authorization": {"bearer  " + token + " "}}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the token: %d", path, resp.StatusCode)
		}
	}
	// The page's own download needs its session.
	if resp, _ := e.do(t, "GET", "/admin/export.csv", nil, bearer(token)); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /admin/export.csv without a session: %d, want 303 to sign in", resp.StatusCode)
	}
}

// A name with a comma, a quote, a line break and a formula comes back
// intact from the CSV, and no cell starts a formula.
func TestExportCSV(t *testing.T) {
	e := newEnv(t, nil, false)
	ctx := context.Background()
	tricky := letter.Signer{Letter: "family-separation", FirstName: "Ann, \"Nan\"\nLee", LastName: `=HYPERLINK("https://evil.example","x")`,
		Email: "ann@example.org", Address: "@SUM(1+1)", City: "-2+3", State: "OR", Zip: "97301", Phone: "+1 503 555 0100",
		Source: "\tnews", UTMSource: "\rmail", UTMMedium: "email", OptIn: true, Lang: "es"}
	sig := &letter.Signature{ID: letter.NewID(), Signer: tricky, Edited: true,
		OptInText: "=Keep me informed about this campaign by email.", OptInLang: "en"}
	sig.Body = "mine"
	msgs := []letter.Message{
		{ID: sig.ID + ".0@mg.example", TargetIndex: 0, TargetName: "Donald J. Trump", TargetEmail: "p@example.gov", To: "p@example.gov", From: "f@mg.example", ReplyTo: "ann@example.org", Subject: "S", Text: "T", State: letter.StateQueued},
		{ID: sig.ID + ".1@mg.example", TargetIndex: 1, TargetName: "Kirstjen Nielsen", TargetEmail: "s@example.gov", To: "s@example.gov", From: "f@mg.example", ReplyTo: "ann@example.org", Subject: "S", Text: "T", State: letter.StateQueued},
	}
	if _, err := e.store.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	// Recorded by the store alone, no delivery job sends them: the test
	// sets their outcomes.
	if err := e.store.MarkSent(ctx, msgs[0].ID, "<1@mg>"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkFailed(ctx, msgs[1].ID, "=550 mailbox, \"unknown\""); err != nil {
		t.Fatal(err)
	}
	plain := &letter.Signature{ID: letter.NewID(), Signer: letter.Signer{Letter: "family-separation", FirstName: "Bo", LastName: "Ng",
		Email: "bo@example.org", Address: "1 Elm", City: "Salem", State: "OR", Zip: "97301"}, State: letter.SignatureUnconfirmed}
	if _, err := e.store.Record(ctx, plain, nil, store.Limits{}, nil); err != nil {
		t.Fatal(err)
	}

	resp, body := e.do(t, "GET", "/api/admin/export.csv", nil, bearer(token))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="signatures-`) {
		t.Fatalf("export: %d, %q, %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	if !strings.Contains(body, `"Ann, ""Nan""`+"\nLee\"") {
		t.Errorf("not RFC 4180 quoting:\n%s", body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, body)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want a header and 2", len(rows))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"letter", "status", "first_name", "last_name", "email", "address", "city", "state", "zip", "phone", "opt_in",
		"source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "created_utc", "confirmed_utc", "edited", "held_for",
		"opt_in_utc", "opt_in_wording", "opt_in_language", "purged_utc", "language",
		"target_1", "target_1_status", "target_1_error", "target_2", "target_2_status", "target_2_error"} {
		if _, ok := col[name]; !ok {
			t.Errorf("no column %s in %v", name, rows[0])
		}
	}
	ann := rows[1]
	for name, want := range map[string]string{
		"letter": "family-separation", "signature": sig.ID, "status": "confirmed",
		"first_name": "Ann, \"Nan\"\nLee", "last_name": `'=HYPERLINK("https://evil.example","x")`, "address": "'@SUM(1+1)",
		"city": "'-2+3", "state": "OR", "phone": "'+1 503 555 0100", "source": "'\tnews", "utm_source": "'\rmail", "utm_medium": "email",
		"opt_in": "yes", "opt_in_wording": "'=Keep me informed about this campaign by email.", "opt_in_language": "en",
		"edited": "yes", "held_for": "", "purged_utc": "", "language": "es", "target_1": "Donald J. Trump", "target_1_status": "sent",
		"target_2": "Kirstjen Nielsen", "target_2_status": "failed", "target_2_error": `'=550 mailbox, "unknown"`,
	} {
		if got := ann[col[name]]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"created_utc", "opt_in_utc"} {
		if _, err := time.Parse("2006-01-02 15:04:05", ann[col[name]]); err != nil {
			t.Errorf("%s %q: %v", name, ann[col[name]], err)
		}
	}
	bo := rows[2]
	if bo[col["status"]] != "unconfirmed" || bo[col["confirmed_utc"]] != "" || bo[col["edited"]] != "no" || bo[col["target_1"]] != "" {
		t.Errorf("the unconfirmed row: %q", bo)
	}
	for _, row := range rows {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("column %s starts a formula: %q", rows[0][i], cell)
			}
		}
	}
}

func TestStatsJSON(t *testing.T) {
	e := newEnv(t, map[string]string{"CAMPAIGN_CONFIRM": "off"}, false)
	for _, email := range []string{"a@example.org", "b@example.org"} {
		form := url.Values{"letter": {"family-separation"}, "first_name": {"Jane"}, "last_name": {"Doe"}, "email": {email},
			"address": {"12 Elm St"}, "city": {"Springfield"}, "state": {"IL"}, "zip": {"62701"}, "source": {"newsletter"}}
		if resp, _ := e.do(t, "POST", "/api/sign", form, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign: %d", resp.StatusCode)
		}
	}
	e.mg.WaitFor(4, 10*time.Second)
	var s struct {
		GeneratedAt time.Time      `json:"generated_at"`
		Signatures  int            `json:"signatures"`
		States      map[string]int `json:"states"`
		Letters     map[string]int `json:"letters"`
		PerHour     []struct {
			Hour       time.Time `json:"hour"`
			Signatures int       `json:"signatures"`
		} `json:"per_hour"`
		Sources []struct {
			Source     string `json:"source"`
			Signatures int    `json:"signatures"`
		} `json:"sources"`
		Failures       []any `json:"failures"`
		HeldSignatures []any `json:"held_signatures"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := e.do(t, "GET", "/api/admin/stats", nil, bearer(token))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("stats: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(body, "Jane") || strings.Contains(body, "@example.org") {
			t.Errorf("the figures hold personal data:\n%s", body)
		}
		if s.States["sent"] == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.Signatures != 2 || s.States["sent"] != 2 || s.Letters["sent"] != 4 || len(s.PerHour) != 48 || s.PerHour[47].Signatures != 2 ||
		len(s.Sources) != 1 || s.Sources[0].Source != "newsletter" || s.HeldSignatures == nil {
		t.Errorf("stats %+v", s)
	}
}

var linkPattern = regexp.MustCompile(`https://letters\.example\.org(/api/confirm/[A-Za-z0-9_-]+)`)

// confirmationLink waits for the confirmation email to email and
// returns its link's path.
func (e *env) confirmationLink(t *testing.T, email string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range e.mg.Messages() {
			if strings.Contains(m.Get("to"), email) {
				if l := linkPattern.FindStringSubmatch(m.Get("text")); l != nil {
					return l[1]
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no confirmation email to %s", email)
	return ""
}

func (e *env) toTargets() int {
	n := 0
	for _, m := range e.mg.Messages() {
		if m.Get("o:tag") == "family-separation" {
			n++
		}
	}
	return n
}

func (e *env) sign(t *testing.T, email, body string) {
	t.Helper()
	form := url.Values{"letter": {"family-separation"}, "first_name": {"Jane"}, "last_name": {"Doe"}, "email": {email},
		"address": {"12 Elm St"}, "city": {"Springfield"}, "state": {"IL"}, "zip": {"62701"}}
	if body != "" {
		form.Set("body", body)
	}
	if resp, _ := e.do(t, "POST", "/api/sign", form, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign: %d", resp.StatusCode)
	}
}

const reviewNote = "an organizer of the campaign reads it before it goes out"

// With review_edits, an edited letter waits after its confirmation until
// an organizer releases it from the page; its signer is told so. An
// unedited one goes at once.
func TestReviewHoldsEditedLettersUntilReleased(t *testing.T) {
	e := newEnv(t, nil, true)
	e.sign(t, "plain@example.org", "")
	link := e.confirmationLink(t, "plain@example.org")
	if _, page := e.do(t, "GET", link, nil, nil); strings.Contains(page, reviewNote) || strings.Contains(page, "data-if") {
		t.Error("the confirmation page of an unedited letter says it is reviewed")
	}
	e.do(t, "POST", link, url.Values{}, nil)
	e.mg.WaitFor(3, 10*time.Second) // the confirmation email and two letters
	if n := e.toTargets(); n != 2 {
		t.Fatalf("%d letters to targets after the unedited confirmation, want 2", n)
	}

	e.sign(t, "jane@example.org", "My own words from {{city}}: keep families together.")
	link = e.confirmationLink(t, "jane@example.org")
	_, page := e.do(t, "GET", link, nil, nil)
	if !strings.Contains(page, reviewNote) {
		t.Errorf("the confirmation page of an edited letter does not say an organizer reads it:\n%s", page)
	}
	resp, body := e.do(t, "POST", link, url.Values{}, http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "an organizer reads it") {
		t.Errorf("confirming: %d %s", resp.StatusCode, body)
	}
	time.Sleep(500 * time.Millisecond)
	if n := e.toTargets(); n != 2 {
		t.Fatalf("%d letters to targets: the edited one went out unreviewed", n)
	}

	h, csrf := e.session(t)
	_, page = e.do(t, "GET", "/admin/", nil, h)
	var id string
	if m := regexp.MustCompile(`name="id" value="([0-9a-f]{32})"`).FindStringSubmatch(page); m != nil {
		id = m[1]
	}
	if id == "" || !strings.Contains(page, "My own words from Springfield") || !strings.Contains(page, "held for review") {
		t.Fatalf("the page does not show the held letter to review:\n%s", page)
	}
	resp, _ = e.do(t, "POST", "/admin/held", url.Values{"csrf": {csrf}, "action": {"release"}, "id": {id}}, h)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=released") {
		t.Fatalf("release: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.toTargets() < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.toTargets(); n != 4 {
		t.Fatalf("%d letters to targets after the release, want 4", n)
	}
	if _, page = e.do(t, "GET", "/admin/?done=released&n=1", nil, h); !strings.Contains(page, "1 signature released") || !strings.Contains(page, "No letters are held") {
		t.Errorf("after the release the page says:\n%s", page)
	}
}

func TestRejectFromThePage(t *testing.T) {
	e := newEnv(t, map[string]string{"CAMPAIGN_CONFIRM": "off"}, true)
	e.sign(t, "jane@example.org", "Words an organizer will not send.")
	h, csrf := e.session(t)
	_, page := e.do(t, "GET", "/admin/", nil, h)
	m := regexp.MustCompile(`name="id" value="([0-9a-f]{32})"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no held signature on the page:\n%s", page)
	}
	resp, _ := e.do(t, "POST", "/admin/held", url.Values{"csrf": {csrf}, "action": {"reject"}, "id": {m[1]}}, h)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=rejected") {
		t.Fatalf("reject: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var state, words string
	e.store.DB().QueryRow(`SELECT sig_state, body FROM signatures WHERE id = $1`, m[1]).Scan(&state, &words)
	if state != "rejected" || words != "" {
		t.Errorf("after reject: %s, %q", state, words)
	}
	time.Sleep(300 * time.Millisecond)
	if n := e.toTargets(); n != 0 {
		t.Errorf("%d rejected letters went out", n)
	}
	// Nothing chosen: nothing changes, and the page says so.
	if resp, _ := e.do(t, "POST", "/admin/held", url.Values{"csrf": {csrf}, "action": {"release"}}, h); resp.Header.Get("Location") != "/admin/?done=none" {
		t.Errorf("a release of nothing: %q", resp.Header.Get("Location"))
	}
}

// Posts that do not come from the organizer's own page change nothing.
func TestFormsRefuseCrossSitePosts(t *testing.T) {
	e := newEnv(t, map[string]string{"CAMPAIGN_CONFIRM": "off"}, true)
	e.sign(t, "jane@example.org", "Held words.")
	h, csrf := e.session(t)
	_, page := e.do(t, "GET", "/admin/", nil, h)
	id := regexp.MustCompile(`name="id" value="([0-9a-f]{32})"`).FindStringSubmatch(page)[1]
	form := url.Values{"csrf": {csrf}, "action": {"reject"}, "id": {id}}
	with := func(k, v string) http.Header {
		c := h.Clone()
		if v == "" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}
	cases := map[string]struct {
		form   url.Values
		header http.Header
	}{
		"no form token":           {url.Values{"action": {"reject"}, "id": {id}}, h},
		"another session's token": {url.Values{"csrf": {otherToken(csrf)}, "action": {"reject"}, "id": {id}}, h},
		"another origin":          {form, with("Origin", "https://evil.example")},
		"a null origin":           {form, with("Origin", "null")},
		"cross-site fetch":        {form, with("Sec-Fetch-Site", "cross-site")},
		"same-site fetch":         {form, with("Origin", "").Clone()},
		"no session":              {form, with("Cookie", "")},
		"a forged session":        {form, with("Cookie", "campaign_admin=9999999999.abc")},
	}
	cases["same-site fetch"].header.Set("Sec-Fetch-Site", "same-site")
	for name, c := range cases {
		if resp, _ := e.do(t, "POST", "/admin/held", c.form, c.header); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	if resp, _ := e.do(t, "POST", "/admin/login", url.Values{"token": {token}}, http.Header{"Origin": {"https://evil.example"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a sign-in from another site: %d, want 403", resp.StatusCode)
	}
	var state string
	e.store.DB().QueryRow(`SELECT sig_state FROM signatures WHERE id = $1`, id).Scan(&state)
	if state != "held" {
		t.Fatalf("a refused post changed the signature: %s", state)
	}
	// The organizer's own post, from a browser without Origin, passes.
	if resp, _ := e.do(t, "POST", "/admin/held", form, with("Origin", "")); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the page's own post: %d", resp.StatusCode)
	}
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, nil, false)
	resp, page := e.do(t, "GET", "/admin/", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `type="password" id="token" name="token"`) || strings.Contains(page, "Signatures:") {
		t.Fatalf("without a session: %d\n%s", resp.StatusCode, page)
	}
	resp, page = e.do(t, "POST", "/admin/login", url.Values{"token": {"organizer-token-0123456789abcdeX"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(page, `aria-invalid="true"`) {
		t.Errorf("a wrong token: %d, cookies %v\n%s", resp.StatusCode, resp.Cookies(), page)
	}
	resp, _ = e.do(t, "POST", "/admin/login", url.Values{"token": {token}}, http.Header{"X-Forwarded-Proto": {"https"}})
	if c := resp.Cookies(); len(c) != 1 || !c[0].Secure {
		t.Errorf("over HTTPS the cookie is not Secure: %+v", c)
	}
	h, csrf := e.session(t)
	if resp, page := e.do(t, "GET", "/admin/", nil, h); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Signatures: 0") {
		t.Errorf("signed in: %d\n%s", resp.StatusCode, page)
	}
	resp, _ = e.do(t, "GET", "/admin/export.csv", nil, h)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Errorf("the page's download: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = e.do(t, "POST", "/admin/logout", url.Values{"csrf": {csrf}}, h)
	if c := resp.Cookies(); resp.StatusCode != http.StatusSeeOther || len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("sign-out: %d, cookies %+v", resp.StatusCode, c)
	}
}

// Compressed when the client takes gzip (every browser does): a Netlify
// function's answer is at most 6 MB.
func TestExportCompressed(t *testing.T) {
	e := newEnv(t, nil, false)
	for i := range 50 {
		sig := &letter.Signature{ID: letter.NewID(), Signer: letter.Signer{Letter: "family-separation", FirstName: "Ann", LastName: "Lee",
			Email: fmt.Sprintf("a%d@example.org", i), Address: "1 Oak St", City: "Salem", State: "OR", Zip: "97301"}}
		if _, err := e.store.Record(context.Background(), sig, nil, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := bearer(token)
	h.Set("Accept-Encoding", "gzip") // set by hand, the client leaves it compressed
	resp, body := e.do(t, "GET", "/api/admin/export.csv", nil, h)
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(zr).ReadAll()
	if err != nil || len(rows) != 51 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if _, plain := e.do(t, "GET", "/api/admin/export.csv", nil, http.Header{"Authorization": h["Authorization"], "Accept-Encoding": {"identity"}}); len(plain) < 2*len(body) {
		t.Errorf("compressed %d bytes, plain %d", len(body), len(plain))
	}
}

// otherToken is a token that differs from t in its first character (a
// fixed replacement would equal t whenever t already starts with it).
func otherToken(t string) string {
	if t[0] == 'x' {
		return "y" + t[1:]
	}
	return "x" + t[1:]
}

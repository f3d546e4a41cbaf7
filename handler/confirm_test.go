package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
)

// newConfirmEnv runs the handler with the default configuration:
// signers confirm by email before their letters go out.
func newConfirmEnv(t *testing.T, extra map[string]string, tweak func(*handler.Settings)) *env {
	t.Helper()
	if extra == nil {
		extra = map[string]string{}
	}
	return newEnvWith(t, extra, tweak)
}

var linkPattern = regexp.MustCompile(`https://letters\.example\.org/api/confirm/([A-Za-z0-9_-]+)`)

// confirmationTo waits for the n-th email to the signer's address and
// returns it with the path of its link.
func (e *env) confirmationTo(t *testing.T, n int, email string) (mailguntest.Received, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var mine []mailguntest.Received
		for _, m := range e.mg.Messages() {
			if strings.Contains(m.Get("to"), email) {
				mine = append(mine, m)
			}
		}
		if len(mine) >= n {
			m := mine[n-1]
			link := linkPattern.FindStringSubmatch(m.Get("text"))
			if link == nil {
				t.Fatalf("confirmation email holds no link:\n%s", m.Get("text"))
			}
			return m, letter.ConfirmPath + link[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no confirmation email %d to %s; the stand-in got %d messages", n, email, len(e.mg.Messages()))
	return mailguntest.Received{}, ""
}

// toTargets are the letters the stand-in received for officials.
func (e *env) toTargets() []mailguntest.Received {
	var out []mailguntest.Received
	for _, m := range e.mg.Messages() {
		if m.Get("o:tag") == "family-separation" {
			out = append(out, m)
		}
	}
	return out
}

func (e *env) do(t *testing.T, method, path string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
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

func TestSignatureWaitsForConfirmationThenSendsTheLettersShown(t *testing.T) {
	e := newConfirmEnv(t, nil, nil)
	form := signerForm()
	form.Set("body", "My own words about {{city}}: keep families together.")
	resp := e.postForm(t, form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/check-your-inbox/" {
		t.Fatalf("status %d, Location %q; want 303 to /check-your-inbox/", resp.StatusCode, resp.Header.Get("Location"))
	}
	mail, link := e.confirmationTo(t, 1, "jane@example.org")

	// The email carries nothing the visitor typed: no name, no letter.
	text := mail.Get("text")
	for _, typed := range []string{"Jane", "Doe", "My own words", "Springfield", "Elm"} {
		if strings.Contains(text, typed) || strings.Contains(mail.Get("subject"), typed) || strings.Contains(mail.Get("to"), typed) {
			t.Errorf("the confirmation email carries %q, typed by the visitor:\n%s", typed, text)
		}
	}
	for _, want := range []string{"Donald J. Trump", "Kirstjen Nielsen", "Nothing has been sent", "ignore this email"} {
		if !strings.Contains(text, want) {
			t.Errorf("the confirmation email lacks %q:\n%s", want, text)
		}
	}
	if mail.Get("to") != "<jane@example.org>" || !strings.HasSuffix(mail.Get("h:Message-Id"), ".confirm@mg.example>") {
		t.Errorf("confirmation to %q, Message-Id %q", mail.Get("to"), mail.Get("h:Message-Id"))
	}
	// The token is stored nowhere, only its hash.
	token := strings.TrimPrefix(link, letter.ConfirmPath)
	if len(token) < 22 { // 128 bits in base64
		t.Fatalf("token %q is shorter than 128 bits", token)
	}
	var hits int
	e.store.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM signatures WHERE token_hash LIKE '%' || $1 || '%')
		+ (SELECT COUNT(*) FROM messages WHERE text LIKE '%' || $1 || '%')`, token).Scan(&hits)
	if hits != 0 {
		t.Errorf("the token is stored in the database (%d rows)", hits)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.toTargets()); n != 0 {
		t.Fatalf("%d letters went to officials before confirmation", n)
	}

	// A mail scanner opens the link, with GET and HEAD: nothing changes.
	for _, method := range []string{http.MethodHead, http.MethodGet, http.MethodGet} {
		if got := e.do(t, method, link, nil); got.StatusCode != http.StatusOK {
			t.Fatalf("%s link: %d", method, got.StatusCode)
		}
	}
	page := readBody(t, e.do(t, http.MethodGet, link, nil))
	time.Sleep(300 * time.Millisecond)
	if n := len(e.toTargets()); n != 0 {
		t.Fatalf("opening the link sent %d letters", n)
	}
	if states, _ := e.store.SignatureStates(context.Background()); states[letter.SignatureUnconfirmed] != 1 {
		t.Fatalf("signature states after GET: %v", states)
	}
	// The page shows each letter as its official will receive it, and
	// one form that posts to the link.
	if !strings.Contains(page, `action="`+link+`"`) || !strings.Contains(page, `method="post"`) {
		t.Errorf("the page's form does not post to the link:\n%s", page)
	}
	// Its address is the token: nothing it loads or posts may carry it.
	if !strings.Contains(page, `<meta name="referrer" content="no-referrer">`) {
		t.Error("the confirmation page lets its address out as a Referer")
	}

	confirm := e.do(t, http.MethodPost, link, nil)
	if confirm.StatusCode != http.StatusSeeOther || confirm.Header.Get("Location") != "/thanks/" {
		t.Fatalf("confirm: %d to %q; want 303 to /thanks/", confirm.StatusCode, confirm.Header.Get("Location"))
	}
	sent := e.mg.WaitFor(3, 10*time.Second)
	if len(sent) != 3 {
		t.Fatalf("stand-in got %d messages after confirming, want the confirmation and 2 letters", len(sent))
	}
	for _, m := range e.toTargets() {
		shown := strings.ReplaceAll(m.Get("text"), "'", "&#39;")
		if !strings.Contains(page, shown) {
			t.Errorf("the letter sent is not the one shown:\nsent:\n%s\npage:\n%s", m.Get("text"), page)
		}
		if !strings.Contains(m.Get("text"), "My own words about Springfield") {
			t.Errorf("sent letter lacks the signer's own words: %s", m.Get("text"))
		}
	}

	// Confirming again (a second click, a replayed request) sends nothing.
	again := e.do(t, http.MethodPost, link, nil)
	body := readBody(t, again)
	if again.StatusCode != http.StatusOK || !strings.Contains(body, "already sent on "+time.Now().UTC().Format("2 January 2006")) {
		t.Fatalf("second confirmation: %d\n%s", again.StatusCode, body)
	}
	if reopened := readBody(t, e.do(t, http.MethodGet, link, nil)); !strings.Contains(reopened, "already sent on") {
		t.Errorf("the link opened after confirming does not say the letter was sent:\n%s", reopened)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.mg.Messages()); n != 3 {
		t.Fatalf("stand-in got %d messages after the repeat, want still 3", n)
	}
}

func TestUnknownAndExpiredLinksSendNothingAndExpiredSignaturesAreDeleted(t *testing.T) {
	e := newConfirmEnv(t, nil, nil)
	e.postForm(t, signerForm())
	_, link := e.confirmationTo(t, 1, "jane@example.org")

	unknown := e.do(t, http.MethodGet, letter.ConfirmPath+"not-a-token", nil)
	if body := readBody(t, unknown); unknown.StatusCode != http.StatusNotFound || !strings.Contains(body, "Sign the letter again") {
		t.Errorf("unknown link: %d\n%s", unknown.StatusCode, body)
	}
	// Eight days later.
	if _, err := e.store.DB().Exec(`UPDATE signatures SET created_at = $1`, time.Now().UTC().Add(-8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		resp := e.do(t, method, link, nil)
		if body := readBody(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "expired") {
			t.Errorf("%s expired link: %d\n%s", method, resp.StatusCode, body)
		}
	}
	n, err := e.store.Expire(context.Background(), letter.DefaultConfirmTTL)
	if err != nil || n != 1 {
		t.Fatalf("Expire = %d, %v; want 1", n, err)
	}
	var left int
	e.store.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM signatures) + (SELECT COUNT(*) FROM messages)`).Scan(&left)
	if left != 0 {
		t.Errorf("%d rows of the expired signature are left", left)
	}
	if states, _ := e.store.SignatureStates(context.Background()); states["expired"] != 1 || states[letter.SignatureUnconfirmed] != 0 {
		t.Errorf("states after expiry: %v", states)
	}
	time.Sleep(200 * time.Millisecond)
	if len(e.toTargets()) != 0 {
		t.Error("an expired signature's letters were sent")
	}
}

func TestOwnersConfirmationWinsOverAnImpostorsAttempt(t *testing.T) {
	e := newConfirmEnv(t, nil, nil)
	impostor := signerForm()
	impostor.Set("body", "Words the real owner never wrote.")
	e.postForm(t, impostor)
	_, impostorLink := e.confirmationTo(t, 1, "jane@example.org")
	// The owner signs eleven minutes later (past the throttle).
	backdate(t, e, 11*time.Minute)
	owner := signerForm()
	owner.Set("body", "The owner's own letter.")
	if resp := e.postForm(t, owner); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner's signature: %d", resp.StatusCode)
	}
	_, ownerLink := e.confirmationTo(t, 2, "jane@example.org")
	if ownerLink == impostorLink {
		t.Fatal("two attempts share one token")
	}
	if resp := e.do(t, http.MethodPost, ownerLink, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner's confirmation: %d", resp.StatusCode)
	}
	e.mg.WaitFor(4, 10*time.Second)
	late := e.do(t, http.MethodPost, impostorLink, nil)
	if body := readBody(t, late); late.StatusCode != http.StatusOK || !strings.Contains(body, "already sent on") {
		t.Errorf("the impostor's attempt confirmed later: %d\n%s", late.StatusCode, body)
	}
	time.Sleep(300 * time.Millisecond)
	letters := e.toTargets()
	if len(letters) != 2 {
		t.Fatalf("%d letters to officials, want the owner's 2", len(letters))
	}
	for _, m := range letters {
		if !strings.Contains(m.Get("text"), "The owner's own letter.") {
			t.Errorf("a letter sent is not the owner's: %s", m.Get("text"))
		}
	}
}

func TestConfirmationMailIsThrottledAndTheAnswerNeverTells(t *testing.T) {
	e := newConfirmEnv(t, nil, nil)
	answer := func() (int, string, []string, string) {
		resp := e.post(t, "application/x-www-form-urlencoded", signerForm().Encode(), nil)
		var cookies []string
		for _, c := range resp.Cookies() {
			cookies = append(cookies, c.Name)
		}
		return resp.StatusCode, resp.Header.Get("Location"), cookies, readBody(t, resp)
	}
	s1, l1, c1, b1 := answer()
	e.confirmationTo(t, 1, "jane@example.org")
	s2, l2, c2, b2 := answer() // within ten minutes: no mail
	if s1 != s2 || l1 != l2 || strings.Join(c1, ",") != strings.Join(c2, ",") || b1 != b2 {
		t.Errorf("first and repeat answers differ: %d %q %v vs %d %q %v", s1, l1, c1, s2, l2, c2)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.mg.Messages()); n != 1 {
		t.Fatalf("%d confirmation emails within ten minutes, want 1", n)
	}
	// Spread over the day, three at most.
	for i := 2; i <= 4; i++ {
		backdate(t, e, 11*time.Minute)
		if s, l, _, _ := answer(); s != s1 || l != l1 {
			t.Errorf("attempt %d answered %d %q", i, s, l)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(e.mg.Messages()); n != 3 {
		t.Errorf("%d confirmation emails in a day, want 3", n)
	}
	// JSON clients are told the same.
	resp := e.post(t, "application/json", `{"letter":"family-separation","first_name":"Jane","last_name":"Doe","email":"jane@example.org","address":"12 Elm St","city":"Springfield","state":"IL","zip":"62701"}`, nil)
	var got map[string]any
	json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != http.StatusOK || got["status"] != "confirm" || got["inbox_url"] != "/check-your-inbox/" {
		t.Errorf("JSON answer: %d %v", resp.StatusCode, got)
	}
}

// backdate moves every signature's time, and every confirmation mail's,
// back by d (SQLite).
func backdate(t *testing.T, e *env, d time.Duration) {
	t.Helper()
	rows, err := e.store.DB().Query(`SELECT id, created_at FROM signatures`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id string
		at time.Time
	}
	var all []row
	for rows.Next() {
		var r row
		rows.Scan(&r.id, &r.at)
		all = append(all, r)
	}
	rows.Close()
	for _, r := range all {
		if _, err := e.store.DB().Exec(`UPDATE signatures SET created_at = $1 WHERE id = $2`, r.at.Add(-d), r.id); err != nil {
			t.Fatal(err)
		}
	}
	// And the confirmation mails the throttle counts.
	rows, err = e.store.DB().Query(`SELECT rowid, sent_at FROM confirm_mails`)
	if err != nil {
		t.Fatal(err)
	}
	var mails []row
	for rows.Next() {
		var r row
		rows.Scan(&r.id, &r.at)
		mails = append(mails, r)
	}
	rows.Close()
	for _, r := range mails {
		if _, err := e.store.DB().Exec(`UPDATE confirm_mails SET sent_at = $1 WHERE rowid = $2`, r.at.Add(-d), r.id); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCrossSitePostsAreRefusedAndRecordNothing(t *testing.T) {
	e := newConfirmEnv(t, map[string]string{"CAMPAIGN_ALLOWED_ORIGINS": "https://partner.example"}, nil)
	self := e.srv.URL // http://127.0.0.1:port
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"cross-site fetch", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"foreign origin", http.Header{"Origin": {"https://attacker.example"}}, http.StatusForbidden},
		{"foreign origin, same-site claim", http.Header{"Origin": {"https://attacker.example"}, "Sec-Fetch-Site": {"same-site"}}, http.StatusForbidden},
		{"null origin", http.Header{"Origin": {"null"}}, http.StatusForbidden},
		{"own origin", http.Header{"Origin": {self}, "Sec-Fetch-Site": {"same-origin"}}, http.StatusSeeOther},
		{"the site's public address", http.Header{"Origin": {"https://letters.example.org"}}, http.StatusSeeOther},
		{"allowed embed", http.Header{"Origin": {"https://partner.example"}, "Sec-Fetch-Site": {"cross-site"}}, http.StatusSeeOther},
		{"no headers (a script)", nil, http.StatusSeeOther},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, _ := e.store.SignatureStates(context.Background())
			form := signerForm()
			form.Set("email", letter.NewID()+"@example.org")
			resp := e.post(t, "application/x-www-form-urlencoded", form.Encode(), c.header)
			body := readBody(t, resp)
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, c.want, body)
			}
			after, _ := e.store.SignatureStates(context.Background())
			recorded := after[letter.SignatureUnconfirmed] - before[letter.SignatureUnconfirmed]
			if c.want == http.StatusForbidden {
				if recorded != 0 {
					t.Errorf("a refused post recorded %d signatures", recorded)
				}
				if !strings.Contains(body, "campaign&#39;s own page") || !strings.Contains(body, `value="Springfield"`) {
					t.Errorf("the 403 page does not explain or lost what was typed:\n%s", body)
				}
			} else if recorded != 1 {
				t.Errorf("an accepted post recorded %d signatures", recorded)
			}
		})
	}
	// The confirmation's POST is proved by its token alone: its page
	// sends no Referer, so a browser posts it with Origin: null.
	if resp := e.do(t, http.MethodPost, letter.ConfirmPath+"whatever", http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"same-origin"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a confirmation posted with Origin: null: %d, want the unknown link's 404", resp.StatusCode)
	}
}

func TestPastTheCeilingLettersAreHeldUntilReleased(t *testing.T) {
	e := newEnvWith(t, map[string]string{"CAMPAIGN_CONFIRM": "off", "CAMPAIGN_MAX_SIGN_RATE": "1"}, nil)
	first := signerForm()
	second := signerForm()
	second.Set("email", "john@example.org")
	for _, f := range []url.Values{first, second} {
		if resp := e.postForm(t, f); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/thanks/" {
			t.Fatalf("signature answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	e.mg.WaitFor(2, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if n := len(e.mg.Messages()); n != 2 {
		t.Fatalf("%d letters sent past the ceiling of 1 a minute, want the first signature's 2", n)
	}
	states, _ := e.store.SignatureStates(context.Background())
	counts, _ := e.store.Counts(context.Background())
	if states[letter.SignatureHeld] != 1 || counts[letter.StateHeld] != 2 {
		t.Fatalf("held: %v signatures, %v messages", states, counts)
	}
	// An organizer releases them: `campaign release`.
	if n, err := e.queue.Release(context.Background(), "", 100); err != nil || n != 1 {
		t.Fatalf("Release = %d, %v; want 1", n, err)
	}
	if n := len(e.mg.WaitFor(4, 10*time.Second)); n != 4 {
		t.Fatalf("%d letters sent after the release, want 4", n)
	}
	if n, _ := e.queue.Release(context.Background(), "", 100); n != 0 {
		t.Errorf("a second release found %d held signatures", n)
	}
}

func TestLetterWithoutConfirmationInItsFrontMatterSendsAtOnce(t *testing.T) {
	e := newConfirmEnv(t, nil, func(s *handler.Settings) {
		no := false
		l := *s.Letters["family-separation"]
		l.Confirm = &no
		s.Letters = letter.Letters{l.ID: &l}
	})
	if resp := e.postForm(t, signerForm()); resp.Header.Get("Location") != "/thanks/" {
		t.Fatalf("Location %q, want /thanks/", resp.Header.Get("Location"))
	}
	if n := len(e.mg.WaitFor(2, 10*time.Second)); n != 2 {
		t.Fatalf("%d letters sent, want 2", n)
	}
}

func TestSignerGetsACopyOfTheLetterAsSent(t *testing.T) {
	e := newConfirmEnv(t, nil, func(s *handler.Settings) {
		l := *s.Letters["family-separation"]
		l.CopyToSigner = true
		s.Letters = letter.Letters{l.ID: &l}
	})
	e.postForm(t, signerForm())
	_, link := e.confirmationTo(t, 1, "jane@example.org")
	e.do(t, http.MethodPost, link, nil)
	copyMail, _ := func() (mailguntest.Received, bool) {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, m := range e.mg.Messages() {
				if m.Get("o:tag") == letter.KindCopy {
					return m, true
				}
			}
		}
		return mailguntest.Received{}, false
	}()
	e.mg.WaitFor(4, 10*time.Second)
	letters := e.toTargets()
	if len(letters) != 2 || copyMail.Get("to") != "<jane@example.org>" {
		t.Fatalf("%d letters, copy to %q", len(letters), copyMail.Get("to"))
	}
	for _, m := range letters {
		if !strings.Contains(copyMail.Get("text"), m.Get("text")) {
			t.Errorf("the copy lacks the letter as sent:\n%s\ncopy:\n%s", m.Get("text"), copyMail.Get("text"))
		}
	}
}

// A link opened again says where its letter stands: sent, or held for the
// organizers (past the ceiling here), never "sent" for a held one.
func TestReopenedLinkSaysWhereTheLetterStands(t *testing.T) {
	e := newConfirmEnv(t, map[string]string{"CAMPAIGN_MAX_SIGN_RATE": "1"}, nil)
	first := signerForm()
	e.postForm(t, first)
	_, sentLink := e.confirmationTo(t, 1, "jane@example.org")
	second := signerForm()
	second.Set("email", "john@example.org")
	e.postForm(t, second)
	_, heldLink := e.confirmationTo(t, 1, "john@example.org")
	for _, link := range []string{sentLink, heldLink} {
		if resp := e.do(t, http.MethodPost, link, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirming %s: %d", link, resp.StatusCode)
		}
	}
	sent := readBody(t, e.do(t, http.MethodGet, sentLink, nil))
	held := readBody(t, e.do(t, http.MethodGet, heldLink, nil))
	if !strings.Contains(sent, "already sent on") || strings.Contains(sent, "waits for the campaign") || strings.Contains(sent, "data-if") {
		t.Errorf("the sent letter's page:\n%s", sent)
	}
	if !strings.Contains(held, "waits for the campaign&#39;s organizers") || strings.Contains(held, "already sent") {
		t.Errorf("the held letter's page:\n%s", held)
	}
}

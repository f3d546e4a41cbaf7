package handler

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"campaignkit/handler/letter"
)

// pageHandler is a handler with the published letters (handler/testdata, a
// copy of what Hugo builds), enough to render its pages.
func pageHandler(t *testing.T) (*handler, *letter.Letter) {
	t.Helper()
	letters, err := letter.Load(os.DirFS("testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	var h handler
	h.cfg.Letters = letters
	h.log = slog.New(slog.DiscardHandler)
	l := letters["family-separation"]
	if l == nil || l.Pages.Error == "" || l.Pages.Already == "" {
		t.Fatal("testdata lacks the letter family-separation with its pages: copy a fresh build's public/letters there")
	}
	return &h, l
}

// renderError renders the error page as a form post would get it, and
// parses it back as a browser would.
func renderError(t *testing.T, h *handler, s *letter.Signer, problems map[string]string) (string, *html.Node) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.errorPage(rec, http.StatusUnprocessableEntity, h.supporterLetter(httptest.NewRequest("POST", "/api/sign", nil), s), s, problems)
	if rec.Code != http.StatusUnprocessableEntity || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := rec.Body.String()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return page, doc
}

func typedSigner() *letter.Signer {
	return &letter.Signer{
		Letter: "family-separation", FirstName: `Jane "JJ"`, LastName: "O'Doe", Email: "jane-at-example.org",
		Address: "12 Elm St <b>", City: "Springfield", State: "IL", Zip: "123", Phone: "",
		Subject: `My <subject> & "quotes"`,
		Body:    "\nDear officials,\n<script>alert(\"x\")</script></textarea><script>alert('y')</script>\nIt's \"quoted\" & more.\n",
		Source:  `news"letter`, UTMCampaign: "<spring>", OptIn: true,
	}
}

func TestErrorPageKeepsEverythingTypedAndEscapesIt(t *testing.T) {
	h, _ := pageHandler(t)
	s := typedSigner()
	page, doc := renderError(t, h, s, map[string]string{"email": "Please enter an email address.", "zip": "Please enter a 5-digit ZIP code."})
	if n := len(findAll(doc, func(n *html.Node) bool { return n.Data == "script" || n.Data == "b" })); n != 0 {
		t.Fatalf("typed markup became %d live elements:\n%s", n, page)
	}
	for name, want := range map[string]string{
		"first_name": s.FirstName, "last_name": s.LastName, "email": s.Email, "address": s.Address,
		"city": s.City, "zip": s.Zip, "phone": "", "subject": s.Subject,
	} {
		if got, _ := attr(byID(t, doc, name), "value"); got != want {
			t.Errorf("%s: value %q, want %q", name, got, want)
		}
	}
	if got := textOf(byID(t, doc, "body")); got != s.Body {
		t.Errorf("the letter field holds %q, want exactly %q", got, s.Body)
	}
	var selected []string
	for _, o := range findAll(byID(t, doc, "state"), func(n *html.Node) bool { return n.Data == "option" && has(n, "selected") }) {
		v, _ := attr(o, "value")
		selected = append(selected, v)
	}
	if !slices.Equal(selected, []string{"IL"}) {
		t.Errorf("selected states %q, want [IL]", selected)
	}
	if !has(byID(t, doc, "opt_in"), "checked") {
		t.Error("the opt-in box is not ticked")
	}
	for name, want := range map[string]string{"letter": "family-separation", "source": s.Source, "utm_campaign": s.UTMCampaign, "utm_term": ""} {
		in := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "name"); return n.Data == "input" && v == name })
		if len(in) != 1 {
			t.Fatalf("%d inputs named %s", len(in), name)
		}
		if got, _ := attr(in[0], "value"); got != want {
			t.Errorf("hidden %s = %q, want %q", name, got, want)
		}
	}

	// Unticked, the box is not checked (the page may have been built ticked).
	s.OptIn = false
	// An empty subject and letter send the published ones: the page shows them.
	s.Subject, s.Body = "", ""
	_, doc = renderError(t, h, s, map[string]string{"zip": "Please enter a 5-digit ZIP code."})
	if has(byID(t, doc, "opt_in"), "checked") {
		t.Error("the opt-in box is ticked although the supporter left it empty")
	}
	_, l := pageHandler(t)
	if got, _ := attr(byID(t, doc, "subject"), "value"); got != l.Subject {
		t.Errorf("empty subject shows %q, want the published %q", got, l.Subject)
	}
	if got := textOf(byID(t, doc, "body")); !strings.HasPrefix(got, l.Body[:40]) {
		t.Errorf("empty letter shows %q, want the published one", got)
	}
}

func TestErrorPageMarksEachInvalidField(t *testing.T) {
	h, _ := pageHandler(t)
	problems := map[string]string{
		"email": "Please enter an email address, like name@example.org.",
		"zip":   "Please enter a 5-digit ZIP code.",
		"state": "Please choose your state.",
		"body":  "Your letter is too long.",
	}
	page, doc := renderError(t, h, typedSigner(), problems)
	hints := map[string]string{"email": "email-hint", "zip": "zip-hint", "body": "body-hint"}
	for name, msg := range problems {
		c := byID(t, doc, name)
		if v, _ := attr(c, "aria-invalid"); v != "true" {
			t.Errorf("%s is not marked aria-invalid", name)
		}
		want := name + "-error"
		if h := hints[name]; h != "" {
			want += " " + h
		}
		if v, _ := attr(c, "aria-describedby"); v != want {
			t.Errorf("%s: aria-describedby %q, want %q", name, v, want)
		}
		e := byID(t, doc, name+"-error")
		if textOf(e) != msg || !hasClass(e, "error-text") {
			t.Errorf("%s's message: %q, want %q in a .error-text", name, textOf(e), msg)
		}
		// Right after the field's label.
		prev := e.PrevSibling
		for prev != nil && prev.Type != html.ElementNode {
			prev = prev.PrevSibling
		}
		if prev == nil || prev.Data != "label" {
			t.Errorf("%s's message does not follow its label", name)
		} else if f, _ := attr(prev, "for"); f != name {
			t.Errorf("%s's message follows the label for %q", name, f)
		}
	}
	for _, name := range []string{"first_name", "last_name", "city", "address", "phone", "subject", "opt_in", "website"} {
		if has(byID(t, doc, name), "aria-invalid") {
			t.Errorf("the valid field %s is marked invalid", name)
		}
	}
	if strings.Count(page, `aria-invalid="true"`) != len(problems) {
		t.Errorf("%d fields marked invalid, want %d", strings.Count(page, `aria-invalid="true"`), len(problems))
	}
}

func TestErrorPageSummaryFollowsTheFormWithItsLabels(t *testing.T) {
	h, _ := pageHandler(t)
	problems := map[string]string{
		"body":      "Your letter is too long.",
		"zip":       "Please enter a 5-digit ZIP code.",
		"email":     "Please enter an email address.",
		"request":   "Too many letters have been sent from your network.",
		"turnstile": "Please confirm you are a person.", // no control in the page
		"state":     "Please choose your state.",
		"letter":    "The form does not say which letter to send.",
	}
	_, doc := renderError(t, h, typedSigner(), problems)
	summary := byID(t, doc, "problems")
	if r, _ := attr(summary, "role"); r != "alert" {
		t.Errorf("the summary's role is %q, want alert", r)
	}
	if ti, _ := attr(summary, "tabindex"); ti != "-1" {
		t.Errorf("the summary's tabindex is %q, want -1", ti)
	}
	var items []string
	for _, li := range findAll(summary, func(n *html.Node) bool { return n.Data == "li" }) {
		item := textOf(li)
		if a := findAll(li, func(n *html.Node) bool { return n.Data == "a" }); len(a) > 0 {
			href, _ := attr(a[0], "href")
			item = href + " " + item
		}
		items = append(items, item)
	}
	want := []string{
		problems["letter"], problems["request"], problems["turnstile"],
		"#email Email: " + problems["email"],
		"#state State: " + problems["state"],
		"#zip ZIP code: " + problems["zip"],
		"#body Your letter: " + problems["body"],
	}
	if !slices.Equal(items, want) {
		t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(items, "\n"), strings.Join(want, "\n"))
	}
}

func TestErrorPageLabelComesFromThePage(t *testing.T) {
	h, l := pageHandler(t)
	edited := strings.Replace(l.Pages.Error, `<label for="zip">ZIP code</label>`, `<label for="zip">Postal code</label>`, 1)
	if edited == l.Pages.Error {
		t.Fatal("the built page has no ZIP code label to change")
	}
	l.Pages.Error = edited
	page, doc := renderError(t, h, typedSigner(), map[string]string{"zip": "Please enter a 5-digit ZIP code."})
	if got := textOf(findAll(byID(t, doc, "problems"), func(n *html.Node) bool { return n.Data == "li" })[0]); got != "Postal code: Please enter a 5-digit ZIP code." {
		t.Errorf("summary item %q, want the page's own label", got)
	}
	if strings.Contains(page, ">ZIP code") {
		t.Error("the label Go knew of still shows")
	}
}

func TestErrorPageWearsTheSite(t *testing.T) {
	h, _ := pageHandler(t)
	page, doc := renderError(t, h, typedSigner(), map[string]string{"zip": "Please enter a 5-digit ZIP code."})
	for _, want := range []string{
		`<html lang="en-US">`, `<header class="site">`, `<footer class="site">`, `<a class="skip" href="#problems">`,
		`<title>Please check your letter`, `<h1>Please check your letter</h1>`, `Back to the campaign</a>`,
		`<form method="post" action="/api/sign" id="sign-form"`, `<button type="submit">Sign and send the letter</button>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("error page lacks %q", want)
		}
	}
	css := findAll(doc, func(n *html.Node) bool { r, _ := attr(n, "rel"); return n.Data == "link" && r == "stylesheet" })
	if len(css) != 1 {
		t.Fatalf("%d stylesheets", len(css))
	}
	if href, _ := attr(css[0], "href"); !strings.HasPrefix(href, "/css/site.min.") || !has(css[0], "integrity") {
		t.Errorf("stylesheet %q is not the site's fingerprinted one", href)
	}
	if n := len(findAll(doc, func(n *html.Node) bool { return n.Data == "script" })); n != 0 {
		t.Errorf("the error page has %d scripts; its Content-Security-Policy allows none", n)
	}
}

func TestErrorPageShowsTheHoneypotOnlyWhenItIsTheProblem(t *testing.T) {
	h, _ := pageHandler(t)
	s := typedSigner()
	_, doc := renderError(t, h, s, map[string]string{"zip": "Please enter a 5-digit ZIP code."})
	box := byID(t, doc, "website").Parent
	if v, _ := attr(box, "aria-hidden"); v != "true" || !hasClass(box, "hp") {
		t.Errorf("the honeypot shows although it is not the problem")
	}

	s.Website = "http://spam.example"
	_, doc = renderError(t, h, s, map[string]string{"website": "Please leave this field empty."})
	in := byID(t, doc, "website")
	box = in.Parent
	if has(box, "aria-hidden") || hasClass(box, "hp") {
		t.Error("the honeypot with a problem is still hidden")
	}
	if has(in, "tabindex") {
		t.Error("the honeypot with a problem is out of the keyboard's reach")
	}
	if v, _ := attr(in, "value"); v != s.Website {
		t.Errorf("honeypot value %q", v)
	}
	if got := textOf(byID(t, doc, "website-error")); got != "Please leave this field empty." {
		t.Errorf("honeypot message %q", got)
	}
	if got := textOf(findAll(byID(t, doc, "problems"), func(n *html.Node) bool { return n.Data == "li" })[0]); got != "Leave this field empty: Please leave this field empty." {
		t.Errorf("summary %q", got)
	}
}

func TestErrorPageWithoutTypedValuesKeepsThePublishedLetter(t *testing.T) {
	h, l := pageHandler(t)
	// A request that could not be read (413, 405) has no signer.
	_, doc := renderError(t, h, nil, map[string]string{"request": "The letter is too large to send."})
	if v, _ := attr(byID(t, doc, "subject"), "value"); v != l.Subject {
		t.Errorf("subject %q, want the published %q", v, l.Subject)
	}
	if items := findAll(byID(t, doc, "problems"), func(n *html.Node) bool { return n.Data == "li" }); len(items) != 1 || textOf(items[0]) != "The letter is too large to send." {
		t.Errorf("summary %d items", len(items))
	}
	// An unknown letter: another letter's page, keeping the id sent, so a
	// second try does not sign a letter the supporter did not choose.
	s := typedSigner()
	s.Letter = "gone"
	_, doc = renderError(t, h, s, map[string]string{"letter": "This letter does not exist (any more)."})
	in := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "name"); return v == "letter" })
	if v, _ := attr(in[0], "value"); v != "gone" {
		t.Errorf("letter %q, want the one sent", v)
	}
}

func TestAlreadyPageShowsTheDate(t *testing.T) {
	h, l := pageHandler(t)
	rec := httptest.NewRecorder()
	h.alreadyPage(rec, l, &letter.Signature{State: letter.SignatureConfirmed, ConfirmedAt: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)})
	page := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`<p role="status">A letter in your name was already sent on 2 January 2026. Each person&#39;s letter goes out once, so nothing new was sent.</p>`,
		`<header class="site">`, `<footer class="site">`, `<a href="` + l.ThanksURL + `">`, `rel="stylesheet"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("already-signed page lacks %q", want)
		}
	}
	if strings.Contains(page, datePlaceholder) {
		t.Error("the date placeholder is left in the page")
	}
}

func byID(t *testing.T, doc *html.Node, id string) *html.Node {
	t.Helper()
	found := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(found) != 1 {
		t.Fatalf("%d elements with id %q", len(found), id)
	}
	return found[0]
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var found []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			found = append(found, d)
		}
	}
	return found
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func has(n *html.Node, key string) bool { _, ok := attr(n, key); return ok }

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return slices.Contains(strings.Fields(v), class)
}

// textOf is the text in n, as a browser's textContent (whitespace between
// elements collapsed for lists).
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	if n.Data == "textarea" {
		return b.String()
	}
	return strings.TrimSpace(b.String())
}

// A template edit that drops what the handler fills is caught when the
// letters load, not by a supporter who gets the form back unexplained.
func TestCheckPagesRefusesPagesTheHandlerCannotFill(t *testing.T) {
	_, l := pageHandler(t)
	if err := CheckPages(l); err != nil {
		t.Fatalf("the published pages: %v", err)
	}
	tests := []struct {
		name string
		edit func(*letter.Letter)
		want string
	}{
		{"no summary", func(l *letter.Letter) {
			l.Pages.Error = strings.Replace(l.Pages.Error, `id="problems"`, `id="other"`, 1)
		}, "no list"},
		{"no ZIP field", func(l *letter.Letter) {
			l.Pages.Error = strings.Replace(l.Pages.Error, `name="zip"`, `name="postcode"`, 1)
		}, "zip"},
		{"no date", func(l *letter.Letter) { l.Pages.Already = strings.ReplaceAll(l.Pages.Already, "{date}", "recently") }, "{date}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, l := pageHandler(t)
			tt.edit(l)
			if err := CheckPages(l); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	// A Spanish page the handler cannot fill is refused with the letters.
	_, l = pageHandler(t)
	if err := CheckLetters(letter.Letters{l.ID: l}); err != nil {
		t.Fatalf("the published letters: %v", err)
	}
	es := *l.In("es")
	es.Pages.Already = strings.ReplaceAll(es.Pages.Already, "{date}", "hace poco")
	l.Translations = map[string]*letter.Letter{"es": &es}
	if err := CheckLetters(letter.Letters{l.ID: l}); err == nil || !strings.Contains(err.Error(), `in "es"`) {
		t.Errorf("a Spanish already-signed page without {date}: %v", err)
	}
}

// The page's length limits are the handler's: what the browser lets a
// supporter type, the handler accepts.
func TestPageLimitsMatchTheFieldTable(t *testing.T) {
	_, l := pageHandler(t)
	p := parsePage(l.Pages.Error)
	for _, f := range letter.Fields {
		c := p.controls[f.Name]
		// Hidden fields and the select are not typed in; the honeypot takes nothing.
		if c == nil || c.typ == "hidden" || c.typ == "select" || f.Name == "website" {
			continue
		}
		max, ok := getAttr(p.toks[c.at].tok, "maxlength")
		if !ok {
			t.Errorf("%s: the page sets no maxlength (the handler allows %d)", f.Name, f.Max)
			continue
		}
		if max != strconv.Itoa(f.Max) {
			t.Errorf("%s: the page allows %s characters, the handler %d", f.Name, max, f.Max)
		}
	}
}

// The parser finds what it fills in pages of any shape, not just today's
// template: labels without their marker (nested spans included), controls
// without labels, hidden boxes at the very top of a document, elements
// left open, a textarea at the very end.
func TestParsePageFindsWhatItFills(t *testing.T) {
	p := parsePage(`<div aria-hidden="true" class="hp"><label for="w">W</label><input id="w" name="w" tabindex="-1"></div>` +
		`<div id="problems"><ul></ul></div><form><div><span>left open</div>` +
		`<label for="a"><span>A</span> <span class="req">(required <span>really</span>)</span> B</label><input id="a" name="a">` +
		`<input id="nolabel" name="nolabel"><label for="t">T</label><textarea id="t" name="t">orig`)
	if a := p.controls["a"]; a == nil || a.label != "A B" || a.hiddenBy != -1 {
		t.Errorf("control a = %+v, want label \"A B\" and not hidden", a)
	}
	if w := p.controls["w"]; w == nil || w.hiddenBy != 0 {
		t.Errorf("control w = %+v, want hidden by the first element", w)
	}
	if p.field("nolabel") != nil {
		t.Error("a control without a label counts as a field a supporter sees")
	}
	if p.summary < 0 {
		t.Error("the summary list was not found")
	}
	var out strings.Builder
	if err := p.fillForm(&out, map[string]string{"t": "typed", "a": "x"}, map[string]string{"w": "Must stay empty.", "a": "Bad."}); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, want := range []string{
		`<div class="field">`, // the honeypot's box shown
		`<input id="w" name="w" aria-invalid="true" aria-describedby="w-error">`, // and its field reachable
		`<textarea id="t" name="t">typed`,                                        // the last token replaced, nothing after
		`<span class="req">(required <span>really</span>)</span> B</label><p class="error-text" id="a-error">Bad.</p>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("filled page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "orig") {
		t.Error("the textarea kept the page's text as well as the typed one")
	}
}

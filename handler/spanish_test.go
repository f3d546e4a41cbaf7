package handler_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
)

// The Spanish edition: a supporter on /es/ posts the form with lang=es
// and everything after speaks Spanish, while the letter goes to the same
// targets as the English one, counted as the same letter.

func spanishForm() url.Values {
	v := signerForm()
	v.Set("lang", "es")
	return v
}

// spanishMonths are the months as a Spanish date writes them.
var spanishMonths = []string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}

func spanishDate(t time.Time) string {
	t = t.UTC()
	return strconv.Itoa(t.Day()) + " de " + spanishMonths[t.Month()-1] + " de " + strconv.Itoa(t.Year())
}

func TestSpanishFormSendsTheSpanishLetterToTheSameTargets(t *testing.T) {
	e := newEnv(t, nil)
	en := e.letters["family-separation"]
	es := en.In("es")
	if es == en || es.Lang != "es" {
		t.Fatal("testdata lacks the Spanish letter: copy a fresh build's public/es/letters to testdata/site/es/letters")
	}
	resp := e.postForm(t, spanishForm())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/es/thanks/" {
		t.Fatalf("status %d, Location %q; want 303 to the Spanish thank-you page /es/thanks/", resp.StatusCode, resp.Header.Get("Location"))
	}
	msgs := e.mg.WaitFor(2, 10*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("stand-in got %d messages, want 2", len(msgs))
	}
	slices.SortFunc(msgs, func(a, b mailguntest.Received) int {
		return strings.Compare(a.Get("h:Message-Id"), b.Get("h:Message-Id"))
	})
	signature := "Atentamente,\n\nJane Doe\n12 Elm St\nSpringfield, IL 62701"
	for i, want := range []struct{ to, salutation string }{
		{`"Donald J. Trump" <president@whitehouse.example>`, "Estimado presidente Trump:"},
		{`"Kirstjen Nielsen" <secretary@dhs.example>`, "Estimada secretaria Nielsen:"},
	} {
		m := msgs[i]
		assertOnlyFields(t, m)
		// The same targets as the English letter's, in the same order.
		if !strings.Contains(m.Get("to"), "<"+en.Targets[i].Email+">") {
			t.Errorf("message %d to %q, not the letter's target %s", i, m.Get("to"), en.Targets[i].Email)
		}
		checks := map[string]string{
			"to":      want.to,
			"subject": "Protejan a los niños y pongan fin a la separación de familias",
			"o:tag":   "family-separation",
			// The Spanish page's text, merged: its body is the page's
			// textarea (cmd/campaign holds them equal), with the passages
			// for this target only.
			"text": want.salutation + "\n\n" + letter.BodyFor(es.Passages, es.Body, es.Targets[i].Name) + "\n\n" + signature + "\n",
		}
		for field, v := range checks {
			if got := m.Get(field); got != v {
				t.Errorf("message %d %s = %q, want %q", i, field, got, v)
			}
		}
	}
	if !strings.Contains(msgs[0].Get("text"), "Le escribo para expresarle mi preocupación") {
		t.Errorf("the letter sent is not the Spanish one:\n%s", msgs[0].Get("text"))
	}
	// Recorded as the one letter, in Spanish.
	var lang, id string
	if err := e.store.DB().QueryRow(`SELECT lang, letter_id FROM signatures`).Scan(&lang, &id); err != nil {
		t.Fatal(err)
	}
	if lang != "es" || id != "family-separation" {
		t.Errorf("signature recorded as letter %q in %q, want family-separation in es", id, lang)
	}
	// One count for both languages, drawn in the page's.
	for query, want := range map[string]string{"?lang=es": ">1 firma<", "": ">1 signature<"} {
		if svg := readBody(t, e.do(t, http.MethodGet, "/api/letters/family-separation/count.svg"+query, nil)); !strings.Contains(svg, want) {
			t.Errorf("count.svg%s lacks %q:\n%s", query, want, svg)
		}
	}
	// The same address signing the English form is the same signer of the
	// same letter: nothing new is sent.
	if resp := e.postForm(t, signerForm()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("English repeat: %d", resp.StatusCode)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.mg.Messages()); n != 2 {
		t.Errorf("the English repeat of a Spanish signature sent %d messages in all, want still 2", n)
	}
}

func TestSpanishErrorsSpeakSpanish(t *testing.T) {
	e := newEnv(t, func(s *handler.Settings) { s.RatePerMinute, s.Burst = 1, 3 })
	form := spanishForm()
	form.Del("first_name")
	form.Set("zip", "1234")
	form.Set("city", "San Juan")
	resp := e.postForm(t, form)
	page := readBody(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{
		`<html lang="es-US">`,
		"Por favor, revise su carta",
		"Por favor, escriba su nombre.",
		"Por favor, escriba un código postal de 5 dígitos",
		`value="San Juan"`,              // what was typed is kept
		`name="lang" value="es"`,        // and the page posts in Spanish again
		`hreflang="en">English</a>`,     // the switch to the English campaign page
		`<option value="NY">Nueva York`, // state names in Spanish
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the Spanish error page lacks %q", want)
		}
	}
	for _, english := range []string{"Please enter", "Please check your letter"} {
		if strings.Contains(page, english) {
			t.Errorf("the Spanish error page says %q", english)
		}
	}

	// JSON clients get the same words.
	raw, _ := json.Marshal(map[string]string{"letter": "family-separation", "lang": "es", "first_name": "Ana", "last_name": "Ruiz",
		"email": "ana@example.org", "address": "1 Calle", "city": "El Paso", "state": "TX", "zip": "799"})
	resp = e.post(t, "application/json", string(raw), nil)
	var answer struct{ Errors map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("JSON: %d, %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(answer.Errors["zip"], "Por favor, escriba un código postal") {
		t.Errorf("JSON zip error %q is not Spanish", answer.Errors["zip"])
	}

	// A post from another site (403), and too many posts (429).
	resp = e.post(t, "application/x-www-form-urlencoded", spanishForm().Encode(), http.Header{"Origin": {"https://attacker.example"}})
	if page := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "Este formulario solo se puede enviar desde la página de la campaña") {
		t.Errorf("403: %d, not in Spanish:\n%s", resp.StatusCode, page)
	}
	// Too large to read (413): the form's lang is not read, the page it
	// came from says Spanish.
	big := spanishForm()
	big.Set("body", strings.Repeat("a", handler.MaxRequestBytes))
	resp = e.post(t, "application/x-www-form-urlencoded", big.Encode(), http.Header{"Referer": {e.srv.URL + "/es/"}})
	if page := readBody(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(page, "La carta es demasiado larga para enviarla") {
		t.Errorf("413: %d, not in Spanish:\n%s", resp.StatusCode, page)
	}
	var limited *http.Response
	for i := 0; i < 10 && limited == nil; i++ {
		if r := e.postForm(t, form); r.StatusCode == http.StatusTooManyRequests {
			limited = r
		}
	}
	if limited == nil {
		t.Fatal("no 429 after 10 posts at one a minute")
	}
	if page := readBody(t, limited); !strings.Contains(page, "Se enviaron demasiadas cartas desde su red") || !strings.Contains(page, `value="San Juan"`) {
		t.Errorf("429 not in Spanish or lost what was typed:\n%s", page)
	}
}

func TestSpanishConfirmationEmailAndPages(t *testing.T) {
	e := newConfirmEnv(t, nil, nil)
	es := e.letters["family-separation"].In("es")
	resp := e.postForm(t, spanishForm())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/es/check-your-inbox/" {
		t.Fatalf("status %d, Location %q; want 303 to /es/check-your-inbox/", resp.StatusCode, resp.Header.Get("Location"))
	}
	mail, link := e.confirmationTo(t, 1, "jane@example.org")
	if got, want := mail.Get("subject"), "Confirme su carta: "+es.Subject; got != want {
		t.Errorf("confirmation subject %q, want %q", got, want)
	}
	text := mail.Get("text")
	for _, want := range []string{"Hola:", "Todavía no se ha enviado nada", "la solicitud se borrará en 7 días", "- Donald J. Trump, Presidente de los Estados Unidos", es.Campaign} {
		if !strings.Contains(text, want) {
			t.Errorf("the Spanish confirmation email lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Nothing has been sent") {
		t.Errorf("the Spanish confirmation email is in English:\n%s", text)
	}

	page := readBody(t, e.do(t, http.MethodGet, link, nil))
	for _, want := range []string{`<html lang="es-US">`, "Lea su carta y luego envíela", "Enviar mi carta", "Estimada secretaria Nielsen:", "Le escribo para expresarle"} {
		if !strings.Contains(page, want) {
			t.Errorf("the Spanish confirmation page lacks %q", want)
		}
	}
	confirm := e.do(t, http.MethodPost, link, nil)
	if confirm.StatusCode != http.StatusSeeOther || confirm.Header.Get("Location") != "/es/thanks/" {
		t.Fatalf("confirm: %d to %q; want 303 to /es/thanks/", confirm.StatusCode, confirm.Header.Get("Location"))
	}
	e.mg.WaitFor(3, 10*time.Second)
	for _, m := range e.toTargets() {
		if !strings.HasPrefix(m.Get("text"), "Estimado presidente Trump:") && !strings.HasPrefix(m.Get("text"), "Estimada secretaria Nielsen:") {
			t.Errorf("letter sent without its Spanish salutation:\n%s", m.Get("text"))
		}
	}
	// Opened again: already sent, on a Spanish date.
	again := readBody(t, e.do(t, http.MethodGet, link, nil))
	if want := "Ya se envió una carta en su nombre el " + spanishDate(time.Now()); !strings.Contains(again, want) {
		t.Errorf("the reopened link lacks %q:\n%s", want, again)
	}
	// An unknown link knows no signature: the browser's language speaks.
	resp = e.do(t, http.MethodGet, letter.ConfirmPath+"unknown", http.Header{"Accept-Language": {"es-MX,es;q=0.9,en;q=0.5"}})
	if page := readBody(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "Este enlace ya no funciona") {
		t.Errorf("unknown link with a Spanish browser: %d\n%s", resp.StatusCode, page)
	}
	resp = e.do(t, http.MethodGet, letter.ConfirmPath+"unknown", http.Header{"Accept-Language": {"en-US,es;q=0.5"}})
	if page := readBody(t, resp); !strings.Contains(page, "This link no longer works") {
		t.Errorf("unknown link with an English browser is not in English:\n%s", page)
	}
}

func TestSpanishCopyToSigner(t *testing.T) {
	e := newConfirmEnv(t, nil, func(s *handler.Settings) {
		for _, l := range s.Letters {
			l.CopyToSigner = true
			for _, tr := range l.Translations {
				tr.CopyToSigner = true
			}
		}
	})
	e.postForm(t, spanishForm())
	_, link := e.confirmationTo(t, 1, "jane@example.org")
	e.do(t, http.MethodPost, link, nil)
	copyMail, _ := e.waitKind(t, "copy")
	if !strings.HasPrefix(copyMail.Get("subject"), "Su carta tal como se envió: ") ||
		!strings.Contains(copyMail.Get("text"), "Esta es la carta que usted envió") || !strings.Contains(copyMail.Get("text"), "Asunto: Protejan") {
		t.Errorf("the copy is not in Spanish: %q\n%s", copyMail.Get("subject"), copyMail.Get("text"))
	}
}

// waitKind waits for the message to the signer tagged kind.
func (e *env) waitKind(t *testing.T, kind string) (mailguntest.Received, bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range e.mg.Messages() {
			if m.Get("o:tag") == kind {
				return m, true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s message; the stand-in got %d", kind, len(e.mg.Messages()))
	return mailguntest.Received{}, false
}

// The published Spanish letter's own words for merge fields, typed by a
// supporter in their edited letter, merge to their details, and the
// passages reach only their targets, markers removed.
func TestSpanishEditedLetterMerges(t *testing.T) {
	letters, err := letter.Load(os.DirFS("testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	es := letters["family-separation"].In("es")
	if es.Lang != "es" || len(es.Passages) != 2 {
		t.Fatalf("the fixture's Spanish letter: lang %q, %d passages; want es with 2", es.Lang, len(es.Passages))
	}
	start, end := es.Passages[0].Start, es.Passages[0].End // the President's
	if !strings.Contains(es.Body, start) {
		t.Fatalf("the Spanish body lacks the marker %q", start)
	}
	s := letter.Signer{FirstName: "Ana", LastName: "García", Email: "ana@example.org", Address: "12 Elm St",
		City: "El Paso", State: "TX", Zip: "79901", Lang: "es"}
	s.Body = "Me llamo [su nombre completo]; [su nombre] para los amigos, de [su ciudad].\n\n" +
		start + "\n\nSolo para el presidente.\n\n" + end + "\n\nGracias."
	for i := 0; i < 20; i++ { // the same whatever the placeholders map's order
		msgs := letter.Merge(es, &s)
		want := []string{
			"Me llamo Ana García; Ana para los amigos, de El Paso.\n\nSolo para el presidente.\n\nGracias.",
			"Me llamo Ana García; Ana para los amigos, de El Paso.\n\nGracias.",
		}
		for j, m := range msgs {
			if !strings.Contains(m.Text, "\n\n"+want[j]+"\n\n") {
				t.Fatalf("run %d, %s's copy:\n%s\nwant its body %q", i, m.TargetName, m.Text, want[j])
			}
		}
	}
}

package handler_test

import (
	"net/http"
	"testing"
	"time"
)

// optInOf is the opt-in recorded for the signature of the letter in
// email's name that counts (not an attempt still unconfirmed).
func (e *env) optInOf(t *testing.T, email string) (on bool, text, lang string) {
	t.Helper()
	err := e.store.DB().QueryRow(`SELECT opt_in, opt_in_text, opt_in_lang FROM signatures
		WHERE email = $1 AND sig_state <> 'unconfirmed'`, email).Scan(&on, &text, &lang)
	if err != nil {
		t.Fatal(err)
	}
	return on, text, lang
}

// A signer who ticks the box records the words the page showed them.
func TestOptInRecordsTheWordsOnThePage(t *testing.T) {
	e := newEnv(t, nil)
	form := signerForm()
	form.Set("opt_in", "yes")
	if resp := e.postForm(t, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := e.letters["family-separation"].OptIn
	if on, text, lang := e.optInOf(t, "jane@example.org"); !on || text != want.Text || lang != want.Lang {
		t.Errorf("recorded opt-in %v %q %q, want %q %q", on, text, lang, want.Text, want.Lang)
	}
}

// With confirmation, a repeat's opt-in waits for its signer's
// confirmation: the link's page changes nothing, its button records it.
func TestRepeatOptInCountsOnlyOnceConfirmed(t *testing.T) {
	e := newConfirmEnv(t, nil, nil)
	e.postForm(t, signerForm())
	_, link := e.confirmationTo(t, 1, "jane@example.org")
	if resp := e.do(t, http.MethodPost, link, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmation: %d", resp.StatusCode)
	}
	backdate(t, e, 11*time.Minute)
	form := signerForm()
	form.Set("opt_in", "yes")
	if resp := e.postForm(t, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("repeat: %d", resp.StatusCode)
	}
	_, again := e.confirmationTo(t, 2, "jane@example.org")
	e.do(t, http.MethodGet, again, nil)
	if on, _, _ := e.optInOf(t, "jane@example.org"); on {
		t.Fatal("an unconfirmed repeat opted the signer in")
	}
	e.do(t, http.MethodPost, again, nil)
	want := e.letters["family-separation"].OptIn
	if on, text, lang := e.optInOf(t, "jane@example.org"); !on || text != want.Text || lang != want.Lang {
		t.Errorf("after confirming the repeat: %v %q %q", on, text, lang)
	}
}

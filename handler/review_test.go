package handler_test

import (
	"net/http"
	"strings"
	"testing"

	"campaignkit/handler"
)

// With review_edits, the confirmation page of an edited letter tells its
// signer an organizer reads it first; other signers' pages do not.
func TestConfirmationPageSaysEditedLettersAreReviewed(t *testing.T) {
	const note = "an organizer of the campaign reads it before it goes out"
	e := newConfirmEnv(t, nil, func(s *handler.Settings) {
		s.Letters["family-separation"].ReviewEdits = true
	})
	form := signerForm()
	form.Set("email", "plain@example.org")
	e.postForm(t, form)
	_, link := e.confirmationTo(t, 1, "plain@example.org")
	page := readBody(t, e.do(t, http.MethodGet, link, nil))
	if strings.Contains(page, note) || strings.Contains(page, "data-if") {
		t.Errorf("the page of an unedited letter speaks of review:\n%s", page)
	}
	form.Set("email", "jane@example.org")
	form.Set("body", "My own words about {{city}}.")
	e.postForm(t, form)
	_, link = e.confirmationTo(t, 1, "jane@example.org")
	if page := readBody(t, e.do(t, http.MethodGet, link, nil)); !strings.Contains(page, note) {
		t.Errorf("the page of an edited letter does not say it is reviewed:\n%s", page)
	}
}

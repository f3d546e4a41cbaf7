package handler

import (
	"encoding/json"
	"errors"
	"net/http"

	"campaignkit/handler/letter"
)

// requestError is a problem with the request itself, with the status it
// maps to and words for the supporter.
type requestError struct {
	status  int
	field   string // the field it concerns; "" for the request as a whole
	message string
}

func (e *requestError) Error() string { return e.message }

var (
	errMethod        = &requestError{http.StatusMethodNotAllowed, "", "Signatures are sent with POST."}
	errTooLarge      = &requestError{http.StatusRequestEntityTooLarge, "", "The letter is too large to send. Please shorten it and try again."}
	errRateLimited   = &requestError{http.StatusTooManyRequests, "", "Too many letters have been sent from your network in a short time. Please wait a minute and send again; what you typed is kept below."}
	errCrossSite     = &requestError{http.StatusForbidden, "", "This form can only be sent from the campaign's own page. Nothing was sent; please sign on the campaign page itself."}
	errUnknownLetter = &requestError{http.StatusNotFound, "letter", "This letter does not exist (any more). Please start again from the campaign page."}
)

func malformed(why string) error {
	return &requestError{http.StatusBadRequest, "", "The request is malformed: " + why + "."}
}

// fail is the one place that answers an error: it picks the status,
// logs internal errors (without personal data) and shows the supporter a
// plain message, as JSON or as an HTML page that keeps what they typed.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, s *letter.Signer, err error) {
	status, problems := http.StatusInternalServerError, map[string]string{}
	var fieldErrs letter.FieldErrors
	var reqErr *requestError
	var unavailable *letter.Unavailable
	switch {
	case errors.As(err, &unavailable):
		status = http.StatusServiceUnavailable
		h.log.Warn("signature refused", "reason", unavailable.Reason)
		problems["request"] = unavailable.Reason + " Your letter was not sent; what you typed is kept below."
	case errors.As(err, &fieldErrs):
		status = http.StatusUnprocessableEntity
		problems = fieldErrs
	case errors.As(err, &reqErr):
		status = reqErr.status
		key := reqErr.field
		if key == "" {
			key = "request"
		}
		problems[key] = reqErr.message
	default:
		h.log.Error("signature not recorded", "error", err.Error())
		problems["request"] = "Something went wrong on our side and your letter was not sent. Please try again in a moment; what you typed is kept below."
	}
	if wantsJSON(r) {
		writeJSON(w, status, map[string]any{"errors": problems})
		return
	}
	h.errorPage(w, status, s, problems)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

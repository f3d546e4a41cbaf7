package handler

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"campaignkit/handler/letter"
)

// requestError is a problem with the request itself, with the status it
// maps to and words for the supporter: a message key (letter.Say), or,
// for a malformed request (which no form makes), English words.
type requestError struct {
	status  int
	field   string // the field it concerns; "" for the request as a whole
	key     string
	message string
}

func (e *requestError) Error() string {
	if e.key != "" {
		return letter.English[e.key]
	}
	return e.message
}

// say is the error's words in the letter's language.
func (e *requestError) say(l *letter.Letter) string {
	if e.key != "" {
		return l.Say(e.key)
	}
	return e.message
}

var (
	errMethod        = &requestError{status: http.StatusMethodNotAllowed, key: "error_method"}
	errTooLarge      = &requestError{status: http.StatusRequestEntityTooLarge, key: "error_too_large"}
	errRateLimited   = &requestError{status: http.StatusTooManyRequests, key: "error_rate_limited"}
	errCrossSite     = &requestError{status: http.StatusForbidden, key: "error_cross_site"}
	errUnknownLetter = &requestError{status: http.StatusNotFound, field: "letter", key: "letter_unknown"}
)

func malformed(why string) error {
	return &requestError{status: http.StatusBadRequest, message: "The request is malformed: " + why + "."}
}

// fieldKeys are problems found before the letter (and so its language)
// is known, by field: message keys, said in the supporter's language
// when answered.
type fieldKeys map[string]string

func (e fieldKeys) Error() string {
	english := letter.FieldErrors{}
	for name, key := range e {
		english[name] = letter.English[key]
	}
	return english.Error()
}

// fail is the one place that answers an error: it picks the status,
// logs internal errors (without personal data) and shows the supporter a
// plain message, as JSON or as an HTML page that keeps what they typed.
//
// Its words are in the supporter's language (supporterLetter).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, s *letter.Signer, err error) {
	l := h.supporterLetter(r, s)
	status, problems := http.StatusInternalServerError, map[string]string{}
	var fieldErrs letter.FieldErrors
	var keys fieldKeys
	var reqErr *requestError
	var unavailable *letter.Unavailable
	switch {
	case errors.As(err, &unavailable):
		status = http.StatusServiceUnavailable
		h.log.Warn("signature refused", "reason", unavailable.Reason)
		reason := unavailable.Reason
		if unavailable.Key != "" {
			reason = l.Say(unavailable.Key)
		}
		problems["request"] = l.Say("error_unavailable", "reason", reason)
	case errors.As(err, &fieldErrs):
		status = http.StatusUnprocessableEntity
		problems = fieldErrs
	case errors.As(err, &keys):
		status = http.StatusUnprocessableEntity
		for name, key := range keys {
			problems[name] = l.Say(key)
		}
	case errors.As(err, &reqErr):
		status = reqErr.status
		key := reqErr.field
		if key == "" {
			key = "request"
		}
		problems[key] = reqErr.say(l)
	default:
		h.log.Error("signature not recorded", "error", err.Error())
		problems["request"] = l.Say("error_internal")
	}
	if wantsJSON(r) {
		writeJSON(w, status, map[string]any{"errors": problems})
		return
	}
	h.errorPage(w, status, l, s, problems)
}

// supporterLetter is the letter a supporter's answer speaks for: the one
// they signed (or any, for a post that names none we know), in their
// language; nil only for a handler without letters.
func (h *handler) supporterLetter(r *http.Request, s *letter.Signer) *letter.Letter {
	var l *letter.Letter
	if s != nil {
		l = h.letters()[s.Letter]
	}
	if l == nil {
		l = h.anyLetter()
	}
	if l == nil {
		return nil
	}
	return l.In(requestLang(r, s, l))
}

// requestLang is the supporter's language among l's: the form's lang
// field, else the site's page they posted from (a Referer under /es/),
// else their browser's first choice the site offers; "" for the default.
// A request too large to read (413) has only the last two.
func requestLang(r *http.Request, s *letter.Signer, l *letter.Letter) string {
	if s != nil && s.Lang != "" {
		return s.Lang
	}
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Path != "" {
		first, _, _ := strings.Cut(strings.TrimPrefix(ref.Path, "/"), "/")
		if l.Translations[first] != nil {
			return first
		}
	}
	for _, choice := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(choice), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if base == l.Lang {
			return ""
		}
		if l.Translations[base] != nil {
			return base
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

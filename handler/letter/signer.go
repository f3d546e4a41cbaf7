package letter

import (
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Signer is one supporter's signature as they submitted it: their details
// and, when they edited it, their own subject and letter text.
type Signer struct {
	Letter    string `json:"letter"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
	Address   string `json:"address"`
	City      string `json:"city"`
	State     string `json:"state"`
	Zip       string `json:"zip"`
	Phone     string `json:"phone"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	OptIn     bool   `json:"opt_in"`
	Source    string `json:"source"`
	Website   string `json:"website"`
}

// FullName is the signer's name as it appears on the letter.
func (s *Signer) FullName() string {
	return s.FirstName + " " + s.LastName
}

// FieldErrors maps a form field's name to what is wrong with it, in words a
// supporter understands.
type FieldErrors map[string]string

func (e FieldErrors) Error() string {
	names := make([]string, 0, len(e))
	for name := range e {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + ": " + e[name]
	}
	return "invalid fields: " + strings.Join(parts, "; ")
}

// Limits on each field, in characters. They are generous for people and
// small enough that no field can carry a payload.
const (
	MaxName    = 100
	MaxEmail   = 254
	MaxAddress = 200
	MaxCity    = 100
	MaxPhone   = 30
	MaxSubject = 200
	MaxBody    = 10000
	MaxSource  = 100
)

var (
	zipPattern   = regexp.MustCompile(`^[0-9]{5}(-?[0-9]{4})?$`)
	phonePattern = regexp.MustCompile(`^[0-9 +().-]{7,30}$`)
)

// States are the two-letter codes the form accepts: the states, DC, the
// territories and the military post codes.
var States = []string{
	"AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
	"KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
	"ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
	"AS", "GU", "MP", "PR", "VI", "AA", "AE", "AP",
}

var stateSet = func() map[string]bool {
	m := make(map[string]bool, len(States))
	for _, s := range States {
		m[s] = true
	}
	return m
}()

// Normalize trims the signer's fields, upper-cases the state and turns the
// body's line endings into LF, so that what is validated is what is sent.
func (s *Signer) Normalize() {
	for _, f := range []*string{&s.Letter, &s.FirstName, &s.LastName, &s.Email, &s.Address, &s.City,
		&s.State, &s.Zip, &s.Phone, &s.Subject, &s.Source, &s.Website} {
		*f = strings.TrimSpace(*f)
	}
	s.State = strings.ToUpper(s.State)
	s.Body = normalizeNewlines(s.Body)
}

// Validate reports every problem with the signer's fields at once, so the
// supporter can fix them in one go. Call Normalize first.
func (s *Signer) Validate() FieldErrors {
	errs := FieldErrors{}
	required := func(name, value, label string) bool {
		if value == "" {
			errs[name] = "Please enter your " + label + "."
			return false
		}
		return true
	}
	line := func(name, value string, max int) bool {
		switch {
		case !utf8.ValidString(value):
			errs[name] = "This contains characters we cannot read."
		case hasControl(value, false):
			errs[name] = "This must be a single line of text."
		case utf8.RuneCountInString(value) > max:
			errs[name] = "This is too long (at most " + strconv.Itoa(max) + " characters)."
		default:
			return true
		}
		return false
	}

	if required("first_name", s.FirstName, "first name") {
		line("first_name", s.FirstName, MaxName)
	}
	if required("last_name", s.LastName, "last name") {
		line("last_name", s.LastName, MaxName)
	}
	if required("email", s.Email, "email address") && line("email", s.Email, MaxEmail) {
		a, err := mail.ParseAddress(s.Email)
		if err != nil || a.Address != s.Email || !strings.Contains(s.Email[strings.LastIndex(s.Email, "@")+1:], ".") {
			errs["email"] = "Please enter an email address like name@example.com."
		}
	}
	if required("address", s.Address, "street address") {
		line("address", s.Address, MaxAddress)
	}
	if required("city", s.City, "city") {
		line("city", s.City, MaxCity)
	}
	if required("state", s.State, "state") && line("state", s.State, 2) && !stateSet[s.State] {
		errs["state"] = "Please choose a US state (two-letter code, like NY)."
	}
	if required("zip", s.Zip, "ZIP code") && line("zip", s.Zip, 10) && !zipPattern.MatchString(s.Zip) {
		errs["zip"] = "Please enter a 5-digit ZIP code (or ZIP+4, like 12345-6789)."
	}
	if s.Phone != "" && line("phone", s.Phone, MaxPhone) && !phonePattern.MatchString(s.Phone) {
		errs["phone"] = "Please enter a phone number using digits (spaces, +, -, ( ) are fine)."
	}
	if s.Subject != "" {
		line("subject", s.Subject, MaxSubject)
	}
	switch {
	case !utf8.ValidString(s.Body):
		errs["body"] = "The letter contains characters we cannot read."
	case hasControl(s.Body, true):
		errs["body"] = "The letter contains invisible control characters; please retype it."
	case utf8.RuneCountInString(s.Body) > MaxBody:
		errs["body"] = "The letter is too long (at most " + strconv.Itoa(MaxBody) + " characters)."
	}
	if s.Source != "" {
		line("source", s.Source, MaxSource)
	}
	if s.Website != "" {
		errs["website"] = "This field must stay empty."
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// hasControl reports whether s holds a control or format character that has
// no place in a letter. Newlines and tabs are allowed in multi-line text.
func hasControl(s string, multiline bool) bool {
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		// Cc are control characters; U+2028/2029 are line and paragraph
		// separators, which some mail software treats as line breaks.
		if unicode.Is(unicode.Cc, r) || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return true
		}
	}
	return false
}

// Values are the signer's form fields by their contract names, as the
// form would post them (opt_in is "yes" when ticked, else "").
func (s *Signer) Values() map[string]string {
	v := map[string]string{
		"letter": s.Letter, "first_name": s.FirstName, "last_name": s.LastName, "email": s.Email,
		"address": s.Address, "city": s.City, "state": s.State, "zip": s.Zip, "phone": s.Phone,
		"subject": s.Subject, "body": s.Body, "source": s.Source, "website": s.Website,
	}
	if s.OptIn {
		v["opt_in"] = "yes"
	}
	return v
}

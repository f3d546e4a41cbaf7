package letter

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Field is one of the sign form's text fields: the one declaration that
// decoding, normalising, validating and merging read. Its name is the
// contract's (HTTP field and JSON key); site/data/form.yaml renders the
// supporter's detail fields from the same names (a test holds them equal).
type Field struct {
	Name string
	// Required fields must not be empty; the message is then missing_NAME
	// (see Say).
	Required bool
	// Max is the longest value, in characters.
	Max int
	// Multiline fields keep line breaks and tabs (the letter's body).
	Multiline bool
	// Merge fields may appear in a letter as {{name}}.
	Merge bool
	// Detail fields are the supporter's details the form's fieldset asks
	// (site/data/form.yaml); the others are the letter and hidden fields.
	Detail bool
	// Clean fields say where a supporter came from (a share link's source
	// and UTM tags) and the form's language. Whoever wrote the link or
	// page set them, not the supporter, so Normalize cleans them and
	// nothing in them refuses a signature.
	Clean bool
	// Of is where the value lives in a Signer.
	Of func(*Signer) *string
	// Normalize, when set, runs after trimming (and line-break folding).
	Normalize func(string) string
	// Check, when set, reports what is wrong with a non-empty value that
	// passed the length and character checks, as a message key (see Say),
	// or "".
	Check func(v string, l *Letter) string
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

// Fields are the sign form's text fields in the form's order. opt_in, a
// tick box, is the one field outside it (Signer.OptIn).
var Fields = []Field{
	{Name: "letter", Max: 64, Of: func(s *Signer) *string { return &s.Letter }},
	{Name: "first_name", Required: true, Max: MaxName, Merge: true, Detail: true,
		Of: func(s *Signer) *string { return &s.FirstName }, Check: checkName},
	{Name: "last_name", Required: true, Max: MaxName, Merge: true, Detail: true,
		Of: func(s *Signer) *string { return &s.LastName }, Check: checkName},
	{Name: "email", Required: true, Max: MaxEmail, Merge: true, Detail: true,
		Of: func(s *Signer) *string { return &s.Email }, Check: checkEmail},
	{Name: "phone", Max: MaxPhone, Merge: true, Detail: true,
		Of: func(s *Signer) *string { return &s.Phone }, Check: checkPattern(phonePattern, "invalid_phone")},
	{Name: "address", Required: true, Max: MaxAddress, Merge: true, Detail: true,
		Of: func(s *Signer) *string { return &s.Address }},
	{Name: "city", Required: true, Max: MaxCity, Merge: true, Detail: true,
		Of: func(s *Signer) *string { return &s.City }},
	{Name: "state", Required: true, Max: 2, Merge: true, Detail: true,
		Of: func(s *Signer) *string { return &s.State }, Normalize: strings.ToUpper, Check: checkState},
	{Name: "zip", Required: true, Max: 10, Merge: true, Detail: true,
		Of: func(s *Signer) *string { return &s.Zip }, Check: checkPattern(zipPattern, "invalid_zip")},
	{Name: "subject", Max: MaxSubject, Of: func(s *Signer) *string { return &s.Subject }},
	{Name: "body", Max: MaxBody, Multiline: true, Of: func(s *Signer) *string { return &s.Body }},
	{Name: "source", Max: MaxSource, Clean: true, Of: func(s *Signer) *string { return &s.Source }},
	{Name: "utm_source", Max: MaxSource, Clean: true, Of: func(s *Signer) *string { return &s.UTMSource }},
	{Name: "utm_medium", Max: MaxSource, Clean: true, Of: func(s *Signer) *string { return &s.UTMMedium }},
	{Name: "utm_campaign", Max: MaxSource, Clean: true, Of: func(s *Signer) *string { return &s.UTMCampaign }},
	{Name: "utm_term", Max: MaxSource, Clean: true, Of: func(s *Signer) *string { return &s.UTMTerm }},
	{Name: "utm_content", Max: MaxSource, Clean: true, Of: func(s *Signer) *string { return &s.UTMContent }},
	// A honeypot: people never see it, so anything in it came from a bot.
	{Name: "website", Max: 1000, Of: func(s *Signer) *string { return &s.Website },
		Check: func(string, *Letter) string { return "invalid_honeypot" }},
	// The language the supporter read the form in: its translation is
	// merged, and what is written to them after speaks it. An unknown
	// one is the site's default, never a refusal.
	{Name: "lang", Max: 16, Clean: true, Of: func(s *Signer) *string { return &s.Lang }},
}

// OptIn is the name of the form's consent tick box.
const OptIn = "opt_in"

// FieldByName returns the field of that name.
func FieldByName(name string) (Field, bool) {
	for _, f := range Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FullName is the merge field for the signer's whole name; it is no form
// field of its own.
const FullName = "full_name"

// mergeable reports whether a letter may use {{name}}.
func mergeable(name string) bool {
	if name == FullName {
		return true
	}
	f, ok := FieldByName(name)
	return ok && f.Merge
}

// Messages (keys, see Say) for what validation refuses in a name or an
// address.
const (
	msgEncodedName = "invalid_name_encoded"
	msgNameSigns   = "invalid_name_signs"
	msgEmailASCII  = "invalid_email_ascii"
)

// checkName refuses what could make a name in the letter's From and
// Reply-To headers read as something else: a MIME encoded word, which mail
// programs decode into any text (an address among it), and the signs that
// shape an address.
func checkName(v string, _ *Letter) string {
	// Any "=?" is refused, not only well-formed words: some decoders are
	// lenient, and no name holds it.
	if strings.Contains(v, "=?") {
		return msgEncodedName
	}
	if strings.ContainsAny(v, `<>@"`) {
		return msgNameSigns
	}
	return ""
}

// checkEmail accepts one plain ASCII address. net/mail also takes UTF-8
// local parts and domains, which look like other addresses (a Cyrillic
// "а" for a Latin "a") and which not every mail service delivers.
func checkEmail(v string, _ *Letter) string {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			return msgEmailASCII
		}
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || !strings.Contains(v[strings.LastIndex(v, "@")+1:], ".") {
		return "invalid_email"
	}
	return ""
}

func checkPattern(p *regexp.Regexp, key string) func(string, *Letter) string {
	return func(v string, _ *Letter) string {
		if !p.MatchString(v) {
			return key
		}
		return ""
	}
}

// checkState accepts the codes the letter's form offers (site/data/states.yaml,
// published with the letter): one list for the page and the handler.
func checkState(v string, l *Letter) string {
	if l != nil {
		for _, s := range l.Form.States {
			if s.Code == v {
				return ""
			}
		}
	}
	return "invalid_state"
}

package letter

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Signer is one supporter's signature as they submitted it: their details
// and, when they edited it, their own subject and letter text. Fields
// describes each text field.
type Signer struct {
	Letter    string
	FirstName string
	LastName  string
	Email     string
	Address   string
	City      string
	State     string
	Zip       string
	Phone     string
	Subject   string
	Body      string
	OptIn     bool
	Source    string
	// The UTM tags of the link the supporter came by, as they were.
	UTMSource   string
	UTMMedium   string
	UTMCampaign string
	UTMTerm     string
	UTMContent  string
	Website     string
	// Lang is the language of the form the supporter sent ("es"); empty
	// or unknown means the site's default.
	Lang string
}

// FullName is the signer's name as it appears on the letter.
func (s *Signer) FullName() string {
	return s.FirstName + " " + s.LastName
}

// Values are the signer's form fields by their contract names, as the
// form would post them (opt_in is "yes" when ticked, else "").
func (s *Signer) Values() map[string]string {
	v := make(map[string]string, len(Fields)+1)
	for _, f := range Fields {
		v[f.Name] = *f.Of(s)
	}
	if s.OptIn {
		v[OptIn] = "yes"
	}
	return v
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

// Normalize trims the signer's fields and turns the body's line endings
// into LF, so that what is validated is what is sent.
func (s *Signer) Normalize() {
	for _, f := range Fields {
		v := f.Of(s)
		if f.Clean {
			*v = cleanText(*v, f.Max)
			continue
		}
		if f.Multiline {
			*v = normalizeNewlines(*v)
		} else {
			*v = strings.TrimSpace(*v)
		}
		if f.Normalize != nil {
			*v = f.Normalize(*v)
		}
	}
}

// Validate reports every problem with the signer's fields at once, so the
// supporter can fix them in one go, in the letter's language; l is the
// letter signed (its form's choices and words). Call Normalize first.
func (s *Signer) Validate(l *Letter) FieldErrors {
	errs := FieldErrors{}
	for _, f := range Fields {
		v := *f.Of(s)
		if f.Clean {
			continue // cleaned by Normalize, never refused
		}
		if v == "" {
			if f.Required {
				errs[f.Name] = l.Say("missing_" + f.Name)
			}
			continue
		}
		msg := textProblem(v, f.Max, f.Multiline)
		if msg == "" && f.Check != nil {
			msg = f.Check(v, l)
		}
		if msg != "" {
			errs[f.Name] = l.Say(msg, "max", strconv.Itoa(f.Max))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// textProblem is what is wrong with a field's text as text (a message
// key, see Say; text_too_long's {max} is the field's Max): unreadable,
// control characters or line breaks where none belong, characters that
// disguise it, or too long.
func textProblem(v string, max int, multiline bool) string {
	switch {
	case !utf8.ValidString(v):
		return "text_unreadable"
	case HasLineBreakOrControl(v, multiline):
		if multiline {
			return "text_control"
		}
		return "text_one_line"
	}
	// A hidden character is named before the length: it is the problem,
	// and it may be what makes the text too long.
	if msg := disguiseProblem(v); msg != "" {
		return msg
	}
	if utf8.RuneCountInString(v) > max {
		return "text_too_long"
	}
	return ""
}

// Messages (keys, see Say) for the characters that let text look other
// than it is.
const (
	msgTag          = "text_tag"
	msgFormat       = "text_format"
	msgNoncharacter = "text_noncharacter"
	msgPrivateUse   = "text_private_use"
)

// disguiseProblem names the first character in v that shows as nothing,
// or as something else elsewhere: tag characters, format characters (bidi
// overrides and isolates that reorder what is shown, zero-width characters,
// BOM, soft hyphen), noncharacters and private-use characters. Each lets
// a name or a letter read differently to the official than to us.
func disguiseProblem(v string) string {
	for _, r := range v {
		switch hiddenClass(r) {
		case classTag:
			return msgTag
		case classFormat:
			return msgFormat
		case classNoncharacter:
			return msgNoncharacter
		case classPrivateUse:
			return msgPrivateUse
		}
	}
	return ""
}

type charClass int

const (
	classVisible charClass = iota
	classTag
	classFormat
	classNoncharacter
	classPrivateUse
)

// hiddenClass is r's class among those disguiseProblem refuses. Tags come
// first: most of them are format characters too, and the plane's
// unassigned ones are not.
func hiddenClass(r rune) charClass {
	switch {
	case r >= 0xE0000 && r <= 0xE007F:
		return classTag
	case unicode.Is(unicode.Cf, r):
		return classFormat
	case unicode.Is(unicode.Noncharacter_Code_Point, r):
		return classNoncharacter
	case unicode.Is(unicode.Co, r):
		return classPrivateUse
	}
	return classVisible
}

// cleanText makes a clean field's value safe to keep: valid UTF-8 without
// replacement characters, no control, line-break or hidden character, any
// run of spaces as one, trimmed, at most max characters.
func cleanText(v string, max int) string {
	v = strings.ToValidUTF8(v, "")
	v = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case r == utf8.RuneError || unicode.Is(unicode.Cc, r) || hiddenClass(r) != classVisible:
			return -1
		}
		return r
	}, v)
	v = strings.Join(strings.Fields(v), " ")
	if r := []rune(v); len(r) > max {
		v = strings.TrimSpace(string(r[:max]))
	}
	return v
}

// HasLineBreakOrControl reports whether s holds a line break, a control or
// a separator character: none belongs in a one-line field or a mail
// header, where a line break could add a header or a recipient. Multi-line
// text may hold newlines and tabs, nothing else.
func HasLineBreakOrControl(s string, multiline bool) bool {
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		// Cc are control characters (CR, LF, NUL among them); U+2028/2029
		// and NEL are line breaks to some mail software.
		if unicode.Is(unicode.Cc, r) || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return true
		}
	}
	return false
}

// Package letter holds the campaign's domain: the letters Hugo publishes,
// the supporters who sign them, and the merge that turns one into the
// messages each target receives.
package letter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Target is one official who receives a letter. Targets come only from the
// letter's front matter; nothing a supporter sends can change them.
type Target struct {
	Name       string `json:"name"`
	Title      string `json:"title"`
	Email      string `json:"email"`
	Salutation string `json:"salutation"`
}

// Placeholder reports whether the target's address is still a stand-in
// under the reserved .example domain.
func (t Target) Placeholder() bool {
	return strings.HasSuffix(strings.ToLower(t.Email), ".example")
}

// Letter is a letter as Hugo published it: the one source the handler merges
// from. Body and Signature hold merge fields as {{field}} placeholders.
type Letter struct {
	ID       string   `json:"id"`
	Campaign string   `json:"campaign"`
	Title    string   `json:"title"`
	Subject  string   `json:"subject"`
	Targets  []Target `json:"targets"`
	Body     string   `json:"body"`
	// Placeholders are the words each merge field shows the supporter in
	// the editable letter, by field name ("city": "[your city]"): a body
	// the supporter posts carries them, and Merge fills them in as it
	// fills {{city}}.
	Placeholders map[string]string `json:"placeholders"`
	// unspell turns Placeholders' words back into placeholders; made once
	// when the letter is loaded (Unspell makes it when nil). Whoever
	// changes Placeholders afterwards must set it to nil.
	unspell   *unspeller
	Signature string `json:"signature"`
	// Passages are the parts of the body only some targets receive, each
	// between two marker lines in the body (see Merge).
	Passages []Passage `json:"passages"`
	// ThanksURL is where a supporter lands after signing.
	ThanksURL string `json:"thanks_url"`
	// URL is the page that shows the letter's form.
	URL string `json:"url"`
	// Stylesheet is the site's stylesheet, for pages of ours Hugo does not
	// build (the local outbox).
	Stylesheet string `json:"stylesheet"`
	// Form is the form's fields and choices as the site renders them.
	Form Form `json:"form"`
	// Confirm is the front matter's `confirm`: false sends without the
	// signer's confirmation (see Confirms).
	Confirm *bool `json:"confirm"`
	// CopyToSigner sends the signer a copy of the letters as sent.
	CopyToSigner bool `json:"copy_to_signer"`
	// Goal is the front matter's `goal`: how many signatures the campaign
	// aims for, shown with the public count; zero for none.
	Goal int `json:"goal"`
	// ReviewEdits holds a letter its signer edited for an organizer's
	// approval (the /admin/ page) instead of sending it when confirmed.
	ReviewEdits bool `json:"review_edits"`
	// InboxURL is the "check your inbox" page a signer lands on when the
	// letter waits for their confirmation.
	InboxURL string `json:"inbox_url"`
	// Pages are the handler's own pages as Hugo built them for this letter
	// (the site's header, footer, form and words), which the handler fills.
	Pages Pages `json:"pages"`
	// OptIn is the opt-in box's wording as the page showed it, recorded
	// with each signature that ticks it: consent is to those words.
	OptIn OptInWording `json:"opt_in"`
	// Lang is the letter's language ("en", "es"): the site's language
	// whose pages it was built for.
	Lang string `json:"lang"`
	// Messages are the handler's words in that language, by i18n key
	// (see Say).
	Messages map[string]string `json:"messages"`
	// Translations are the same letter (id, targets) in the site's other
	// languages, by language; set on the default language's letters only.
	Translations map[string]*Letter `json:"-"`
}

// Passage is a part of a letter only the named targets receive: in the
// body (published, and as the supporter edits it) it stands between a line
// that is Start and a line that is End, plain words the supporter reads
// ("[Only in the letter to …:]").
type Passage struct {
	Start   string   `json:"start"`
	End     string   `json:"end"`
	Targets []string `json:"targets"` // target names
}

// OptInWording is the text of the opt-in box and its language (the site's
// i18n string opt_in).
type OptInWording struct {
	Text string `json:"text"`
	Lang string `json:"lang"`
}

// Pages are HTML documents Hugo built for the handler to fill in.
type Pages struct {
	// Error is the form's error page: the form again, to be filled with
	// what the supporter typed and what is wrong with it.
	Error string `json:"error"`
	// Already tells a repeat signer their letter went out before.
	Already string `json:"already"`
	// Confirm shows, from the link in the confirmation email, each letter
	// exactly as its official will receive it, with one button that sends.
	Confirm string `json:"confirm"`
	// Expired answers a confirmation link that is unknown or too old.
	Expired string `json:"expired"`
}

// Form describes the sign-and-send form as the site renders it.
type Form struct {
	Fields []FormField `json:"fields"`
	States []State     `json:"states"`
}

// FormField is one of the supporter's detail fields (site/data/form.yaml).
type FormField struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	Label        string `json:"label"`
	Hint         string `json:"hint"`
	Autocomplete string `json:"autocomplete"`
	InputMode    string `json:"inputmode"`
	Required     bool   `json:"required"`
	MaxLength    int    `json:"maxlength"`
}

// State is one choice of the form's state field.
type State struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// ManifestPath is where Hugo writes the list of published letters, relative
// to the site's output directory.
const ManifestPath = "letters/index.json"

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// IDRule says, for editors, which letter ids ValidID accepts.
const IDRule = "use lower-case letters a-z, digits and dashes, starting with a letter or digit, at most 64 characters (like family-separation)"

// ValidID reports whether id can name a letter: in its file name, its page's
// address (/letters/<id>/) and the form's letter field.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Validate checks that a published letter can be merged and sent: an id, a
// subject, a body, at least one target with a real-looking address, and no
// merge field the handler does not know.
func (l *Letter) Validate() error {
	var problems []string
	if !idPattern.MatchString(l.ID) {
		problems = append(problems, fmt.Sprintf("id %q must be lower-case letters, digits and dashes", l.ID))
	}
	if strings.TrimSpace(l.Subject) == "" || HasLineBreakOrControl(l.Subject, false) {
		problems = append(problems, "subject must be one non-empty line")
	}
	if strings.TrimSpace(l.Body) == "" {
		problems = append(problems, "body is empty")
	}
	if len(l.Targets) == 0 {
		problems = append(problems, "no targets")
	}
	if l.Goal < 0 {
		problems = append(problems, "goal must not be negative")
	}
	if l.Pages.Error == "" || l.Pages.Already == "" || l.Pages.Confirm == "" || l.Pages.Expired == "" || l.InboxURL == "" {
		problems = append(problems, "the handler's pages are missing (a site built by older templates: build it again)")
	}
	for i, t := range l.Targets {
		a, err := mail.ParseAddress(t.Email)
		if err != nil || a.Address != t.Email {
			problems = append(problems, fmt.Sprintf("target %d: email %q is not a plain address", i+1, t.Email))
		}
		if strings.TrimSpace(t.Salutation) == "" {
			problems = append(problems, fmt.Sprintf("target %d: salutation is empty", i+1))
		}
		if HasLineBreakOrControl(t.Name, false) {
			problems = append(problems, fmt.Sprintf("target %d: name must be one line", i+1))
		}
	}
	for i, p := range l.Passages {
		if strings.TrimSpace(p.Start) == "" || strings.TrimSpace(p.End) == "" || strings.TrimSpace(p.Start) == strings.TrimSpace(p.End) {
			problems = append(problems, fmt.Sprintf("passage %d: its marker lines are empty or alike", i+1))
		}
		for _, name := range p.Targets {
			if !slices.ContainsFunc(l.Targets, func(t Target) bool { return t.Name == name }) {
				problems = append(problems, fmt.Sprintf("passage %d is for %q, who is no target of the letter", i+1, name))
			}
		}
	}
	asked := map[string]bool{}
	for _, f := range l.Form.Fields {
		asked[f.Name] = true
		if field, ok := FieldByName(f.Name); !ok || !field.Detail {
			problems = append(problems, fmt.Sprintf("form field %q is not one the handler takes (site/data/form.yaml)", f.Name))
		}
	}
	for _, f := range Fields {
		if f.Detail && f.Required && len(l.Form.Fields) > 0 && !asked[f.Name] {
			problems = append(problems, fmt.Sprintf("form field %q is required by the handler but missing from the form (site/data/form.yaml)", f.Name))
		}
	}
	if state, _ := FieldByName("state"); (state.Required || asked["state"]) && len(l.Form.States) == 0 {
		problems = append(problems, "the form offers no states, and the handler needs one (site/data/states.yaml)")
	}
	for _, text := range []string{l.Body, l.Signature} {
		for _, m := range placeholderPattern.FindAllStringSubmatch(text, -1) {
			if !mergeable(m[1]) {
				problems = append(problems, fmt.Sprintf("unknown merge field %q", m[1]))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("letter %q: %s", l.ID, strings.Join(problems, "; "))
	}
	return nil
}

// Letters is the set of published letters, by id.
type Letters map[string]*Letter

// manifest is the shape of ManifestPath.
type manifest struct {
	Letters []string `json:"letters"`
	// Translations are the manifests of the site's other languages, by
	// language ("es": "/es/letters/index.json").
	Translations map[string]string `json:"translations"`
}

// Load reads the letters Hugo published into site (the output directory, as
// a file system) and validates each one. The letters of the site's other
// languages become their translations: each must be one of the default
// language's letters, to the same targets.
func Load(site fs.FS) (Letters, error) {
	letters, m, err := loadManifest(site, ManifestPath)
	if err != nil {
		return nil, err
	}
	var errs []error
	for lang, p := range m.Translations {
		translated, _, err := loadManifest(site, strings.TrimPrefix(path.Clean(p), "/"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for id, t := range translated {
			l, ok := letters[id]
			if !ok {
				errs = append(errs, fmt.Errorf("letter: %q is published in %q only; translate a letter of the default language (same id)", id, lang))
				continue
			}
			if err := sameTargets(l, t); err != nil {
				errs = append(errs, fmt.Errorf("letter %q in %q: %w", id, lang, err))
				continue
			}
			// One letter: its settings are the original's, whatever the
			// translation's front matter says.
			t.Confirm, t.CopyToSigner, t.Goal, t.ReviewEdits = l.Confirm, l.CopyToSigner, l.Goal, l.ReviewEdits
			if l.Translations == nil {
				l.Translations = map[string]*Letter{}
			}
			l.Translations[lang] = t
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return letters, nil
}

// sameTargets reports how a translation's targets differ from the
// letter's: a translation changes their words (title, salutation), never
// who receives the letter.
func sameTargets(l, t *Letter) error {
	if len(l.Targets) != len(t.Targets) {
		return fmt.Errorf("%d targets, the original has %d: a translation goes to the same targets", len(t.Targets), len(l.Targets))
	}
	for i := range l.Targets {
		if !strings.EqualFold(l.Targets[i].Email, t.Targets[i].Email) {
			return fmt.Errorf("target %d is %s, the original's is %s: a translation goes to the same targets, in the same order", i+1, t.Targets[i].Email, l.Targets[i].Email)
		}
	}
	return nil
}

// loadManifest reads one language's letters from its manifest.
func loadManifest(site fs.FS, manifestPath string) (Letters, *manifest, error) {
	raw, err := fs.ReadFile(site, manifestPath)
	if err != nil {
		return nil, nil, fmt.Errorf("letter: load: %w (has the site been built?)", err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("letter: load %s: %w", manifestPath, err)
	}
	letters := Letters{}
	var errs []error
	for _, p := range m.Letters {
		raw, err := fs.ReadFile(site, strings.TrimPrefix(path.Clean(p), "/"))
		if err != nil {
			errs = append(errs, fmt.Errorf("letter: load: %w", err))
			continue
		}
		var l Letter
		if err := json.Unmarshal(raw, &l); err != nil {
			errs = append(errs, fmt.Errorf("letter: load %s: %w", p, err))
			continue
		}
		l.Body = normalizeNewlines(l.Body)
		l.Signature = normalizeNewlines(l.Signature)
		l.unspell = l.unspeller()
		if err := l.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := letters[l.ID]; dup {
			errs = append(errs, fmt.Errorf("letter: id %q is used twice", l.ID))
			continue
		}
		letters[l.ID] = &l
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	if len(letters) == 0 {
		return nil, nil, fmt.Errorf("letter: load %s: the site publishes no letters", manifestPath)
	}
	return letters, &m, nil
}

// normalizeNewlines turns CRLF and lone CR into LF and trims the ends.
func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Trim(s, "\n ")
}

package letter

import (
	"regexp"
	"strings"
)

// placeholderPattern matches a merge field as Hugo publishes it: {{city}}.
var placeholderPattern = regexp.MustCompile(`\{\{([a-z_]+)\}\}`)

// Merge writes the letter each target receives from this signer: the
// target's salutation, the body (the signer's edited text when given, else
// the published one), then the signature block with the signer's details.
// The messages are not yet addressed (see Sign). The signer must have
// passed Validate.
func Merge(l *Letter, s *Signer) []Message {
	subject := l.Subject
	if s.Subject != "" {
		subject = s.Subject
	}
	body := l.Body
	if s.Body != "" {
		body = s.Body
	}
	// The words the page showed for a merge field ("[your city]") merge as
	// its {{city}} does, so the supporter's letter says what they read.
	var words []string
	for name, w := range l.Placeholders {
		if w != "" {
			words = append(words, w, "{{"+name+"}}")
		}
	}
	spell := strings.NewReplacer(words...)
	fill := func(text string) string {
		if len(words) > 0 {
			text = spell.Replace(text)
		}
		return placeholderPattern.ReplaceAllStringFunc(text, func(m string) string {
			name := m[2 : len(m)-2]
			if name == FullName {
				return s.FullName()
			}
			if f, ok := FieldByName(name); ok && f.Merge {
				return *f.Of(s)
			}
			return m
		})
	}
	// The body and signature are merged once; only the salutation differs.
	rest := fill(body)
	if sig := fill(l.Signature); sig != "" {
		rest += "\n\n" + sig
	}
	messages := make([]Message, len(l.Targets))
	for i, t := range l.Targets {
		messages[i] = Message{
			TargetIndex: i,
			TargetName:  t.Name,
			TargetEmail: t.Email,
			Subject:     subject,
			Text:        strings.TrimSpace(t.Salutation) + "\n\n" + rest + "\n",
		}
	}
	return messages
}

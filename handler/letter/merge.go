package letter

import (
	"regexp"
	"strings"
)

// placeholderPattern matches a merge field as Hugo publishes it: {{city}}.
var placeholderPattern = regexp.MustCompile(`\{\{([a-z_]+)\}\}`)

// mergeable are the merge fields a letter may use.
var mergeable = map[string]bool{
	"first_name": true, "last_name": true, "full_name": true, "email": true,
	"address": true, "city": true, "state": true, "zip": true, "phone": true,
}

// Message is one letter to one target, merged and ready to send.
type Message struct {
	Target  Target
	Subject string
	Text    string
}

// Merge writes the letter each target receives from this signer: the
// target's salutation, the body (the signer's edited text when given, else
// the published one), then the signature block with the signer's details.
// The signer must have passed Validate.
func Merge(l *Letter, s *Signer) []Message {
	subject := l.Subject
	if s.Subject != "" {
		subject = s.Subject
	}
	body := l.Body
	if s.Body != "" {
		body = s.Body
	}
	values := map[string]string{
		"first_name": s.FirstName, "last_name": s.LastName, "full_name": s.FullName(),
		"email": s.Email, "address": s.Address, "city": s.City, "state": s.State,
		"zip": s.Zip, "phone": s.Phone,
	}
	fill := func(text string) string {
		return placeholderPattern.ReplaceAllStringFunc(text, func(m string) string {
			name := m[2 : len(m)-2]
			if v, ok := values[name]; ok {
				return v
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
			Target:  t,
			Subject: subject,
			Text:    strings.TrimSpace(t.Salutation) + "\n\n" + rest + "\n",
		}
	}
	return messages
}

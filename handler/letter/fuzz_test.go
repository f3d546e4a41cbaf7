package letter

import (
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Fuzz targets for validation, the merge and the header check. Seeds are
// in testdata/fuzz; bench/fuzz.sh runs each for a while.

var fuzzSending = Sending{From: mail.Address{Name: "Families Belong Together", Address: "letters@mg.example"}, MessageIDDomain: "mg.example"}

func FuzzValidate(f *testing.F) {
	l := testLetter()
	f.Fuzz(func(t *testing.T, first, last, email, phone, address, city, state, zip, subject, body, source string) {
		s := Signer{Letter: "test", FirstName: first, LastName: last, Email: email, Phone: phone, Address: address,
			City: city, State: state, Zip: zip, Subject: subject, Body: body, Source: source}
		s.Normalize()
		errs := s.Validate(l)
		// Normalizing is done once: again, it changes nothing.
		again := s
		again.Normalize()
		if again != s {
			t.Fatalf("Normalize is not idempotent:\n%+v\n%+v", s, again)
		}
		for name := range errs {
			f, ok := FieldByName(name)
			if !ok || f.Clean {
				t.Fatalf("error on %q: %v", name, errs)
			}
		}
		if errs != nil {
			return
		}
		for _, f := range Fields {
			v := *f.Of(&s)
			if !utf8.ValidString(v) || utf8.RuneCountInString(v) > f.Max {
				t.Fatalf("%s %q: unreadable or longer than %d", f.Name, v, f.Max)
			}
			for _, r := range v {
				if hiddenClass(r) != classVisible || unicode.Is(unicode.Cc, r) && !(f.Multiline && (r == '\n' || r == '\t')) {
					t.Fatalf("%s %q holds U+%04X", f.Name, v, r)
				}
			}
		}
		for _, name := range []string{s.FirstName, s.LastName} {
			if strings.Contains(name, "=?") || strings.ContainsAny(name, `<>@"`) {
				t.Fatalf("name %q passed", name)
			}
		}
		for i := 0; i < len(s.Email); i++ {
			if s.Email[i] >= utf8.RuneSelf {
				t.Fatalf("email %q is not ASCII", s.Email)
			}
		}
		_, msgs := Sign(l, &s, fuzzSending)
		for i, m := range msgs {
			if err := m.CheckHeaders(); err != nil {
				t.Fatalf("a valid signer's message fails the header check: %v\n%+v", err, m)
			}
			// The signer's name is only ever a display name: each header
			// reads back as the address it was made from.
			from, err := mail.ParseAddress(m.From)
			if err != nil || from.Address != fuzzSending.From.Address || from.Name != s.FullName()+" via "+fuzzSending.From.Name {
				t.Fatalf("From %q reads as %+v, %v", m.From, from, err)
			}
			reply, err := mail.ParseAddress(m.ReplyTo)
			if err != nil || reply.Address != s.Email || reply.Name != s.FullName() {
				t.Fatalf("Reply-To %q reads as %+v, %v", m.ReplyTo, reply, err)
			}
			if to, err := mail.ParseAddress(m.To); err != nil || to.Address != l.Targets[i].Email {
				t.Fatalf("To %q reads as %+v, %v", m.To, to, err)
			}
		}
	})
}

func FuzzMerge(f *testing.F) {
	f.Fuzz(func(t *testing.T, body, signature, subject, first, city, zip string) {
		l := testLetter()
		l.Signature = signature
		s := validSigner()
		s.Subject, s.Body, s.FirstName, s.City, s.Zip = subject, body, first, city, zip
		msgs := Merge(l, &s)
		if len(msgs) != len(l.Targets) {
			t.Fatalf("%d messages for %d targets", len(msgs), len(l.Targets))
		}
		text := l.Body
		if s.Body != "" {
			text = s.Body
		}
		want := referenceMerge(text, &s)
		if sig := referenceMerge(l.Signature, &s); sig != "" {
			want += "\n\n" + sig
		}
		wantSubject := l.Subject
		if s.Subject != "" {
			wantSubject = s.Subject
		}
		for i, m := range msgs {
			tg := l.Targets[i]
			if m.TargetIndex != i || m.TargetName != tg.Name || m.TargetEmail != tg.Email || m.Subject != wantSubject {
				t.Fatalf("message %d: %+v", i, m)
			}
			if w := tg.Salutation + "\n\n" + want + "\n"; m.Text != w {
				t.Fatalf("message %d:\n%q\nwant\n%q", i, m.Text, w)
			}
		}
		// Every merge field of the supporter's text and the signature is
		// filled. With values that cannot form a merge field (no letters,
		// no braces), none is left in what is sent.
		marked := s
		for i, f := range Fields {
			if f.Merge {
				*f.Of(&marked) = "#" + strconv.Itoa(i) + "#"
			}
		}
		for _, m := range placeholderPattern.FindAllStringSubmatch(Merge(l, &marked)[0].Text, -1) {
			if mergeable(m[1]) {
				t.Fatalf("%s left unmerged from %q", m[0], text)
			}
		}
	})
}

// referenceMerge fills text's {{name}} merge fields from s in one pass,
// left to right, written apart from Merge to check it.
func referenceMerge(text string, s *Signer) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		if strings.HasPrefix(text[i:], "{{") {
			j := i + 2
			for j < len(text) && (text[j] >= 'a' && text[j] <= 'z' || text[j] == '_') {
				j++
			}
			if j > i+2 && strings.HasPrefix(text[j:], "}}") {
				name := text[i+2 : j]
				switch f, ok := FieldByName(name); {
				case name == FullName:
					b.WriteString(s.FirstName + " " + s.LastName)
				case ok && f.Merge:
					b.WriteString(*f.Of(s))
				default:
					b.WriteString(text[i : j+2])
				}
				i = j + 2
				continue
			}
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String()
}

func FuzzCheckHeaders(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, from, replyTo, to, subject, tag string) {
		m := Message{ID: id, From: from, ReplyTo: replyTo, To: to, Subject: subject, Tag: tag}
		if m.CheckHeaders() != nil {
			return
		}
		headers := []struct{ name, value string }{
			{"Message-Id", id}, {"From", from}, {"Reply-To", replyTo}, {"To", to}, {"Subject", subject}, {"Tag", tag},
		}
		var raw strings.Builder
		for _, h := range headers {
			if h.value == "" && h.name != "Tag" {
				t.Fatalf("empty %s passed", h.name)
			}
			for i := 0; i < len(h.value); i++ {
				if c := h.value[i]; c < 0x20 || c == 0x7f {
					t.Fatalf("%s %q holds byte %#x", h.name, h.value, c)
				}
			}
			for _, r := range h.value {
				if r == '\u2028' || r == '\u2029' || r == '\u0085' || unicode.Is(unicode.Cc, r) {
					t.Fatalf("%s %q holds U+%04X", h.name, h.value, r)
				}
			}
			raw.WriteString(h.name + ": " + h.value + "\r\n")
		}
		// Written as a mail header and read back, the message has exactly
		// these headers with these values: none could add another.
		msg, err := mail.ReadMessage(strings.NewReader(raw.String() + "\r\nbody\r\n"))
		if err != nil {
			t.Fatalf("the headers do not read back: %v\n%s", err, raw.String())
		}
		if len(msg.Header) != len(headers) {
			t.Fatalf("%d headers read back, want %d:\n%s", len(msg.Header), len(headers), raw.String())
		}
		for _, h := range headers {
			if got := msg.Header.Get(h.name); got != strings.Trim(h.value, " \t") {
				t.Fatalf("%s reads back as %q, want %q", h.name, got, h.value)
			}
		}
	})
}

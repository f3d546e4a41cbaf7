package letter

import (
	"strings"
	"testing"
)

// disguises are samples of each class of character that shows as nothing,
// or differently elsewhere, with the message that refuses it.
var disguises = []struct {
	class string
	chars []rune
	msg   string
}{
	{"format (bidi, zero-width, BOM, soft hyphen)", []rune{
		0x202E, 0x202A, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C, // bidi overrides, isolates, marks
		0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x180E, 0xFFF9, 0x1D173,
	}, msgFormat},
	{"noncharacter", []rune{0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF, 0x1FFFE, 0x1FFFF, 0x8FFFE, 0x10FFFE, 0x10FFFF}, msgNoncharacter},
	{"tag", []rune{0xE0000, 0xE0001, 0xE0020, 0xE0041, 0xE007F}, msgTag},
	{"private use", []rune{0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD}, msgPrivateUse},
}

// TestEveryFieldRefusesDisguisedText: each class of hidden character is
// refused in every field the supporter fills, with the class's message
// on that field alone.
func TestEveryFieldRefusesDisguisedText(t *testing.T) {
	valid := map[string]string{
		"letter": "test", "first_name": "Ana", "last_name": "García", "email": "ana@example.org", "phone": "555 010 0199",
		"address": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701", "subject": "My subject", "body": "My\nletter",
	}
	for _, d := range disguises {
		for _, r := range d.chars {
			for _, f := range Fields {
				if f.Clean || f.Name == "website" { // cleaned; the honeypot refuses all
					continue
				}
				v, ok := valid[f.Name]
				if !ok {
					t.Fatalf("no valid sample for field %s", f.Name)
				}
				s := validSigner()
				for name, v := range valid {
					field, _ := FieldByName(name)
					*field.Of(&s) = v
				}
				// In the middle, where trimming cannot remove it.
				*f.Of(&s) = v[:1] + string(r) + v[1:]
				s.Normalize()
				errs := s.Validate(testLetter())
				if errs[f.Name] != English[d.msg] || len(errs) != 1 {
					t.Errorf("%s U+%04X in %s: errors %v, want only %q", d.class, r, f.Name, errs, English[d.msg])
				}
			}
		}
	}
}

// TestPeoplesTextIsNotMistakenForDisguise: names, letters and emoji in
// any script, and the characters next to each refused range, pass.
func TestPeoplesTextIsNotMistakenForDisguise(t *testing.T) {
	for _, v := range []string{
		"Zoë", "Nguyễn Thị Minh Khai", "محمد", "李小龍", "Ñandú", "O'Brien", "Anne-Marie", "Smith, Jr.", "José (Pepe)",
		"thanks 🙂👍🏽", "a\ufdcfb", "a\ufdf0b", "a\uf900b", "a\ufffdb", "a\U000e0080b", "a\u00acb", "a\u2065b",
	} {
		s := validSigner()
		s.City, s.Body = v, v
		s.Normalize()
		if errs := s.Validate(testLetter()); errs != nil {
			t.Errorf("%q refused: %v", v, errs)
		}
	}
}

// TestNamesCannotDisguiseAnAddress: a name goes into the From and Reply-To
// headers' display names, where an encoded word decodes into any text and
// < > @ " shape an address.
func TestNamesCannotDisguiseAnAddress(t *testing.T) {
	for _, tt := range []struct{ name, msg string }{
		{"=?utf-8?q?Barack_Obama_=3Cpotus@whitehouse.gov=3E?=", msgEncodedName},
		{"=?UTF-8?B?QmFyYWNr?=", msgEncodedName},
		{"Jane =?x", msgEncodedName},
		{"Jane <potus@whitehouse.gov>", msgNameSigns},
		{"potus@whitehouse.gov", msgNameSigns},
		{`Jane "JJ"`, msgNameSigns},
		{"<b>Jane", msgNameSigns},
		{"Jane>", msgNameSigns},
	} {
		for _, field := range []string{"first_name", "last_name"} {
			s := validSigner()
			f, _ := FieldByName(field)
			*f.Of(&s) = tt.name
			s.Normalize()
			if errs := s.Validate(testLetter()); errs[field] != English[tt.msg] || len(errs) != 1 {
				t.Errorf("%s %q: errors %v, want only %q", field, tt.name, errs, English[tt.msg])
			}
		}
	}
}

// TestEmailIsPlainASCII: an address with any non-ASCII character (a
// Cyrillic letter that looks Latin, an accented domain) is refused, and
// so is one longer than 254 characters.
func TestEmailIsPlainASCII(t *testing.T) {
	for _, email := range []string{"jöhn@example.org", "john@exämple.org", "\u0430na@example.org", "ana@ex\u0430mple.org", "ana\u00a0@example.org"} {
		s := validSigner()
		s.Email = email
		s.Normalize()
		if errs := s.Validate(testLetter()); errs["email"] != English[msgEmailASCII] || len(errs) != 1 {
			t.Errorf("%q: errors %v, want only %q", email, errs, English[msgEmailASCII])
		}
	}
	at254 := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 53) + ".example"
	if len(at254) != MaxEmail {
		t.Fatalf("sample is %d characters", len(at254))
	}
	s := validSigner()
	s.Normalize()
	s.Email = at254
	if errs := s.Validate(testLetter()); errs != nil {
		t.Errorf("a 254-character address refused: %v", errs)
	}
	s.Email = "a" + at254
	if errs := s.Validate(testLetter()); !strings.Contains(errs["email"], "at most 254") {
		t.Errorf("a 255-character address: errors %v", errs)
	}
}

// TestCleanFieldsNeverRefuse: source and the UTM tags come from a share
// link, not from the supporter. Whatever they hold is cleaned and kept,
// or dropped, and the signature stands.
func TestCleanFieldsNeverRefuse(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"newsletter", "newsletter"},
		{"  share\u2028link  ", "share link"},
		{"a\r\nBcc: x@example.org", "a Bcc: x@example.org"},
		{"news\u202eletter\u200b\ufeff", "newsletter"},
		{"tag\U000E0041\U000E007F", "tag"},
		{"pua\ue000\U000F0000", "pua"},
		{"non\ufdd0\uffff\U0010FFFE", "non"},
		{"nul\x00esc\x1b[31m", "nulesc[31m"},
		{"bad\xff\xfeutf8\ufffd", "badutf8"},
		{"\u00a0\u2003 spaced \t out \u0085", "spaced out"},
		{"\u202e\u2066\u200b", ""},
		{strings.Repeat("é", MaxSource+20), strings.Repeat("é", MaxSource)},
		{strings.Repeat("a", MaxSource-1) + " b", strings.Repeat("a", MaxSource-1)},
	} {
		for _, f := range Fields {
			if !f.Clean || f.Name == "lang" { // lang: a language code, see TestLangIsCleaned
				continue
			}
			s := validSigner()
			*f.Of(&s) = tt.in
			s.Normalize()
			if got := *f.Of(&s); got != tt.want {
				t.Errorf("%s %q cleaned to %q, want %q", f.Name, tt.in, got, tt.want)
			}
			if errs := s.Validate(testLetter()); errs != nil {
				t.Errorf("%s %q refused: %v", f.Name, tt.in, errs)
			}
		}
	}
	var clean []string
	for _, f := range Fields {
		if f.Clean {
			clean = append(clean, f.Name)
		}
	}
	if got := strings.Join(clean, " "); got != "source utm_source utm_medium utm_campaign utm_term utm_content lang" {
		t.Errorf("clean fields: %s", got)
	}
}

// TestLangIsCleaned: the form's lang is cleaned like a share link's
// tags, to at most 16 characters, and never refuses a signature: an
// unknown language is the site's default (Letter.In).
func TestLangIsCleaned(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"es", "es"},
		{" es\r\n", "es"},
		{"es\u202e", "es"},
		{strings.Repeat("x", 40), strings.Repeat("x", 16)},
	} {
		s := validSigner()
		s.Lang = tt.in
		s.Normalize()
		if s.Lang != tt.want {
			t.Errorf("lang %q cleaned to %q, want %q", tt.in, s.Lang, tt.want)
		}
		if errs := s.Validate(testLetter()); errs != nil {
			t.Errorf("lang %q refused: %v", tt.in, errs)
		}
	}
	l := testLetter()
	if l.In("xx") != l || l.In("") != l {
		t.Error("an unknown or empty language is not the letter itself")
	}
}

package letter

import (
	"strings"
	"testing"
)

func validSigner() Signer {
	return Signer{
		Letter: "family-separation", FirstName: "Ana", LastName: "García", Email: "ana@example.org",
		Address: "12 Elm St Apt 3", City: "Springfield", State: "il", Zip: "62701",
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Signer)
		field string // the field expected to fail; "" = valid
	}{
		{"valid", func(*Signer) {}, ""},
		{"valid with optional fields", func(s *Signer) {
			s.Phone, s.Subject, s.Body, s.Source = "+1 (555) 010-0199", "My own subject", "Line one\n\nLine two\twith tab", "newsletter"
		}, ""},
		{"ZIP+4", func(s *Signer) { s.Zip = "62701-1234" }, ""},
		{"ZIP+4 without dash", func(s *Signer) { s.Zip = "627011234" }, ""},
		{"lower-case state is normalized", func(s *Signer) { s.State = " ny " }, ""},
		{"missing first name", func(s *Signer) { s.FirstName = "  " }, "first_name"},
		{"missing last name", func(s *Signer) { s.LastName = "" }, "last_name"},
		{"missing email", func(s *Signer) { s.Email = "" }, "email"},
		{"email without domain dot", func(s *Signer) { s.Email = "ana@localhost" }, "email"},
		{"email with display name", func(s *Signer) { s.Email = "Ana <ana@example.org>" }, "email"},
		{"two emails", func(s *Signer) { s.Email = "ana@example.org, boss@example.org" }, "email"},
		{"email with newline", func(s *Signer) { s.Email = "ana@example.org\nBcc: x@example.org" }, "email"},
		{"missing address", func(s *Signer) { s.Address = "" }, "address"},
		{"missing city", func(s *Signer) { s.City = "" }, "city"},
		{"unknown state", func(s *Signer) { s.State = "XX" }, "state"},
		{"state name", func(s *Signer) { s.State = "Illinois" }, "state"},
		{"short ZIP", func(s *Signer) { s.Zip = "6270" }, "zip"},
		{"letters in ZIP", func(s *Signer) { s.Zip = "6270A" }, "zip"},
		{"phone with letters", func(s *Signer) { s.Phone = "call me maybe" }, "phone"},
		{"name with CR LF", func(s *Signer) { s.FirstName = "Ana\r\nBcc: x@example.org" }, "first_name"},
		{"name with NUL", func(s *Signer) { s.LastName = "Gar\x00cía" }, "last_name"},
		{"name too long", func(s *Signer) { s.FirstName = strings.Repeat("a", MaxName+1) }, "first_name"},
		{"name with line separator", func(s *Signer) { s.City = "Spring\u2028field" }, "city"},
		{"invalid UTF-8", func(s *Signer) { s.City = "Spring\xfffield" }, "city"},
		{"subject with newline", func(s *Signer) { s.Subject = "Hi\nBcc: x@example.org" }, "subject"},
		{"subject too long", func(s *Signer) { s.Subject = strings.Repeat("s", MaxSubject+1) }, "subject"},
		{"body with escape character", func(s *Signer) { s.Body = "Hello\x1b[31m" }, "body"},
		{"body too long", func(s *Signer) { s.Body = strings.Repeat("b", MaxBody+1) }, "body"},
		{"body at the limit", func(s *Signer) { s.Body = strings.Repeat("é", MaxBody) }, ""},
		{"source with newline is cleaned", func(s *Signer) { s.Source = "a\nb" }, ""},
		{"honeypot filled", func(s *Signer) { s.Website = "http://spam.example" }, "website"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSigner()
			tt.edit(&s)
			s.Normalize()
			errs := s.Validate(testLetter())
			if tt.field == "" {
				if errs != nil {
					t.Fatalf("want valid, got %v", errs)
				}
				return
			}
			if errs[tt.field] == "" {
				t.Fatalf("want an error on %s, got %v", tt.field, errs)
			}
			if len(errs) != 1 {
				t.Errorf("want only %s to fail, got %v", tt.field, errs)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	var s Signer
	s.Normalize()
	errs := s.Validate(testLetter())
	for _, f := range []string{"first_name", "last_name", "email", "address", "city", "state", "zip"} {
		if errs[f] == "" {
			t.Errorf("no error for missing %s", f)
		}
	}
	if _, ok := errs["phone"]; ok {
		t.Error("phone is optional but was reported")
	}
}

func TestNormalizeKeepsLineBreaksAsLF(t *testing.T) {
	s := validSigner()
	s.Body = "\r\nFirst line\r\nsecond line\r\rthird\n"
	s.Normalize()
	if want := "First line\nsecond line\n\nthird"; s.Body != want {
		t.Fatalf("body = %q, want %q", s.Body, want)
	}
	if s.State != "IL" {
		t.Fatalf("state = %q, want IL", s.State)
	}
}

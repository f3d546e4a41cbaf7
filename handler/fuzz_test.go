package handler

import (
	"encoding/json"
	"errors"
	"net/mail"
	"net/url"
	"os"
	"testing"

	"campaignkit/handler/letter"
)

// The decode fuzz targets feed arbitrary bodies to the form and JSON
// decoders. Seeds are in testdata/fuzz; bench/fuzz.sh runs each for a
// while.

func FuzzDecodeForm(f *testing.F) {
	l := fuzzLetter(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeForm(body, url.Values{})
		checkDecoded(t, l, s, err)
		if err != nil {
			return
		}
		// What was read is what was sent: the signer, posted again as a
		// form, reads back the same.
		v := url.Values{}
		for name, value := range s.Values() {
			v.Set(name, value)
		}
		again, err := decodeForm([]byte(v.Encode()), url.Values{})
		if err != nil || *again != *s {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, s)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	l := fuzzLetter(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeJSON(body, url.Values{})
		checkDecoded(t, l, s, err)
		if err != nil {
			return
		}
		obj := map[string]any{letter.OptIn: s.OptIn}
		for _, field := range letter.Fields {
			obj[field.Name] = *field.Of(s)
		}
		raw, _ := json.Marshal(obj)
		again, err := decodeJSON(raw, url.Values{})
		if err != nil || *again != *s {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, s)
		}
	})
}

// checkDecoded holds for every decoded body: an error is the client's (a
// request error or field errors naming real fields, never a 500), and a
// signer that then validates becomes messages whose headers pass the
// check before sending, from the campaign's From, replying to the signer.
func checkDecoded(t *testing.T, l *letter.Letter, s *letter.Signer, err error) {
	t.Helper()
	if err != nil {
		var fieldErrs letter.FieldErrors
		var keys fieldKeys
		var reqErr *requestError
		switch {
		case errors.As(err, &fieldErrs):
			for name := range fieldErrs {
				if _, ok := letter.FieldByName(name); !ok && name != letter.OptIn {
					t.Fatalf("an error names %q, no field of the form", name)
				}
			}
		case errors.As(err, &keys):
			for name, key := range keys {
				if _, ok := letter.FieldByName(name); !ok && name != letter.OptIn {
					t.Fatalf("an error names %q, no field of the form", name)
				}
				if letter.English[key] == "" {
					t.Fatalf("an error on %q has no words (key %q)", name, key)
				}
			}
		case errors.As(err, &reqErr):
			if reqErr.status < 400 || reqErr.status >= 500 {
				t.Fatalf("status %d for %v", reqErr.status, err)
			}
		default:
			t.Fatalf("error %T (%v) would be answered as our fault", err, err)
		}
		return
	}
	if s == nil {
		t.Fatal("no error and no signer")
	}
	n := *s
	n.Normalize()
	if n.Validate(l) != nil {
		return
	}
	how := letter.Sending{From: mail.Address{Name: "Campaign", Address: "letters@mg.example"}, MessageIDDomain: "mg.example"}
	_, msgs := letter.Sign(l, &n, how)
	for _, m := range msgs {
		if err := m.CheckHeaders(); err != nil {
			t.Fatalf("a valid signer's message fails the header check: %v\n%+v", err, m)
		}
		if a, err := mail.ParseAddress(m.From); err != nil || a.Address != how.From.Address {
			t.Fatalf("From %q reads as %v, %v", m.From, a, err)
		}
		if a, err := mail.ParseAddress(m.ReplyTo); err != nil || a.Address != n.Email {
			t.Fatalf("Reply-To %q reads as %v, %v", m.ReplyTo, a, err)
		}
	}
}

// fuzzLetter is the published letter of the handler's fixture site.
func fuzzLetter(f *testing.F) *letter.Letter {
	letters, err := letter.Load(os.DirFS("testdata/site"))
	if err != nil {
		f.Fatal(err)
	}
	return letters["family-separation"]
}

package letter

import (
	"html"
	"os"
	"strings"
	"testing"
)

// The opt-in recorded is the box's label as the published form shows it,
// in the page's language; a signature without the tick records none.
func TestSignRecordsTheOptInWordsShown(t *testing.T) {
	letters, err := Load(os.DirFS("../testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	l := letters["family-separation"]
	if l.OptIn.Text == "" || l.OptIn.Lang != "en" {
		t.Fatalf("published opt-in wording %+v", l.OptIn)
	}
	label := `<label for="opt_in">` + html.EscapeString(l.OptIn.Text) + `</label>`
	if !strings.Contains(l.Pages.Error, label) {
		t.Errorf("the form's opt-in label is not %q", label)
	}

	s := validSigner()
	s.OptIn = true
	sig, _ := Sign(l, &s, Sending{MessageIDDomain: "mg.example"})
	if sig.OptInText != l.OptIn.Text || sig.OptInLang != "en" {
		t.Errorf("opted in: recorded %q (%q)", sig.OptInText, sig.OptInLang)
	}
	s.OptIn = false
	sig, _ = Sign(l, &s, Sending{MessageIDDomain: "mg.example"})
	if sig.OptInText != "" || sig.OptInLang != "" {
		t.Errorf("no opt-in: recorded %q (%q)", sig.OptInText, sig.OptInLang)
	}
}

package letter

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestFieldsMatchTheSiteForm holds the field table and the form the site
// renders (site/data/form.yaml) to the same names, order, required marks
// and length caps.
func TestFieldsMatchTheSiteForm(t *testing.T) {
	raw, err := os.ReadFile("../../site/data/form.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var form struct {
		Fields []struct {
			Name      string `yaml:"name"`
			Required  bool   `yaml:"required"`
			MaxLength int    `yaml:"maxlength"`
		} `yaml:"fields"`
	}
	if err := yaml.Unmarshal(raw, &form); err != nil {
		t.Fatal(err)
	}
	var site, table []string
	for _, f := range form.Fields {
		site = append(site, f.Name)
		field, ok := FieldByName(f.Name)
		if !ok || !field.Detail {
			t.Errorf("form.yaml asks %q, which is not a detail field of the handler", f.Name)
			continue
		}
		if field.Required != f.Required {
			t.Errorf("%s: form.yaml required=%v, handler required=%v", f.Name, f.Required, field.Required)
		}
		// A select (state) has no maxlength in the page; every other cap must match.
		if f.MaxLength != 0 && f.MaxLength != field.Max {
			t.Errorf("%s: form.yaml maxlength=%d, handler max=%d", f.Name, f.MaxLength, field.Max)
		}
	}
	for _, f := range Fields {
		if f.Detail {
			table = append(table, f.Name)
		}
	}
	if !slices.Equal(site, table) {
		t.Errorf("form.yaml fields %v, handler's detail fields %v: same names in the same order expected", site, table)
	}
}

// TestStatesComeFromThePublishedLetter: the handler accepts exactly the
// states the published form offers (site/data/states.yaml).
func TestStatesComeFromThePublishedLetter(t *testing.T) {
	letters, err := Load(os.DirFS("../testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	l := letters["family-separation"]
	raw, err := os.ReadFile("../../site/data/states.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var states []State
	if err := yaml.Unmarshal(raw, &states); err != nil {
		t.Fatal(err)
	}
	if len(states) < 50 || !slices.Equal(states, l.Form.States) {
		t.Fatalf("published states (%d) differ from site/data/states.yaml (%d)", len(l.Form.States), len(states))
	}
	for _, st := range states {
		s := validSigner()
		s.State = strings.ToLower(st.Code)
		s.Normalize()
		if errs := s.Validate(l); errs != nil {
			t.Errorf("state %s refused: %v", st.Code, errs)
		}
	}
	for _, code := range []string{"XX", "ZZ", "Illinois", "I"} {
		s := validSigner()
		s.State = code
		s.Normalize()
		if errs := s.Validate(l); errs["state"] == "" {
			t.Errorf("state %q accepted", code)
		}
	}
}

// TestOneLineBreakRule: validation and the header check before sending
// refuse the same characters.
func TestOneLineBreakRule(t *testing.T) {
	for _, bad := range []string{"a\rb", "a\nb", "a\x00b", "a\u2028b", "a\u2029b", "a\u0085b", "a\tb", "a\x1bb"} {
		s := validSigner()
		s.City = bad
		if errs := s.Validate(testLetter()); errs["city"] == "" {
			t.Errorf("validation accepts %q", bad)
		}
		m := Message{ID: "x@y", From: "a@b.example", ReplyTo: "c@d.example", To: "e@f.example", Subject: bad}
		if err := m.CheckHeaders(); err == nil {
			t.Errorf("header check accepts %q", bad)
		}
	}
	if HasLineBreakOrControl("a\nb\tc", true) {
		t.Error("a letter's body may hold newlines and tabs")
	}
}

// A message with an empty header is refused before it reaches the wire;
// only the tag may be empty.
func TestCheckHeadersRefusesEmptyHeaders(t *testing.T) {
	valid := Message{ID: "x@y.example", From: "a@b.example", ReplyTo: "c@d.example", To: "e@f.example", Subject: "S"}
	if err := valid.CheckHeaders(); err != nil {
		t.Fatalf("a message without a tag: %v", err)
	}
	for name, edit := range map[string]func(*Message){
		"Message-Id": func(m *Message) { m.ID = "" }, "From": func(m *Message) { m.From = "" },
		"Reply-To": func(m *Message) { m.ReplyTo = "" }, "To": func(m *Message) { m.To = "" },
		"Subject": func(m *Message) { m.Subject = "" },
	} {
		m := valid
		edit(&m)
		if err := m.CheckHeaders(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("empty %s: err = %v", name, err)
		}
	}
}

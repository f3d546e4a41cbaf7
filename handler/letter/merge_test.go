package letter

import (
	"fmt"
	"net/mail"
	"os"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

func testLetter() *Letter {
	return &Letter{
		ID: "test", Subject: "Published subject",
		Targets: []Target{
			{Name: "A. One", Email: "one@gov.example", Salutation: "Dear Ms. One,"},
			{Name: "B. Two", Email: "two@gov.example", Salutation: "Dear Mr. Two,"},
		},
		Body:         "As a resident of {{city}}, I ask you to act.\n\nThank you.",
		Placeholders: map[string]string{"city": "[your city]", "first_name": "[your first name]", "full_name": "[your name]"},
		Signature:    "Sincerely,\n\n{{first_name}} {{last_name}}\n{{address}}\n{{city}}, {{state}} {{zip}}",
		Form:         Form{States: []State{{Code: "IL", Name: "Illinois"}, {Code: "NY", Name: "New York"}}},
		Pages: Pages{Error: "<!doctype html><p>error page</p>", Already: "<!doctype html><p>already</p>",
			Confirm: "<!doctype html><p>confirm</p>", Expired: "<!doctype html><p>expired</p>"},
		InboxURL: "/check-your-inbox/",
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(*Signer)
		wantSubject string
		wantBody    string // the text between salutation and signature
	}{
		{"published letter", func(*Signer) {}, "Published subject",
			"As a resident of Springfield, I ask you to act.\n\nThank you."},
		{"edited subject and body", func(s *Signer) {
			s.Subject, s.Body = "My subject", "My own words.\nOn two lines."
		}, "My subject", "My own words.\nOn two lines."},
		{"edited body with a merge field", func(s *Signer) { s.Body = "From {{first_name}} in {{state}}." },
			"Published subject", "From Ana in IL."},
		{"edited body with the words the page showed for merge fields", func(s *Signer) {
			s.Body = "I am [your name] of [your city]; [your first name] for short. [your cit] stays."
		}, "Published subject", "I am Ana García of Springfield; Ana for short. [your cit] stays."},
		{"unknown placeholder stays as typed", func(s *Signer) { s.Body = "Price: {{not_a_field}} {x}" },
			"Published subject", "Price: {{not_a_field}} {x}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSigner()
			tt.edit(&s)
			s.Normalize()
			if errs := s.Validate(testLetter()); errs != nil {
				t.Fatal(errs)
			}
			msgs := Merge(testLetter(), &s)
			if len(msgs) != 2 {
				t.Fatalf("got %d messages, want one per target (2)", len(msgs))
			}
			for i, salutation := range []string{"Dear Ms. One,", "Dear Mr. Two,"} {
				m := msgs[i]
				want := salutation + "\n\n" + tt.wantBody + "\n\nSincerely,\n\nAna García\n12 Elm St Apt 3\nSpringfield, IL 62701\n"
				if m.Text != want {
					t.Errorf("target %d text:\n%s\nwant:\n%s", i, m.Text, want)
				}
				if m.Subject != tt.wantSubject {
					t.Errorf("target %d subject = %q, want %q", i, m.Subject, tt.wantSubject)
				}
				if want := testLetter().Targets[i]; m.TargetName != want.Name || m.TargetEmail != want.Email || m.TargetIndex != i {
					t.Errorf("target %d = %q <%s> (index %d), want %+v", i, m.TargetName, m.TargetEmail, m.TargetIndex, want)
				}
			}
		})
	}
}

func TestLetterValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Letter)
		want string // part of the error; "" = valid
	}{
		{"valid", func(*Letter) {}, ""},
		{"unknown merge field", func(l *Letter) { l.Body += " {{shoe_size}}" }, `unknown merge field "shoe_size"`},
		{"no targets", func(l *Letter) { l.Targets = nil }, "no targets"},
		{"target without address", func(l *Letter) { l.Targets[0].Email = "nobody" }, `target 1: email "nobody" is not a plain address`},
		{"target with display name", func(l *Letter) { l.Targets[0].Email = "X <x@gov.example>" }, "not a plain address"},
		{"missing salutation", func(l *Letter) { l.Targets[1].Salutation = " " }, "target 2: salutation is empty"},
		{"two-line subject", func(l *Letter) { l.Subject = "a\nb" }, "subject must be one"},
		{"bad id", func(l *Letter) { l.ID = "Has Spaces" }, "id"},
		{"built without the handler's pages", func(l *Letter) { l.Pages.Already = "" }, "pages are missing"},
		{"built without the confirmation page", func(l *Letter) { l.Pages.Confirm = "" }, "pages are missing"},
		{"built without the check-your-inbox page", func(l *Letter) { l.InboxURL = "" }, "pages are missing"},
		{"form field the handler does not take", func(l *Letter) { l.Form.Fields = append(fullForm(), FormField{Name: "shoe_size"}) },
			`form field "shoe_size"`},
		{"form without a field the handler requires", func(l *Letter) { l.Form.Fields = fullForm()[1:] },
			`"first_name" is required by the handler`},
		{"form with every field", func(l *Letter) { l.Form.Fields = fullForm() }, ""},
		{"form asks a state but offers none", func(l *Letter) { l.Form.Fields, l.Form.States = fullForm(), nil }, "offers no states"},
		{"no form published, no states", func(l *Letter) { l.Form = Form{} }, "offers no states"},
		{"subject with a control character", func(l *Letter) { l.Subject = "a\x1bb" }, "subject must be one"},
		{"a goal", func(l *Letter) { l.Goal = 10000 }, ""},
		{"a negative goal", func(l *Letter) { l.Goal = -1 }, "goal must not be negative"},
		{"passages for its targets", func(l *Letter) { l.Passages = passages[:1] }, ""},
		{"a passage for someone else", func(l *Letter) { l.Passages = passages }, `passage 2 is for "C. Three", who is no target`},
		{"a passage without markers", func(l *Letter) { l.Passages = []Passage{{Targets: []string{"A. One"}}} }, "passage 1: its marker lines are empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testLetter()
			tt.edit(l)
			err := l.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestLoadPublishedLetters(t *testing.T) {
	letters, err := Load(os.DirFS("../testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	l := letters["family-separation"]
	if l == nil {
		t.Fatalf("letter family-separation not loaded; got %v", letters)
	}
	if len(l.Targets) != 2 || l.Targets[0].Salutation != "Dear President Trump," || l.Targets[1].Salutation != "Dear Secretary Nielsen," {
		t.Fatalf("targets = %+v", l.Targets)
	}
	if !strings.HasPrefix(l.Body, "I am writing to voice my concern") || !strings.HasSuffix(l.Body, "look forward to your reply.") {
		t.Fatalf("body = %q", l.Body)
	}
	if !strings.Contains(l.Signature, "{{first_name}} {{last_name}}") {
		t.Fatalf("signature = %q", l.Signature)
	}
}

func TestLoadRefusesBrokenSites(t *testing.T) {
	tests := map[string]fstest.MapFS{
		"no manifest": {},
		"manifest names a missing file": {
			ManifestPath: {Data: []byte(`{"letters":["/letters/x/index.json"]}`)},
		},
		"letter with unknown merge field": {
			ManifestPath:           {Data: []byte(`{"letters":["/letters/x/index.json"]}`)},
			"letters/x/index.json": {Data: []byte(`{"id":"x","subject":"s","body":"{{nope}}","targets":[{"email":"a@b.example","salutation":"Hi"}]}`)},
		},
		"no letters": {ManifestPath: {Data: []byte(`{"letters":[]}`)}},
	}
	for name, site := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(site); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func fullForm() []FormField {
	var f []FormField
	for _, name := range []string{"first_name", "last_name", "email", "phone", "address", "city", "state", "zip"} {
		f = append(f, FormField{Name: name})
	}
	return f
}

// Sign addresses each target's copy: From carries the signer's name with
// the campaign's, Reply-To the signer, To the target (or the sandbox);
// the recorded signature keeps the subject and body only when edited.
func TestSign(t *testing.T) {
	how := Sending{From: mail.Address{Name: "Families Belong", Address: "letters@mg.example"}, MessageIDDomain: "mg.example"}
	s := validSigner()
	s.Normalize()
	s.Subject, s.Body = testLetter().Subject, testLetter().Body // as published
	sig, msgs := Sign(testLetter(), &s, how)
	if sig.Subject != "" || sig.Body != "" || sig.Letter != "test" || len(sig.ID) != 32 {
		t.Errorf("unedited signature recorded as %q / %q (letter %q, id %q); want both empty", sig.Subject, sig.Body, sig.Letter, sig.ID)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("%s.%d@mg.example", sig.ID, i); m.ID != want || m.SignatureID != sig.ID {
			t.Errorf("message %d id %q (signature %q), want %q", i, m.ID, m.SignatureID, want)
		}
		if m.From != `"Ana García via Families Belong" <letters@mg.example>` && m.From != `=?utf-8?q?Ana_Garc=C3=ADa_via_Families_Belong?= <letters@mg.example>` {
			t.Errorf("From %q", m.From)
		}
		if !strings.Contains(m.ReplyTo, "<ana@example.org>") || m.To != fmt.Sprintf("%q <%s>", m.TargetName, m.TargetEmail) || m.Tag != "test" {
			t.Errorf("Reply-To %q, To %q, tag %q", m.ReplyTo, m.To, m.Tag)
		}
	}
	s.Subject, s.Body = "My subject", "My words."
	how.From.Name, how.SandboxTo = "", "staging@example.org"
	sig, msgs = Sign(testLetter(), &s, how)
	if sig.Subject != "My subject" || sig.Body != "My words." {
		t.Errorf("edited signature recorded as %q / %q", sig.Subject, sig.Body)
	}
	for _, m := range msgs {
		if m.To != "staging@example.org" || strings.Contains(m.From, "via") {
			t.Errorf("sandboxed message To %q From %q", m.To, m.From)
		}
	}
}

// passages are two passages as Hugo publishes them (layouts/_shortcodes/only.json).
var passages = []Passage{
	{Start: "[Only in the letter to A. One:]", End: "[End of the part only for A. One]", Targets: []string{"A. One"}},
	{Start: "[Only in the letter to B. Two and C. Three:]", End: "[End of the part only for B. Two and C. Three]", Targets: []string{"B. Two", "C. Three"}},
}

func TestBodyFor(t *testing.T) {
	const (
		startA, endA = "[Only in the letter to A. One:]", "[End of the part only for A. One]"
		startB, endB = "[Only in the letter to B. Two and C. Three:]", "[End of the part only for B. Two and C. Three]"
	)
	published := "First.\n\n" + startA + "\n\nFor One.\n\n" + endA + "\n\n" + startB + "\n\nFor Two\nand Three.\n\n" + endB + "\n\nLast."
	tests := []struct {
		name, body  string
		one, two    string // what A. One and B. Two receive
		three, four string // C. Three, and D. Four (in no passage)
	}{
		{"published", published,
			"First.\n\nFor One.\n\nLast.", "First.\n\nFor Two\nand Three.\n\nLast.", "First.\n\nFor Two\nand Three.\n\nLast.", "First.\n\nLast."},
		{"no passages", "Just this.\n\nAnd this.", "Just this.\n\nAnd this.", "Just this.\n\nAnd this.", "Just this.\n\nAnd this.", "Just this.\n\nAnd this."},
		{"passage edited inside its markers", strings.Replace(published, "For One.", "For One, edited\nby me.", 1),
			"First.\n\nFor One, edited\nby me.\n\nLast.", "First.\n\nFor Two\nand Three.\n\nLast.", "First.\n\nFor Two\nand Three.\n\nLast.", "First.\n\nLast."},
		{"markers with spaces around and no blank lines", "First.\n  " + startA + " \nFor One.\n" + endA + "\nLast.",
			"First.\nFor One.\nLast.", "First.\nLast.", "First.\nLast.", "First.\nLast."},
		{"passage first and last", startA + "\n\nFor One.\n\n" + endA + "\n\nMiddle.\n\n" + startB + "\n\nFor Two.\n\n" + endB,
			"For One.\n\nMiddle.", "Middle.\n\nFor Two.", "Middle.\n\nFor Two.", "Middle."},
		// The supporter deleted a marker: what they typed goes to everyone,
		// the orphan marker with it, and nothing is lost.
		{"end marker deleted", strings.Replace(published, endA+"\n\n", "", 1),
			strings.Replace(strings.Replace(published, endA+"\n\n", "", 1), startB+"\n\nFor Two\nand Three.\n\n"+endB+"\n\n", "", 1),
			"First.\n\n" + startA + "\n\nFor One.\n\nFor Two\nand Three.\n\nLast.",
			"First.\n\n" + startA + "\n\nFor One.\n\nFor Two\nand Three.\n\nLast.",
			"First.\n\n" + startA + "\n\nFor One.\n\nLast."},
		{"start marker deleted", strings.Replace(published, startA+"\n\n", "", 1),
			"First.\n\nFor One.\n\n" + endA + "\n\nLast.", "First.\n\nFor One.\n\n" + endA + "\n\nFor Two\nand Three.\n\nLast.",
			"First.\n\nFor One.\n\n" + endA + "\n\nFor Two\nand Three.\n\nLast.", "First.\n\nFor One.\n\n" + endA + "\n\nLast."},
		{"marker reworded", strings.Replace(published, startA, "[Only for Mr. One:]", 1),
			"First.\n\n[Only for Mr. One:]\n\nFor One.\n\n" + endA + "\n\nLast.", "First.\n\n[Only for Mr. One:]\n\nFor One.\n\n" + endA + "\n\nFor Two\nand Three.\n\nLast.",
			"First.\n\n[Only for Mr. One:]\n\nFor One.\n\n" + endA + "\n\nFor Two\nand Three.\n\nLast.", "First.\n\n[Only for Mr. One:]\n\nFor One.\n\n" + endA + "\n\nLast."},
		{"a passage copied twice", published + "\n\n" + startA + "\n\nAgain for One.\n\n" + endA,
			"First.\n\nFor One.\n\nLast.\n\nAgain for One.", "First.\n\nFor Two\nand Three.\n\nLast.", "First.\n\nFor Two\nand Three.\n\nLast.", "First.\n\nLast."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for target, want := range map[string]string{"A. One": tt.one, "B. Two": tt.two, "C. Three": tt.three, "D. Four": tt.four} {
				if got := BodyFor(passages, tt.body, target); got != want {
					t.Errorf("%s receives:\n%q\nwant:\n%q", target, got, want)
				}
			}
		})
	}
}

// Merge gives each target its own passages, and the published letter's
// placeholders inside a passage are filled.
func TestMergeKeepsPassagesForTheirTargets(t *testing.T) {
	l := testLetter()
	l.Passages = passages[:1]
	l.Body = "As a resident of {{city}}, I ask you to act.\n\n" + passages[0].Start + "\n\nOne, visit {{city}}.\n\n" + passages[0].End + "\n\nThank you."
	s := validSigner()
	s.Normalize()
	msgs := Merge(l, &s)
	if want := "Dear Ms. One,\n\nAs a resident of Springfield, I ask you to act.\n\nOne, visit Springfield.\n\nThank you.\n\nSincerely,"; !strings.HasPrefix(msgs[0].Text, want) {
		t.Errorf("A. One receives:\n%s\nwant it to start:\n%s", msgs[0].Text, want)
	}
	if want := "Dear Mr. Two,\n\nAs a resident of Springfield, I ask you to act.\n\nThank you.\n\nSincerely,"; !strings.HasPrefix(msgs[1].Text, want) {
		t.Errorf("B. Two receives:\n%s\nwant it to start:\n%s", msgs[1].Text, want)
	}
}

// A letter posted exactly as the page showed it, merge fields as words, is
// the published letter: not edited, so not held for review.
func TestSignShownLetterIsNotEdited(t *testing.T) {
	l := testLetter()
	l.ReviewEdits = true
	s := validSigner()
	s.Body = "As a resident of [your city], I ask you to act.\n\nThank you."
	s.Normalize()
	sig, _ := Sign(l, &s, Sending{})
	if sig.Edited || sig.Hold != "" || sig.Body != "" {
		t.Errorf("the page's own letter: edited %v, hold %q, body kept %q; want unedited", sig.Edited, sig.Hold, sig.Body)
	}
	s.Body = "As a resident of [your city], I ask you to act now.\n\nThank you."
	sig, _ = Sign(l, &s, Sending{})
	if !sig.Edited || sig.Hold != HoldReview {
		t.Errorf("an edited letter: edited %v, hold %q; want edited and held for review", sig.Edited, sig.Hold)
	}
}

// Words for merge fields turn back into the same placeholders whatever the
// map's order, longer words first.
func TestUnspellIsDeterministic(t *testing.T) {
	l := &Letter{Placeholders: map[string]string{
		"first_name": "[su nombre]", "full_name": "[su nombre completo]", "city": "[su ciudad]",
	}}
	const text = "Me llamo [su nombre completo] ([su nombre]), de [su ciudad]."
	const want = "Me llamo {{full_name}} ({{first_name}}), de {{city}}."
	for i := 0; i < 100; i++ {
		if got := l.Unspell(text); got != want {
			t.Fatalf("run %d: %q, want %q", i, got, want)
		}
	}
}

func TestCheckPlaceholders(t *testing.T) {
	ok := &Letter{Placeholders: map[string]string{"first_name": "[su nombre]", "full_name": "[su nombre completo]"}}
	if err := ok.CheckPlaceholders(); err != nil {
		t.Errorf("distinct words: %v", err)
	}
	same := &Letter{Placeholders: map[string]string{"first_name": "[su nombre]", "full_name": "[su nombre]"}}
	if err := same.CheckPlaceholders(); err == nil || !strings.Contains(err.Error(), `"first_name" and "full_name"`) {
		t.Errorf("the same words for two fields: %v", err)
	}
	inside := &Letter{Placeholders: map[string]string{"city": "[city]", "address": "[street, [city]]"}}
	if err := inside.CheckPlaceholders(); err == nil || !strings.Contains(err.Error(), `"address" and "city"`) {
		t.Errorf("one field's words inside another's: %v", err)
	}
}

// FuzzFillPlaceholders: the hand-written scanner fills exactly what the
// pattern's own replacement does.
func FuzzFillPlaceholders(f *testing.F) {
	for _, s := range []string{"Dear {{first_name}},", "{{{city}}}", "{{}} {{a_b}}x{{ZIP}}{{zip}", "{{a}}{{b}}", "{{unknown}} {{city}}", "{", "}}{{"} {
		f.Add(s)
	}
	value := func(name string) (string, bool) {
		if name == "unknown" {
			return "", false
		}
		return "<" + strings.ToUpper(name) + ">", true
	}
	f.Fuzz(func(t *testing.T, text string) {
		want := placeholderPattern.ReplaceAllStringFunc(text, func(m string) string {
			if v, ok := value(m[2 : len(m)-2]); ok {
				return v
			}
			return m
		})
		if got := fillPlaceholders(text, value); got != want {
			t.Fatalf("fillPlaceholders(%q) = %q, want %q", text, got, want)
		}
	})
}

// FuzzUnspell: the letter's own scanner turns words back into placeholders
// exactly as the strings.Replacer it replaced did (replacerUnspell), for
// any text and any words.
func FuzzUnspell(f *testing.F) {
	for _, s := range []string{"I live in [your city], [your state].", "[your name][your full name]", "[[your city]]", "[your", "", "[su nombre completo] y [su nombre]"} {
		f.Add(s, "[your city]", "[your name]", "[your full name]")
	}
	f.Add("aaab", "a", "aa", "ab")
	f.Add("xyz", "", "y", "yz")
	f.Fuzz(func(t *testing.T, text, w1, w2, w3 string) {
		l := &Letter{Placeholders: map[string]string{"city": w1, "first_name": w2, "full_name": w3, "state": "[your state]"}}
		if got, want := l.Unspell(text), replacerUnspell(l, text); got != want {
			t.Fatalf("Unspell(%q) with %q = %q, the Replacer gives %q", text, l.Placeholders, got, want)
		}
	})
}

// replacerUnspell is Unspell as it was: a strings.Replacer of the words,
// longer first, then by field name.
func replacerUnspell(l *Letter, text string) string {
	names := make([]string, 0, len(l.Placeholders))
	for name, w := range l.Placeholders {
		if w != "" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return text
	}
	sort.Slice(names, func(i, j int) bool {
		wi, wj := l.Placeholders[names[i]], l.Placeholders[names[j]]
		if len(wi) != len(wj) {
			return len(wi) > len(wj)
		}
		return names[i] < names[j]
	})
	pairs := make([]string, 0, 2*len(names))
	for _, name := range names {
		pairs = append(pairs, l.Placeholders[name], "{{"+name+"}}")
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

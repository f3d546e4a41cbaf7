package letter

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestEveryMessageIsPublishedInEveryLanguage: each message the handler
// says (English's keys) is in the letters' JSON in both languages, so no
// supporter reads the fallback; the English one is English's copy here,
// word for word, and the Spanish one is not English.
func TestEveryMessageIsPublishedInEveryLanguage(t *testing.T) {
	letters, err := Load(os.DirFS("../testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	en := letters["family-separation"]
	es := en.In("es")
	if es == en {
		t.Fatal("the fixture has no Spanish letter")
	}
	for key, english := range English {
		if got := en.Messages[key]; got != english {
			t.Errorf("%s: the site says %q, the fallback %q (site/i18n/en.yaml and handler/letter/messages.go differ)", key, got, english)
		}
		if got := es.Messages[key]; got == "" || got == english {
			t.Errorf("%s: Spanish %q", key, got)
		}
		// A value the English fills in is in the Spanish too.
		for _, v := range []string{"{max}", "{reason}", "{date}", "{subject}", "{link}", "{targets}", "{ttl}", "{n}", "{day}", "{month}", "{year}", "{campaign}"} {
			if strings.Contains(english, v) != strings.Contains(es.Messages[key], v) {
				t.Errorf("%s: %s in English %v, in Spanish %v", key, v, strings.Contains(english, v), !strings.Contains(english, v))
			}
		}
	}
}

func TestDatesAndDurationsInTheLettersLanguage(t *testing.T) {
	letters, err := Load(os.DirFS("../testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	en := letters["family-separation"]
	es := en.In("es")
	day := time.Date(2026, time.September, 4, 23, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		l         *Letter
		date      string
		durations [3]string
	}{
		{en, "4 September 2026", [3]string{"12 hours", "1 day", "7 days"}},
		{es, "4 de septiembre de 2026", [3]string{"12 horas", "1 día", "7 días"}},
		{nil, "4 September 2026", [3]string{"12 hours", "1 day", "7 days"}},
	} {
		if got := tt.l.Date(day); got != tt.date {
			t.Errorf("date %q, want %q", got, tt.date)
		}
		for i, d := range []time.Duration{12 * time.Hour, 24 * time.Hour, 168 * time.Hour} {
			if got := tt.l.Duration(d); got != tt.durations[i] {
				t.Errorf("%v: %q, want %q", d, got, tt.durations[i])
			}
		}
	}
}

// TestTranslationGoesToTheSameTargets: a translation whose targets are
// not the letter's is refused when the site loads.
func TestTranslationGoesToTheSameTargets(t *testing.T) {
	en := &Letter{ID: "x", Targets: []Target{{Email: "a@example.org"}, {Email: "b@example.org"}}}
	for _, tt := range []struct {
		targets []Target
		ok      bool
	}{
		{[]Target{{Email: "A@example.org", Salutation: "Estimada:"}, {Email: "b@example.org"}}, true},
		{[]Target{{Email: "b@example.org"}, {Email: "a@example.org"}}, false},
		{[]Target{{Email: "a@example.org"}}, false},
		{[]Target{{Email: "a@example.org"}, {Email: "c@example.org"}}, false},
	} {
		if err := sameTargets(en, &Letter{Targets: tt.targets}); (err == nil) != tt.ok {
			t.Errorf("%v: %v, want ok %v", tt.targets, err, tt.ok)
		}
	}
}

// TestLoadRefusesATranslationToOtherTargets: the site's Spanish letter
// addressed elsewhere does not load.
func TestLoadRefusesATranslationToOtherTargets(t *testing.T) {
	site := fstest.MapFS{}
	for _, p := range []string{"letters/index.json", "letters/family-separation/index.json", "es/letters/index.json", "es/letters/family-separation/index.json"} {
		raw, err := os.ReadFile("../testdata/site/" + p)
		if err != nil {
			t.Fatal(err)
		}
		site[p] = &fstest.MapFile{Data: raw}
	}
	if _, err := Load(site); err != nil {
		t.Fatal(err)
	}
	es := site["es/letters/family-separation/index.json"]
	es.Data = []byte(strings.Replace(string(es.Data), "secretary@dhs.example", "someone@else.example", 1))
	if _, err := Load(site); err == nil || !strings.Contains(err.Error(), "same targets") {
		t.Errorf("a Spanish letter to another target loaded: %v", err)
	}
}

package admin

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
)

// The /admin/ page is built here rather than by Hugo: it shows live
// figures and personal data, so it is never a static file. It loads the
// site's stylesheet and its own (the handler's Content-Security-Policy
// allows only this site's), and draws its chart as inline SVG: no
// script, no inline style. It is written by plain Go (html.go), not
// html/template, whose reflection would grow the Netlify function by a
// quarter.

//go:embed admin.css
var css []byte

func serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(css)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}

// refused answers a form post that is not the organizer's own.
func (a *admin) refused(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, "This form was refused: it came from another site, or your session ended. Nothing was changed. Open %s again.\n", pagePath)
}

// pageData is what the page template shows.
type pageData struct {
	Campaign, Stylesheet string
	// Login shows the sign-in form (with LoginError, if any) instead.
	Login      bool
	LoginError string
	CSRF       string
	// Done says what the last form did.
	Done        string
	GeneratedAt string
	Total       int
	States      []countRow
	Funnel      []countRow
	Letters     []countRow
	Chart       chart
	Sources     []store.SourceCount
	Failures    []store.Failure
	Held        []heldRow
	HeldReview  int
	HeldCeiling int
	HeldMore    int
}

type countRow struct {
	Label string
	N     int
	// Pct is N's share of the funnel's first step, 0 to 100.
	Pct float64
}

type heldRow struct {
	ID, Name, Place, Letter, Hold, Signed string
	Edited                                bool
	Subject, Text                         string
}

func (a *admin) page(w http.ResponseWriter, r *http.Request) {
	sess, ok := a.sessionOf(r)
	if !ok {
		a.renderLogin(w, http.StatusOK, "")
		return
	}
	src := a.open(w)
	if src == nil {
		return
	}
	now := a.Now()
	st, err := src.Store.Stats(r.Context(), now, chartHours, sourcesShown, failsShown)
	var held []store.HeldSignature
	if err == nil {
		held, err = src.Store.Held(r.Context(), heldShown)
	}
	if err != nil {
		a.Log.Error("admin: page", "error", err.Error())
		http.Error(w, "The figures could not be read; try again in a minute.", http.StatusInternalServerError)
		return
	}
	d := a.data()
	d.CSRF = a.csrf(sess)
	d.GeneratedAt = now.UTC().Format("2 January 2006, 15:04 UTC")
	d.Done = doneMessage(r.URL.Query().Get("done"), r.URL.Query().Get("n"))
	d.Total = st.Signatures
	for _, s := range []struct{ key, label string }{
		{letter.SignatureUnconfirmed, "Waiting for the signer's confirmation"},
		{letter.SignatureConfirmed, "Confirmed, letters on their way"},
		{store.StatusSent, "Every letter sent"},
		{letter.SignatureHeld, "Held for an organizer"},
		{letter.SignatureRejected, "Rejected by an organizer"},
		{"expired", "Never confirmed (deleted)"},
	} {
		d.States = append(d.States, countRow{Label: s.label, N: st.States[s.key]})
	}
	signed := st.Signatures + st.States["expired"]
	confirmed := st.States[letter.SignatureConfirmed] + st.States[store.StatusSent]
	for _, f := range []countRow{
		{Label: "Signed", N: signed},
		{Label: "Confirmed by their signers", N: confirmed + st.States[letter.SignatureHeld] + st.States[letter.SignatureRejected]},
		{Label: "Letters released to be sent", N: confirmed},
		{Label: "Every letter sent", N: st.States[store.StatusSent]},
	} {
		if signed > 0 {
			f.Pct = 100 * float64(f.N) / float64(signed)
		}
		d.Funnel = append(d.Funnel, f)
	}
	states := make([]string, 0, len(st.Letters))
	for s := range st.Letters {
		states = append(states, s)
	}
	slices.Sort(states)
	for _, s := range states {
		d.Letters = append(d.Letters, countRow{Label: s, N: st.Letters[s]})
	}
	d.Chart = newChart(st.PerHour)
	d.Sources, d.Failures = st.Sources, st.Failures
	d.HeldReview, d.HeldCeiling = st.Held[letter.HoldReview], st.Held[letter.HoldCeiling]
	d.HeldMore = st.States[letter.SignatureHeld] - len(held)
	for _, h := range held {
		place := h.City
		if h.Signer.State != "" {
			place += ", " + h.Signer.State
		}
		d.Held = append(d.Held, heldRow{ID: h.ID, Name: h.FullName(), Place: place, Letter: h.Letter, Hold: h.Hold,
			Signed: h.CreatedAt.UTC().Format("2 Jan 15:04 UTC"), Edited: h.Edited, Subject: h.Subject, Text: h.Text})
	}
	a.render(w, http.StatusOK, d)
}

func (a *admin) data() pageData {
	return pageData{Campaign: a.Campaign, Stylesheet: a.Stylesheet}
}

func (a *admin) renderLogin(w http.ResponseWriter, status int, problem string) {
	d := a.data()
	d.Login, d.LoginError = true, problem
	a.render(w, status, d)
}

func (a *admin) render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Not no-referrer: Chrome would then post the forms with Origin: null.
	w.Header().Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if err := d.write(w); err != nil {
		a.Log.Error("admin: page", "error", err.Error())
	}
}

func doneMessage(done, n string) string {
	count, _ := strconv.Atoi(n)
	switch done {
	case "none":
		return "Nothing was changed: choose at least one signature first."
	case "released":
		return fmt.Sprintf("%s released: their letters are queued and go out at the sending pace.", signatures(count))
	case "rejected":
		return fmt.Sprintf("%s rejected: their letters will not be sent, and their words are deleted.", signatures(count))
	}
	return ""
}

func signatures(n int) string {
	if n == 1 {
		return "1 signature"
	}
	return thousands(n) + " signatures"
}

// thousands writes n with commas: 12,345.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// chart is the per-hour bar chart, laid out for its SVG: a viewBox of
// chartW × chartH, the plot between the margins.
type chart struct {
	Title, Desc string
	Bars        []bar
	Top         string // the value of the top line
	Ticks       []tick
	Rows        []hourRow
}

type bar struct {
	X, Y, W, H float64
	Label      string
}

type tick struct {
	X    float64
	Text string
}

type hourRow struct {
	Hour string
	N    int
}

const (
	chartW, chartH           = 400.0, 190.0
	plotLeft, plotRight      = 40.0, 396.0
	plotTop, plotBottom      = 12.0, 160.0
	hourLabel, hourLabelLong = "15:00", "2 Jan 15:00"
)

func newChart(hours []store.HourCount) chart {
	c := chart{Title: fmt.Sprintf("Signatures per hour, the last %d hours (UTC)", len(hours))}
	if len(hours) == 0 {
		return c
	}
	peak, total := hours[0], 0
	for _, h := range hours {
		total += h.Signatures
		if h.Signatures > peak.Signatures {
			peak = h
		}
	}
	top := niceCeiling(peak.Signatures)
	c.Top = thousands(top)
	step := (plotRight - plotLeft) / float64(len(hours))
	for i, h := range hours {
		height := (plotBottom - plotTop) * float64(h.Signatures) / float64(top)
		c.Bars = append(c.Bars, bar{X: round(plotLeft + float64(i)*step + step*0.1), W: round(step * 0.8),
			Y: round(plotBottom - height), H: round(height),
			Label: fmt.Sprintf("%s: %s", h.Hour.UTC().Format(hourLabelLong), signatures(h.Signatures))})
		if i%12 == 0 {
			c.Ticks = append(c.Ticks, tick{X: round(plotLeft + float64(i)*step), Text: h.Hour.UTC().Format(hourLabelLong)})
		}
		c.Rows = append(c.Rows, hourRow{Hour: h.Hour.UTC().Format(hourLabelLong), N: h.Signatures})
	}
	first, last := hours[0].Hour.UTC(), hours[len(hours)-1].Hour.UTC()
	c.Desc = fmt.Sprintf("From %s to %s UTC: %s in all.", first.Format(hourLabelLong), last.Add(time.Hour).Format(hourLabelLong), signatures(total))
	if peak.Signatures > 0 {
		c.Desc += fmt.Sprintf(" The busiest hour began at %s, with %s.", peak.Hour.UTC().Format(hourLabelLong), signatures(peak.Signatures))
	}
	return c
}

// niceCeiling is the chart's top: 1, 2 or 5 times a power of ten, at
// least n (and at least 1).
func niceCeiling(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

func round(f float64) float64 { return math.Round(f*10) / 10 }

func holdWords(h string) string {
	switch h {
	case letter.HoldReview:
		return "held for review: the signer edited the letter"
	case letter.HoldCeiling:
		return "held by the ceiling (CAMPAIGN_MAX_SIGN_RATE)"
	}
	return "held"
}

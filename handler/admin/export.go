package admin

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
)

// column is one column of the export: its header and its value for a
// signature with its letters to targets.
type column struct {
	name  string
	value func(sig *letter.Signature, msgs []letter.Message) string
}

// timeLayout is how the export writes times (UTC): a form spreadsheets
// read as a date and time.
const timeLayout = "2006-01-02 15:04:05"

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// columns are the export's columns before the targets', in order. The
// store reads what they need (store.exportColumns).
var columns = []column{
	{"letter", func(g *letter.Signature, _ []letter.Message) string { return g.Letter }},
	{"signature", func(g *letter.Signature, _ []letter.Message) string { return g.ID }},
	{"status", func(g *letter.Signature, m []letter.Message) string { return store.Status(g, m) }},
	{"first_name", func(g *letter.Signature, _ []letter.Message) string { return g.FirstName }},
	{"last_name", func(g *letter.Signature, _ []letter.Message) string { return g.LastName }},
	{"email", func(g *letter.Signature, _ []letter.Message) string { return g.Email }},
	{"address", func(g *letter.Signature, _ []letter.Message) string { return g.Address }},
	{"city", func(g *letter.Signature, _ []letter.Message) string { return g.City }},
	{"state", func(g *letter.Signature, _ []letter.Message) string { return g.Signer.State }},
	{"zip", func(g *letter.Signature, _ []letter.Message) string { return g.Zip }},
	{"phone", func(g *letter.Signature, _ []letter.Message) string { return g.Phone }},
	{"opt_in", func(g *letter.Signature, _ []letter.Message) string { return yesNo(g.OptIn) }},
	// The opt-in as the signer gave it: when, the box's exact words, and
	// the page's language.
	{"opt_in_utc", func(g *letter.Signature, _ []letter.Message) string { return when(g.OptInAt) }},
	{"opt_in_wording", func(g *letter.Signature, _ []letter.Message) string { return g.OptInText }},
	{"opt_in_language", func(g *letter.Signature, _ []letter.Message) string { return g.OptInLang }},
	{"source", func(g *letter.Signature, _ []letter.Message) string { return g.Source }},
	{"utm_source", func(g *letter.Signature, _ []letter.Message) string { return g.UTMSource }},
	{"utm_medium", func(g *letter.Signature, _ []letter.Message) string { return g.UTMMedium }},
	{"utm_campaign", func(g *letter.Signature, _ []letter.Message) string { return g.UTMCampaign }},
	{"utm_term", func(g *letter.Signature, _ []letter.Message) string { return g.UTMTerm }},
	{"utm_content", func(g *letter.Signature, _ []letter.Message) string { return g.UTMContent }},
	{"created_utc", func(g *letter.Signature, _ []letter.Message) string { return when(g.CreatedAt) }},
	{"confirmed_utc", func(g *letter.Signature, _ []letter.Message) string { return when(g.ConfirmedAt) }},
	{"edited", func(g *letter.Signature, _ []letter.Message) string { return yesNo(g.Edited) }},
	// Why the letters waited, or wait, for an organizer: review, ceiling.
	{"held_for", func(g *letter.Signature, _ []letter.Message) string { return g.Hold }},
	// When retention deleted the signer's details (then blank above).
	{"purged_utc", func(g *letter.Signature, _ []letter.Message) string { return when(g.PurgedAt) }},
	// The language the signer signed in (en, es): the one to write to
	// them in.
	{"language", func(g *letter.Signature, _ []letter.Message) string { return g.Lang }},
}

// safeCell neutralises a cell a spreadsheet would read as a formula (or
// whose leading tab or CR it would drop to find one): a leading
// apostrophe makes it text.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteCSV writes every signature as a CSV row (RFC 4180 quoting,
// UTF-8), oldest first, with per target its name, its letter's delivery
// state and the reason it failed. It streams from the store: memory stays flat however
// many signatures there are. progress, when not nil, is called with the
// rows written so far, every 1,000 rows and at the end.
func WriteCSV(ctx context.Context, w io.Writer, st *store.Store, progress func(rows int)) error {
	targets, err := st.MaxTargets(ctx)
	if err != nil {
		return err
	}
	header := make([]string, 0, len(columns)+3*targets)
	for _, c := range columns {
		header = append(header, c.name)
	}
	for i := 1; i <= targets; i++ {
		n := "target_" + strconv.Itoa(i)
		header = append(header, n, n+"_status", n+"_error")
	}
	// Rows end in LF, as encoding/csv writes by default: with UseCRLF it
	// would drop a lone CR inside a cell.
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	row := make([]string, len(header))
	n := 0
	err = st.Export(ctx, func(sig *letter.Signature, msgs []letter.Message) error {
		for i, c := range columns {
			row[i] = safeCell(c.value(sig, msgs))
		}
		clear(row[len(columns):])
		for _, m := range msgs {
			if m.TargetIndex < 0 || m.TargetIndex >= targets {
				continue
			}
			at := len(columns) + 3*m.TargetIndex
			row[at], row[at+1], row[at+2] = safeCell(m.TargetName), m.State, safeCell(m.Error)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
		if n++; progress != nil && n%1000 == 0 {
			progress(n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if progress != nil {
		progress(n)
	}
	return cw.Error()
}

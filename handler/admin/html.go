package admin

import (
	"bufio"
	"html"
	"io"
	"strconv"
)

// page writes HTML: raw for the page's own markup, esc for every value.
type page struct{ *bufio.Writer }

func (p page) raw(parts ...string) {
	for _, s := range parts {
		p.WriteString(s)
	}
}

func esc(s string) string { return html.EscapeString(s) }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func pct(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) + " %" }

// table writes a table of labels and counts.
func (p page) table(caption, labelHead, countHead string, rows []countRow) {
	p.raw(`<table class="figures">`, "\n<caption>", caption, "</caption>\n",
		`<thead><tr><th scope="col">`, esc(labelHead), `</th><th scope="col" class="n">`, esc(countHead), "</th></tr></thead>\n<tbody>\n")
	for _, r := range rows {
		p.raw(`<tr><th scope="row">`, esc(r.Label), `</th><td class="n">`, thousands(r.N), "</td></tr>\n")
	}
	p.raw("</tbody>\n</table>\n")
}

// write writes the page: the sign-in form, or the dashboard.
func (d *pageData) write(w io.Writer) error {
	p := page{bufio.NewWriter(w)}
	title := "Organizer's room"
	if d.Campaign != "" {
		title += " · " + d.Campaign
	}
	if d.Login {
		title = "Sign in · " + title
	}
	p.raw("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
		`<meta name="viewport" content="width=device-width, initial-scale=1">`, "\n",
		`<meta name="robots" content="noindex">`, "\n<title>", esc(title), "</title>\n")
	if d.Stylesheet != "" {
		p.raw(`<link rel="stylesheet" href="`, esc(d.Stylesheet), "\">\n")
	}
	p.raw(`<link rel="stylesheet" href="/admin/admin.css">`, "\n</head>\n", `<body class="admin">`, "\n", `<header class="site"><p>`)
	if d.Campaign != "" {
		p.raw(esc(d.Campaign), " · ")
	}
	p.raw("Organizer's room</p></header>\n", `<main id="main">`, "\n<h1>Organizer's room</h1>\n")
	if d.Login {
		d.writeLogin(p)
	} else {
		d.writeDashboard(p)
	}
	p.raw("</main>\n</body>\n</html>\n")
	return p.Flush()
}

func (d *pageData) writeLogin(p page) {
	p.raw("<p>Enter the organizer token (<code>CAMPAIGN_ADMIN_TOKEN</code>). This browser keeps a session for this visit only (12 hours at most), never the token.</p>\n",
		`<form method="post" action="/admin/login">`, "\n", `<div class="field">`, "\n", `<label for="token">Organizer token</label>`, "\n")
	invalid := ""
	if d.LoginError != "" {
		p.raw(`<p class="error-text" id="token-error">`, esc(d.LoginError), "</p>\n")
		invalid = ` aria-invalid="true" aria-describedby="token-error"`
	}
	p.raw(`<input type="password" id="token" name="token" autocomplete="current-password" required`, invalid, ">\n</div>\n",
		`<p><button type="submit">Sign in</button></p>`, "\n</form>\n")
}

// csrfField is the form token every form of the dashboard carries.
func (d *pageData) csrfField() string {
	return `<input type="hidden" name="csrf" value="` + esc(d.CSRF) + `">`
}

func (d *pageData) writeDashboard(p page) {
	if d.Done != "" {
		p.raw(`<p class="notice-line" role="status">`, esc(d.Done), "</p>\n")
	}
	p.raw("<p>Figures as of ", esc(d.GeneratedAt), `. <a href="/admin/export.csv" download>Download every signature (CSV)</a></p>`, "\n",
		`<form method="post" action="/admin/logout" class="inline">`, d.csrfField(), `<button type="submit" class="quiet">Sign out</button></form>`, "\n")

	p.raw("\n", `<section aria-labelledby="totals">`, "\n", `<h2 id="totals">Signatures: `, thousands(d.Total), "</h2>\n")
	p.table("Signatures by where they stand", "State", "Signatures", d.States)
	p.raw("</section>\n")

	c := d.Chart
	p.raw("\n", `<section aria-labelledby="per-hour">`, "\n", `<h2 id="per-hour">Signatures per hour</h2>`, "\n", `<figure class="chart">`, "\n",
		`<svg viewBox="0 0 `, num(chartW), " ", num(chartH), `" role="img" aria-labelledby="chart-title chart-desc" focusable="false">`, "\n",
		`<title id="chart-title">`, esc(c.Title), "</title>\n", `<desc id="chart-desc">`, esc(c.Desc), "</desc>\n",
		`<line x1="`, num(plotLeft), `" y1="`, num(plotTop), `" x2="`, num(plotRight), `" y2="`, num(plotTop), `" stroke="#bdbdbd" stroke-width="1"/>`, "\n",
		`<line x1="`, num(plotLeft), `" y1="`, num(plotBottom), `" x2="`, num(plotRight), `" y2="`, num(plotBottom), `" stroke="#767676" stroke-width="1"/>`, "\n",
		`<text x="`, num(plotLeft), `" y="`, num(plotTop), `" dx="-4" dy="4" text-anchor="end" font-size="12" fill="#1b1b1b">`, esc(c.Top), "</text>\n",
		`<text x="`, num(plotLeft), `" y="`, num(plotBottom), `" dx="-4" dy="4" text-anchor="end" font-size="12" fill="#1b1b1b">0</text>`, "\n")
	for _, b := range c.Bars {
		p.raw(`<rect x="`, num(b.X), `" y="`, num(b.Y), `" width="`, num(b.W), `" height="`, num(b.H), `" fill="#0b4f9c"><title>`, esc(b.Label), "</title></rect>\n")
	}
	for _, t := range c.Ticks {
		p.raw(`<line x1="`, num(t.X), `" y1="`, num(plotBottom), `" x2="`, num(t.X), `" y2="166" stroke="#767676" stroke-width="1"/>`, "\n",
			`<text x="`, num(t.X), `" y="182" font-size="12" fill="#1b1b1b">`, esc(t.Text), "</text>\n")
	}
	p.raw("</svg>\n<figcaption>", esc(c.Desc), "</figcaption>\n</figure>\n",
		"<details>\n<summary>The same figures as a table</summary>\n")
	rows := make([]countRow, len(c.Rows))
	for i, r := range c.Rows {
		rows[i] = countRow{Label: r.Hour, N: r.N}
	}
	p.table(esc(c.Title), "Hour beginning (UTC)", "Signatures", rows)
	p.raw("</details>\n</section>\n")

	p.raw("\n", `<section aria-labelledby="funnel">`, "\n", `<h2 id="funnel">From signature to letters sent</h2>`, "\n",
		`<table class="figures">`, "\n<caption>Each step, and its share of all signatures</caption>\n",
		`<thead><tr><th scope="col">Step</th><th scope="col" class="n">Signatures</th><th scope="col" class="n">Share</th><th scope="col" class="bar"><span class="visually-hidden">Bar</span></th></tr></thead>`,
		"\n<tbody>\n")
	for _, f := range d.Funnel {
		p.raw(`<tr><th scope="row">`, esc(f.Label), `</th><td class="n">`, thousands(f.N), `</td><td class="n">`, pct(f.Pct), "</td>\n",
			`<td class="bar"><svg viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect width="100" height="8" fill="#e3e1da"/><rect width="`,
			num(round(f.Pct)), `" height="8" fill="#0b4f9c"/></svg></td></tr>`, "\n")
	}
	p.raw("</tbody>\n</table>\n")
	p.table("Letters to officials, by delivery state", "State", "Letters", d.Letters)
	p.raw("</section>\n")

	p.raw("\n", `<section aria-labelledby="failures">`, "\n", `<h2 id="failures">Letters that failed</h2>`, "\n")
	if len(d.Failures) == 0 {
		p.raw("<p>None.</p>\n")
	} else {
		p.raw(`<table class="figures">`, "\n<caption>The last ", strconv.Itoa(len(d.Failures)), ", newest first</caption>\n",
			`<thead><tr><th scope="col">When (UTC)</th><th scope="col">Letter</th><th scope="col">To</th><th scope="col">Why</th></tr></thead>`, "\n<tbody>\n")
		for _, f := range d.Failures {
			p.raw("<tr><td>", esc(f.At.UTC().Format("2 Jan 15:04")), "</td><td>", esc(f.Letter), "</td><td>", esc(f.Target), "</td><td>", esc(f.Reason), "</td></tr>\n")
		}
		p.raw("</tbody>\n</table>\n")
	}
	p.raw("</section>\n")

	p.raw("\n", `<section aria-labelledby="sources">`, "\n", `<h2 id="sources">Where signers came from</h2>`, "\n")
	if len(d.Sources) == 0 {
		p.raw("<p>No signatures yet.</p>\n")
	} else {
		rows := make([]countRow, len(d.Sources))
		for i, s := range d.Sources {
			rows[i] = countRow{Label: s.Source, N: s.Signatures}
			if s.Source == "" {
				rows[i].Label = "(none)"
			}
		}
		p.table("By the link's <code>source</code>, the most first", "Source", "Signatures", rows)
	}
	p.raw("</section>\n")

	d.writeHeld(p)
}

func (d *pageData) writeHeld(p page) {
	p.raw("\n", `<section aria-labelledby="held">`, "\n", `<h2 id="held">Held letters</h2>`, "\n",
		"<p>", thousands(d.HeldReview), " held for review (edited letters of a letter with <code>review_edits: true</code>), ",
		thousands(d.HeldCeiling), " held because the campaign passed its ceiling.</p>\n")
	if d.HeldCeiling > 0 {
		p.raw(`<form method="post" action="/admin/held">`, d.csrfField(), "\n",
			`<p><button type="submit" name="action" value="release-ceiling">Release `, allOf(d.HeldCeiling), " held by the ceiling</button></p>\n</form>\n")
	}
	if len(d.Held) == 0 {
		p.raw("<p>No letters are held.</p>\n</section>\n")
		return
	}
	p.raw(`<form method="post" action="/admin/held">`, d.csrfField(), "\n<fieldset>\n<legend>Choose signatures, then release or reject them</legend>\n",
		`<ul class="held">`, "\n")
	for _, h := range d.Held {
		id := "held-" + esc(h.ID)
		p.raw("<li>\n", `<div class="check"><input type="checkbox" name="id" value="`, esc(h.ID), `" id="`, id, `"><label for="`, id, `">`, esc(h.Name))
		if h.Place != "" {
			p.raw(", ", esc(h.Place))
		}
		p.raw(" · ", esc(h.Letter), " · signed ", esc(h.Signed), " · ", esc(holdWords(h.Hold)), "</label></div>\n")
		if h.Edited {
			p.raw("<details>\n<summary>Read ", esc(h.Name), "'s letter as it will go out</summary>\n",
				`<div class="sent"><p class="subject">Subject: `, esc(h.Subject), `</p><div class="letter-text">`, esc(h.Text), "</div></div>\n</details>\n")
		}
		p.raw("</li>\n")
	}
	p.raw("</ul>\n")
	if d.HeldMore > 0 {
		p.raw("<p>", thousands(d.HeldMore), " more are held; they show here as these are decided.</p>\n")
	}
	p.raw("</fieldset>\n", `<div class="actions">`, "\n",
		`<button type="submit" name="action" value="release">Release the chosen: send their letters</button>`, "\n",
		`<button type="submit" name="action" value="reject" class="danger">Reject the chosen: never send, delete their words</button>`, "\n",
		"</div>\n</form>\n</section>\n")
}

// allOf is "1 signature" or "all 12 signatures".
func allOf(n int) string {
	if n == 1 {
		return signatures(n)
	}
	return "all " + signatures(n)
}

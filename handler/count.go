package handler

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"campaignkit/handler/letter"
)

// Counter reads a letter's public count: its signatures whose letters were
// sent or are on their way (confirmed; not those awaiting confirmation or
// held). The store keeps it as a tally, so reading it is cheap.
type Counter interface {
	Count(ctx context.Context, letterID string) (int, error)
}

const (
	// countCacheControl lets browsers and caches reuse a count for 30
	// seconds; countCDNCacheControl asks Netlify's CDN to keep it in its
	// durable cache, shared by every edge node: a function instance keeps
	// nothing between requests, so the CDN is what makes the count cheap
	// there. Netlify strips that header before the browser.
	countCacheControl    = "public, max-age=30"
	countCDNCacheControl = "public, durable, max-age=30"
	// countFresh is how long one process reuses a count it read, so that
	// a burst of page views costs one query.
	countFresh = 5 * time.Second
)

// counts answers GET /api/letters/{id}/count (JSON) and count.svg (the
// same as a progress image for the campaign page, without JavaScript).
type counts struct {
	letters *LiveLetters
	counter Counter
	now     func() time.Time
	log     *slog.Logger

	mu     sync.Mutex
	cached map[string]cachedCount
}

type cachedCount struct {
	n  int
	at time.Time
}

func newCounts(cfg Settings) *counts {
	return &counts{letters: cfg.Live, counter: cfg.Counter, now: cfg.Now, log: cfg.Log, cached: map[string]cachedCount{}}
}

// publicCount is all the count tells: no personal data. Goal is 0 when the
// letter sets none.
type publicCount struct {
	Letter string `json:"letter"`
	Count  int    `json:"count"`
	Goal   int    `json:"goal"`
}

func (c *counts) json(w http.ResponseWriter, r *http.Request) {
	if pc, _, ok := c.read(w, r); ok {
		cacheCount(w.Header())
		writeJSON(w, http.StatusOK, pc)
	}
}

func (c *counts) svg(w http.ResponseWriter, r *http.Request) {
	if pc, l, ok := c.read(w, r); ok {
		cacheCount(w.Header())
		w.Header().Set("Content-Type", "image/svg+xml; charset=utf-8")
		// In the page's language (count.html adds ?lang=es on /es/).
		w.Write([]byte(countSVG(l.In(r.URL.Query().Get("lang")), pc.Count, pc.Goal)))
	}
}

func cacheCount(h http.Header) {
	h.Set("Cache-Control", countCacheControl)
	h.Set("Netlify-CDN-Cache-Control", countCDNCacheControl)
}

// read finds the letter and its count, or answers the error in JSON.
func (c *counts) read(w http.ResponseWriter, r *http.Request) (publicCount, *letter.Letter, bool) {
	fail := func(status int, key, msg string) (publicCount, *letter.Letter, bool) {
		writeJSON(w, status, map[string]any{"errors": map[string]string{key: msg}})
		return publicCount{}, nil, false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return fail(http.StatusMethodNotAllowed, "request", "The count is read with GET.")
	}
	l, ok := c.letters.Load()[r.PathValue("id")]
	if !ok {
		return fail(http.StatusNotFound, "letter", "This letter does not exist.")
	}
	if c.counter == nil {
		return fail(http.StatusServiceUnavailable, "request", "The count needs a database: set DATABASE_URL.")
	}
	n, err := c.count(r.Context(), l.ID)
	if err != nil {
		c.log.Error("count", "letter", l.ID, "error", err.Error())
		w.Header().Set("Retry-After", "60")
		return fail(http.StatusServiceUnavailable, "request", "The count cannot be read right now.")
	}
	return publicCount{Letter: l.ID, Count: n, Goal: l.Goal}, l, true
}

func (c *counts) count(ctx context.Context, id string) (int, error) {
	now := c.now()
	c.mu.Lock()
	hit, ok := c.cached[id]
	c.mu.Unlock()
	if ok && now.Sub(hit.at) < countFresh && !now.Before(hit.at) {
		return hit.n, nil
	}
	n, err := c.counter.Count(ctx, id)
	if err != nil {
		return 0, err
	}
	// Keys are only published letters' ids: the map stays small.
	c.mu.Lock()
	c.cached[id] = cachedCount{n: n, at: now}
	c.mu.Unlock()
	return n, nil
}

// countSVG draws the count as text in l's language, with a bar toward
// the goal when there is one. The sizes are the ones the campaign page
// reserves for it (layouts/_partials/count.html), so nothing shifts as it
// loads.
func countSVG(l *letter.Letter, n, goal int) string {
	const width, barY, barH = 320, 30, 12
	text := l.Say("count_many", "n", groupDigits(n))
	switch {
	case goal > 0:
		text = l.Say("count_of_goal", "n", groupDigits(n), "goal", groupDigits(goal))
	case n == 1:
		text = l.Say("count_one")
	}
	height := 24
	if goal > 0 {
		height = barY + barH
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="count-title">`,
		width, height, width, height)
	fmt.Fprintf(&b, `<title id="count-title">%s</title>`, html.EscapeString(text))
	// System fonts only, as the site's stylesheet: nothing to fetch.
	fmt.Fprintf(&b, `<text x="0" y="18" font-family="system-ui,-apple-system,'Segoe UI',Roboto,sans-serif" font-size="16" font-weight="700" fill="#1b1b1b">%s</text>`,
		html.EscapeString(text))
	if goal > 0 {
		done := width * min(float64(n)/float64(goal), 1)
		fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="%d" rx="%d" fill="#d6d6d6"/>`, barY, width, barH, barH/2)
		if done > 0 {
			fmt.Fprintf(&b, `<rect x="0" y="%d" width="%s" height="%d" rx="%d" fill="#0b4f9c"/>`,
				barY, strconv.FormatFloat(done, 'f', 1, 64), barH, barH/2)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// groupDigits writes n with a comma between thousands: 12,345.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

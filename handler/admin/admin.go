// Package admin is the organizer's room: every signature as CSV
// (/api/admin/export.csv), the campaign's figures as JSON
// (/api/admin/stats), both for `Authorization: Bearer <token>`, and the
// /admin/ page that shows them to a browser and releases or rejects held
// letters. It answers only when the campaign has an organizer token
// (CAMPAIGN_ADMIN_TOKEN); the handler mounts it then.
package admin

import (
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
)

// MinTokenLength is the shortest organizer token accepted: a token is the
// whole lock on every signer's details.
const MinTokenLength = 24

// Source is what the organizer's room reads and acts on.
type Source struct {
	Store *store.Store
	// Queue releases held letters with their delivery jobs.
	Queue *queue.Queue
}

// Options configure the organizer's room.
type Options struct {
	// Token is the organizer's secret (CAMPAIGN_ADMIN_TOKEN).
	Token string
	// Open returns the database, opened once by the program; its error
	// is answered 503 (a *letter.Unavailable's reason is shown).
	Open func() (*Source, error)
	// Campaign names the campaign on the page; Stylesheet is the site's.
	Campaign   string
	Stylesheet string
	Log        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type admin struct {
	Options
	tokenHash [sha256.Size]byte
}

// Paths the page and its forms use. The session cookie is sent only to
// /admin/; the /api/admin/ endpoints take the bearer token alone.
const (
	pagePath   = "/admin/"
	cookieName = "campaign_admin"
	// sessionTTL bounds a session however long the browser stays open.
	sessionTTL = 12 * time.Hour
	// heldShown is how many held signatures the page lists.
	heldShown = 100
	// maxChosen bounds the signatures one form post decides.
	maxChosen = 1000
)

// New returns the organizer's room: mount it at /admin/ and /api/admin/.
func New(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &admin{Options: o, tokenHash: sha256.Sum256([]byte(o.Token))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/admin/export.csv", a.bearer(a.exportCSV))
	mux.HandleFunc("GET /api/admin/stats", a.bearer(a.statsJSON))
	mux.HandleFunc("GET /admin/{$}", a.page)
	mux.HandleFunc("GET /admin/admin.css", serveCSS)
	mux.HandleFunc("POST /admin/login", a.login)
	mux.HandleFunc("POST /admin/logout", a.session(a.logout))
	mux.HandleFunc("POST /admin/held", a.session(a.decide))
	mux.HandleFunc("GET /admin/export.csv", a.session(func(w http.ResponseWriter, r *http.Request, _ string) { a.exportCSV(w, r) }))
	return mux
}

// tokenMatches compares in constant time, whatever the lengths: both
// sides are hashed first.
func (a *admin) tokenMatches(token string) bool {
	got := sha256.Sum256([]byte(token))
	return a.Token != "" && subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) == 1
}

// bearer lets through requests with the token as a bearer token.
func (a *admin) bearer(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || !a.tokenMatches(strings.TrimSpace(token)) {
			a.Log.Warn("admin: request without the organizer token refused", "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="campaign organizer"`)
			http.Error(w, "Send the organizer token (CAMPAIGN_ADMIN_TOKEN) as Authorization: Bearer <token>.", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

// mac signs msg for one purpose with the token, so that a session or a
// form token is worth nothing once the token changes.
func (a *admin) mac(purpose, msg string) string {
	m := hmac.New(sha256.New, []byte(a.Token))
	m.Write([]byte("campaignkit admin " + purpose + "\x00" + msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession is a session cookie's value: when it began, signed. The
// token itself never leaves the login form.
func (a *admin) newSession() string {
	began := strconv.FormatInt(a.Now().Unix(), 10)
	return began + "." + a.mac("session", began)
}

// sessionOf returns the request's session, if valid and not too old.
func (a *admin) sessionOf(r *http.Request) (string, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", false
	}
	began, sig, ok := strings.Cut(c.Value, ".")
	unix, err := strconv.ParseInt(began, 10, 64)
	if !ok || err != nil || !hmac.Equal([]byte(sig), []byte(a.mac("session", began))) {
		return "", false
	}
	age := a.Now().Sub(time.Unix(unix, 0))
	return c.Value, age < sessionTTL && age > -time.Minute
}

// csrf is the session's form token: a form carries it, a page of
// another site cannot know it.
func (a *admin) csrf(session string) string { return a.mac("csrf", session) }

// session lets through requests of a signed-in browser; posts must also
// come from this site (Origin, Sec-Fetch-Site) with the session's form
// token. The cookie is SameSite=Strict besides.
func (a *admin) session(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := a.sessionOf(r)
		if r.Method != http.MethodPost {
			if !ok {
				http.Redirect(w, r, pagePath, http.StatusSeeOther)
				return
			}
			next(w, r, sess)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if !ok || !sameOrigin(r) || r.ParseForm() != nil ||
			!hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(a.csrf(sess))) {
			a.Log.Warn("admin: form post refused (no session, another site, or no form token)", "path", r.URL.Path)
			a.refused(w)
			return
		}
		next(w, r, sess)
	}
}

// sameOrigin refuses a post another origin made, as the browser tells
// (Sec-Fetch-Site, Origin). Without either header (an old browser, a
// script) the form token decides.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		scheme := "http://"
		if isHTTPS(r) {
			scheme = "https://"
		}
		return strings.EqualFold(strings.TrimRight(origin, "/"), scheme+r.Host)
	}
	return true
}

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// open returns the source, or answers 503 and nil.
func (a *admin) open(w http.ResponseWriter) *Source {
	src, err := a.Open()
	if err == nil && (src == nil || src.Store == nil) {
		err = &letter.Unavailable{Reason: "The organizer's room needs the campaign's database (DATABASE_URL)."}
	}
	if err != nil {
		reason := "The campaign's database cannot be reached right now; try again in a minute."
		var u *letter.Unavailable
		if errors.As(err, &u) {
			reason = u.Reason
		} else {
			a.Log.Error("admin: database", "error", err.Error())
		}
		w.Header().Set("Retry-After", "60")
		http.Error(w, reason, http.StatusServiceUnavailable)
		return nil
	}
	return src
}

// exportCSV sends every signature as a CSV download.
func (a *admin) exportCSV(w http.ResponseWriter, r *http.Request) {
	src := a.open(w)
	if src == nil {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="signatures-%s.csv"`, a.Now().UTC().Format("20060102-1504")))
	h.Add("Vary", "Accept-Encoding")
	cw := &countingWriter{w: w}
	var out io.Writer = cw
	var zw *gzip.Writer
	// Compressed several times over: on Netlify a function's answer is
	// whole and at most 6 MB.
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		zw = gzip.NewWriter(cw)
		out = zw
	}
	err := WriteCSV(r.Context(), out, src.Store, nil)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err != nil {
		a.Log.Error("admin: export", "error", err.Error())
		if cw.n == 0 {
			h.Del("Content-Disposition")
			h.Del("Content-Encoding")
			http.Error(w, "The export failed; try again in a minute.", http.StatusInternalServerError)
			return
		}
		// Cut the connection: a download that fails midway must not look
		// like a whole file.
		panic(http.ErrAbortHandler)
	}
	a.Log.Info("admin: signatures exported")
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// stats is the JSON of /api/admin/stats.
type stats struct {
	GeneratedAt time.Time `json:"generated_at"`
	*store.Stats
	// HeldSignatures are the first held signatures (store.Held's order),
	// without their signers' details.
	HeldSignatures []heldJSON `json:"held_signatures"`
}

type heldJSON struct {
	ID          string     `json:"id"`
	Letter      string     `json:"letter"`
	Hold        string     `json:"hold"`
	Edited      bool       `json:"edited"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
}

// Figures the dashboard shows: hours of the chart, sources, failures.
const (
	chartHours   = 48
	sourcesShown = 20
	failsShown   = 20
)

func (a *admin) statsJSON(w http.ResponseWriter, r *http.Request) {
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
		a.Log.Error("admin: stats", "error", err.Error())
		http.Error(w, "The figures could not be read; try again in a minute.", http.StatusInternalServerError)
		return
	}
	out := stats{GeneratedAt: now.UTC(), Stats: st, HeldSignatures: []heldJSON{}}
	for _, h := range held {
		j := heldJSON{ID: h.ID, Letter: h.Letter, Hold: h.Hold, Edited: h.Edited, CreatedAt: h.CreatedAt.UTC()}
		if !h.ConfirmedAt.IsZero() {
			t := h.ConfirmedAt.UTC()
			j.ConfirmedAt = &t
		}
		out.HeldSignatures = append(out.HeldSignatures, j)
	}
	writeJSON(w, out)
}

// login takes the token from the page's form and opens a session.
func (a *admin) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if !sameOrigin(r) || r.ParseForm() != nil {
		a.refused(w)
		return
	}
	if !a.tokenMatches(strings.TrimSpace(r.PostFormValue("token"))) {
		a.Log.Warn("admin: wrong token at sign-in")
		a.renderLogin(w, http.StatusUnauthorized, "That is not the organizer token. Check it and try again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: a.newSession(), Path: pagePath,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	a.Log.Info("admin: signed in")
	http.Redirect(w, r, pagePath, http.StatusSeeOther)
}

func (a *admin) logout(w http.ResponseWriter, r *http.Request, _ string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: pagePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	http.Redirect(w, r, pagePath, http.StatusSeeOther)
}

// decide releases or rejects the chosen held signatures, or releases
// every letter held by the ceiling.
func (a *admin) decide(w http.ResponseWriter, r *http.Request, _ string) {
	src := a.open(w)
	if src == nil {
		return
	}
	var ids []string
	for _, id := range r.PostForm["id"] {
		if len(ids) < maxChosen && validID(id) {
			ids = append(ids, id)
		}
	}
	action := r.PostFormValue("action")
	var n int
	var err error
	switch {
	case action == "release-ceiling":
		n, err = src.Queue.Release(r.Context(), "", 1_000_000)
	case len(ids) == 0 && (action == "release" || action == "reject"):
		http.Redirect(w, r, pagePath+"?done=none", http.StatusSeeOther)
		return
	case action == "release":
		n, err = src.Queue.ReleaseSignatures(r.Context(), ids)
	case action == "reject":
		n, err = src.Store.RejectSignatures(r.Context(), ids)
	default:
		http.Error(w, "Unknown action.", http.StatusBadRequest)
		return
	}
	if err != nil {
		a.Log.Error("admin: "+action, "error", err.Error())
		http.Error(w, "Nothing was changed: the database failed. Go back and try again in a minute.", http.StatusInternalServerError)
		return
	}
	a.Log.Info("admin: held signatures decided", "action", action, "signatures", n)
	verb := "released"
	if action == "reject" {
		verb = "rejected"
	}
	http.Redirect(w, r, pagePath+"?"+url.Values{"done": {verb}, "n": {strconv.Itoa(n)}}.Encode(), http.StatusSeeOther)
}

// validID accepts a signature id (letter.NewID: 32 hex digits).
func validID(id string) bool {
	_, err := hex.DecodeString(id)
	return len(id) == 32 && err == nil
}

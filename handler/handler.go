// Package handler is the campaign's HTTP handler: it takes a supporter's
// signature (POST /api/sign), validates it, merges it into the published
// letter, records it and hands it to delivery. Both homes, `campaign
// serve` and the Netlify function, wrap the same New.
package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"campaignkit/handler/letter"
)

// Recorder commits a signature and its messages before the supporter gets
// an answer (the delivery queue, or a direct send). It returns
// letter.ErrDuplicate with the first signature when the address signed
// before, and *letter.Unavailable when it will not take letters now.
type Recorder interface {
	Record(ctx context.Context, sig *letter.Signature, msgs []letter.Message) (*letter.Signature, error)
}

// Settings are what the handler needs, built once by the program that runs it.
type Settings struct {
	Letters letter.Letters
	// Live, when set, holds the letters instead of Letters, read afresh by
	// each request: `campaign serve` replaces them when the site is
	// rebuilt.
	Live     *LiveLetters
	Recorder Recorder
	// Confirm asks each signer to confirm by email before their letters go
	// out (CAMPAIGN_CONFIRM; a letter's front matter may turn it off), and
	// Confirmer takes their confirmations. Without a Confirmer, a letter
	// that needs confirmation is refused.
	Confirm   bool
	Confirmer Confirmer
	// Counter reads the public count (GET /api/letters/{id}/count); nil
	// without a database, where the count answers 503.
	Counter Counter
	// AllowedOrigins may post the form besides the site itself (embeds:
	// CAMPAIGN_ALLOWED_ORIGINS), as scheme://host[:port].
	AllowedOrigins []string
	// Sending addresses the letters: From, Message-Ids, and the sandbox
	// (CAMPAIGN_SANDBOX_TO: staging, deploy previews), fixed into each
	// message when recorded.
	Sending letter.Sending
	// ClientIP is the client's address for the per-client limit; nil
	// means the connection's (RemoteIP). The invalid address means
	// unknown: that request is not limited per client, and the log counts
	// it.
	ClientIP func(*http.Request) netip.Addr
	// RatePerMinute and Burst bound signatures per client (ClientPrefix);
	// zero means 20 a minute with bursts of 10.
	RatePerMinute float64
	Burst         int
	// Limiter keeps the per-client limit (in a database shared by many
	// instances, say); nil means in memory, from RatePerMinute and Burst,
	// as also whenever Limiter fails.
	Limiter Limiter
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Verifier, when set, checks each signature's Turnstile token before
	// it is recorded (TURNSTILE_SITE_KEY and TURNSTILE_SECRET_KEY).
	Verifier Verifier

	// WebhookSigningKey verifies Mailgun's webhooks
	// (MAILGUN_WEBHOOK_SIGNING_KEY); without it MailgunEventsPath is not
	// there (404). Events records them; without it (no database) that
	// path answers 503.
	WebhookSigningKey []byte
	Events            Events
	// Admin, when set, is the organizer's room (handler/admin), served at
	// /admin/ and /api/admin/; without it they are 404.
	Admin http.Handler
}

// MaxRequestBytes caps a signature's request body.
const MaxRequestBytes = 128 << 10

type handler struct {
	cfg     Settings
	limiter *clientLimits
	log     *slog.Logger
	pages   pageCache
	origins []string
}

// New returns the handler for /api/sign, the confirmation links and the
// public count.
func New(cfg Settings) http.Handler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Live == nil {
		cfg.Live = NewLiveLetters(cfg.Letters)
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = RemoteIP
	}
	if cfg.RatePerMinute <= 0 {
		cfg.RatePerMinute = 20
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 10
	}
	h := &handler{cfg: cfg, log: cfg.Log, limiter: newClientLimits(cfg)}
	for _, o := range cfg.AllowedOrigins {
		h.origins = append(h.origins, strings.TrimRight(strings.ToLower(o), "/"))
	}
	if u, err := url.Parse(cfg.Sending.SiteURL); err == nil && u.Scheme != "" && u.Host != "" {
		h.origins = append(h.origins, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/sign", h.sign)
	mux.HandleFunc(letter.ConfirmPath+"{token}", h.confirmLink)
	mux.HandleFunc(MailgunEventsPath, h.mailgunEvents)
	counts := newCounts(cfg)
	mux.HandleFunc("/api/letters/{id}/count", counts.json)
	mux.HandleFunc("/api/letters/{id}/count.svg", counts.svg)
	if cfg.Admin != nil {
		mux.Handle("/admin/", cfg.Admin)
		mux.Handle("/api/admin/", cfg.Admin)
	}
	return securityHeaders(mux)
}

func (h *handler) sign(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, nil, errMethod)
		return
	}
	// Decoded first: every answer below, refusals too, keeps what the
	// supporter typed.
	s, err := decode(w, r)
	if !h.sameOrigin(w, r, s) {
		return
	}
	if ok, retry := h.limiter.allow(r); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		h.fail(w, r, s, errRateLimited)
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	s.Normalize()
	if s.Letter == "" {
		h.fail(w, r, s, fieldKeys{"letter": "letter_missing"})
		return
	}
	l, ok := h.letters()[s.Letter]
	if !ok {
		h.fail(w, r, s, errUnknownLetter)
		return
	}
	// The translation the supporter read is the one merged, and every
	// word to them after speaks its language.
	l = l.In(s.Lang)
	s.Lang = l.Lang
	if errs := s.Validate(l); errs != nil {
		h.fail(w, r, s, errs)
		return
	}
	// After validation: a token is single use, so spend it only on a
	// signature that will be recorded.
	if err := h.checkChallenge(r); err != nil {
		h.fail(w, r, s, err)
		return
	}
	if l.Confirms(h.cfg.Confirm) {
		h.signToConfirm(w, r, l, s)
		return
	}
	// No copy to the signer here: without confirmation nobody showed the
	// address is theirs, and the copy would carry the visitor's text to it.
	sig, msgs := letter.Sign(l, s, h.cfg.Sending)
	first, err := h.cfg.Recorder.Record(r.Context(), sig, msgs)
	duplicate := errors.Is(err, letter.ErrDuplicate)
	if err != nil && !duplicate {
		h.fail(w, r, s, fmt.Errorf("record: %w", err))
		return
	}
	if duplicate {
		// No new mail goes out. Only the browser that made the first
		// signature (it holds its id) is told so; anyone else gets the same
		// answer as a first signature, so the page never reveals whether an
		// address signed.
		h.log.Info("repeat signature", "letter", l.ID, "first", first.ID)
		if c, err := r.Cookie(signedCookie(l.ID)); err == nil && c.Value == first.ID {
			h.alreadySigned(w, r, l, first)
			return
		}
	} else {
		h.log.Info("signature accepted", "letter", l.ID, "signature", sig.ID, "messages", len(msgs), "held", sig.State == letter.SignatureHeld)
	}
	// A repeat gets a cookie too (one that matches nothing), so that the
	// headers do not tell a first signature from a repeat either.
	http.SetCookie(w, &http.Cookie{
		Name: signedCookie(l.ID), Value: sig.ID, Path: "/api/sign", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(r),
	})
	h.accepted(w, r, l)
}

// signToConfirm records a signature that waits for its signer's
// confirmation and has the email that asks for it sent. The answer is the
// same whoever signs, first time or not, mailed or throttled: "check your
// inbox", so it tells no one whether an address signed.
func (h *handler) signToConfirm(w http.ResponseWriter, r *http.Request, l *letter.Letter, s *letter.Signer) {
	if h.cfg.Confirmer == nil {
		h.fail(w, r, s, &letter.Unavailable{Reason: letter.English["error_no_database"], Key: "error_no_database"})
		return
	}
	if len(h.cfg.Sending.TokenKey) == 0 || h.cfg.Sending.SiteURL == "" {
		// The operator is told at start (config.Handler).
		h.fail(w, r, s, &letter.Unavailable{Reason: letter.English["error_not_set_up"], Key: "error_not_set_up"})
		return
	}
	sig, msgs := letter.SignToConfirm(l, s, h.cfg.Sending)
	if l.CopyToSigner {
		msgs = append(msgs, letter.CopyForSigner(l, sig, msgs[:len(l.Targets)], h.cfg.Sending))
		msgs[len(msgs)-1].State = letter.StateUnconfirmed
	}
	_, err := h.cfg.Recorder.Record(r.Context(), sig, msgs)
	switch {
	case errors.Is(err, letter.ErrThrottled):
		h.log.Info("confirmation not mailed: one was mailed to this address recently", "letter", l.ID)
	case err != nil:
		h.fail(w, r, s, fmt.Errorf("record: %w", err))
		return
	default:
		h.log.Info("signature awaits confirmation", "letter", l.ID, "signature", sig.ID)
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{
			"status":    "confirm",
			"message":   l.Say("status_confirm"),
			"inbox_url": l.InboxURL,
			"targets":   len(l.Targets),
		})
		return
	}
	http.Redirect(w, r, l.InboxURL, http.StatusSeeOther)
}

// signedCookie names the cookie that remembers, in the signer's browser
// only, which signature it made.
func signedCookie(letterID string) string { return "signed_" + letterID }

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// alreadySigned tells a repeat signer, in their own browser, that their
// letter went out before and nothing new was sent.
func (h *handler) alreadySigned(w http.ResponseWriter, r *http.Request, l *letter.Letter, first *letter.Signature) {
	at := first.CreatedAt
	msg := l.Say("already_signed", "date", l.Date(at))
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{
			"status": "already_signed", "signed_at": at.UTC().Format(time.RFC3339), "message": msg, "thanks_url": l.ThanksURL,
		})
		return
	}
	h.alreadyPage(w, l, first)
}

// accepted answers a recorded signature: the thank-you page for a form post,
// JSON for a JSON client.
func (h *handler) accepted(w http.ResponseWriter, r *http.Request, l *letter.Letter) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{
			"status":     "accepted",
			"message":    l.Say("status_accepted"),
			"thanks_url": l.ThanksURL,
			"targets":    len(l.Targets),
		})
		return
	}
	http.Redirect(w, r, l.ThanksURL, http.StatusSeeOther)
}

// wantsJSON reports whether the client speaks the JSON contract.
func wantsJSON(r *http.Request) bool {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	return strings.HasPrefix(ct, "application/json") || strings.Contains(strings.ToLower(r.Header.Get("Accept")), "application/json")
}

// SecurityHeaders sets the headers every response of ours carries, with
// its Content-Security-Policy (the pages' and the handler's differ).
func SecurityHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
}

// handlerCSP allows the handler's own pages nothing but the site's
// stylesheet and a form post back here.
const handlerCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SecurityHeaders(w.Header(), handlerCSP)
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// letters is the set this request reads: one, even if the site is rebuilt
// meanwhile. (A handler made without New has only Letters.)
func (h *handler) letters() letter.Letters {
	if h.cfg.Live == nil {
		return h.cfg.Letters
	}
	return h.cfg.Live.Load()
}

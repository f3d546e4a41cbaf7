package handler

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"campaignkit/handler/letter"
)

// Confirmer confirms signatures from the links emailed to their signers
// (the delivery queue).
type Confirmer interface {
	// Pending returns the signature a link's token names (by its hash),
	// with its letters as they will go out; letter.ErrNotFound when the
	// token is unknown or expired.
	Pending(ctx context.Context, tokenHash string) (*letter.Signature, []letter.Message, error)
	// Confirm queues the signature's letters. It returns
	// letter.ErrConfirmed or letter.ErrDuplicate (with the signature whose
	// letters went out) when nothing is sent, letter.ErrNotFound for an
	// unknown or expired token.
	Confirm(ctx context.Context, tokenHash string) (*letter.Signature, error)
}

// confirmLink answers a confirmation link: GET (and HEAD) show the letters
// and change nothing, since mail scanners open every link; POST confirms.
func (h *handler) confirmLink(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if h.cfg.Confirmer == nil || token == "" || len(token) > 128 {
		h.expiredPage(w, r, nil)
		return
	}
	hash := letter.HashToken(token)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		sig, msgs, err := h.cfg.Confirmer.Pending(r.Context(), hash)
		if err != nil {
			h.confirmError(w, r, nil, nil, err)
			return
		}
		l := h.letters()[sig.Letter]
		if l == nil {
			h.expiredPage(w, r, nil)
			return
		}
		l = l.In(sig.Lang)
		if sig.State != letter.SignatureUnconfirmed {
			h.alreadyPage(w, l, sig)
			return
		}
		h.confirmPage(w, l, token, msgs, sig.Hold == letter.HoldReview)
	case http.MethodPost:
		// No origin check: the token is the proof, and no other site can
		// know it. (The page sends no Referer, so browsers post with
		// Origin: null.)
		sig, err := h.cfg.Confirmer.Confirm(r.Context(), hash)
		if err != nil {
			h.confirmError(w, r, sig, h.letterOf(sig), err)
			return
		}
		h.log.Info("signature confirmed", "letter", sig.Letter, "signature", sig.ID, "held", sig.State == letter.SignatureHeld)
		l := h.letterOf(sig)
		if l == nil {
			h.expiredPage(w, r, nil)
			return
		}
		if wantsJSON(r) {
			msg := l.Say("status_accepted")
			if sig.Hold == letter.HoldReview {
				msg = l.Say("status_review")
			}
			writeJSON(w, http.StatusOK, map[string]any{"status": "accepted", "message": msg, "thanks_url": l.ThanksURL})
			return
		}
		http.Redirect(w, r, l.ThanksURL, http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Confirmation links are opened with GET and confirmed with POST.", http.StatusMethodNotAllowed)
	}
}

// letterOf is the letter a signature signed, in its language.
func (h *handler) letterOf(sig *letter.Signature) *letter.Letter {
	if sig == nil {
		return nil
	}
	if l := h.letters()[sig.Letter]; l != nil {
		return l.In(sig.Lang)
	}
	return nil
}

// confirmError answers a link that sends nothing: confirmed before, or
// another attempt in the same name was (the date its letters went out),
// or unknown or expired.
func (h *handler) confirmError(w http.ResponseWriter, r *http.Request, sig *letter.Signature, l *letter.Letter, err error) {
	switch {
	case (errors.Is(err, letter.ErrConfirmed) || errors.Is(err, letter.ErrDuplicate)) && l != nil:
		h.log.Info("confirmation sends nothing", "letter", l.ID, "signature", sig.ID, "repeat", errors.Is(err, letter.ErrConfirmed))
		if wantsJSON(r) {
			writeJSON(w, http.StatusOK, map[string]any{"status": "already_signed", "signed_at": sig.ConfirmedAt.UTC().Format(time.RFC3339)})
			return
		}
		h.alreadyPage(w, l, sig)
	case errors.Is(err, letter.ErrNotFound) || errors.Is(err, letter.ErrConfirmed) || errors.Is(err, letter.ErrDuplicate):
		h.expiredPage(w, r, l)
	default:
		h.log.Error("confirmation", "error", err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
		if l == nil {
			if l = h.anyLetter(); l != nil {
				l = l.In(requestLang(r, nil, l))
			}
		}
		w.Write([]byte(l.Say("confirm_unavailable") + "\n"))
	}
}

// confirmPage shows each letter as its official will receive it, with the
// button that sends them, and, for a letter held for review once
// confirmed, the note that says so.
func (h *handler) confirmPage(w http.ResponseWriter, l *letter.Letter, token string, msgs []letter.Message, review bool) {
	items := make([]map[string]string, len(msgs))
	for i, m := range msgs {
		items[i] = map[string]string{"to": m.TargetName, "subject": m.Subject, "text": m.Text}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Its address is the token: no request from it may carry it (the
	// page's own meta says so too).
	w.Header().Set("Referrer-Policy", "no-referrer")
	var vars map[string]string
	if review {
		vars = map[string]string{"review": "yes"}
	}
	if err := h.pages.get(l.Pages.Confirm).fill(w, vars, items, letter.ConfirmPath+token); err != nil {
		h.log.Error("confirmation page", "error", err.Error())
	}
}

// expiredPage answers an unknown or expired link, with the way to sign
// again. Without the signature, its language is the browser's.
func (h *handler) expiredPage(w http.ResponseWriter, r *http.Request, l *letter.Letter) {
	if l == nil {
		if l = h.anyLetter(); l != nil {
			l = l.In(requestLang(r, nil, l))
		}
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	if l == nil {
		http.Error(w, "This link is unknown or has expired; nothing was sent.", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	if err := h.pages.get(l.Pages.Expired).fill(w, nil, nil, ""); err != nil {
		h.log.Error("expired page", "error", err.Error())
	}
}

// sameOrigin refuses, with 403 and nothing recorded, a post that a page of
// another site made: Sec-Fetch-Site says cross-site, or Origin names
// neither this site nor an origin allowed to embed the form. Posts without
// either header (older browsers, scripts) are left to the other defences.
func (h *handler) sameOrigin(w http.ResponseWriter, r *http.Request, s *letter.Signer) bool {
	origin := r.Header.Get("Origin")
	ok := true
	switch {
	case origin != "":
		ok = h.allowedOrigin(r, origin)
	case strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site"):
		ok = false
	}
	if !ok {
		h.log.Warn("cross-site post refused", "origin", origin)
		h.fail(w, r, s, errCrossSite)
	}
	return ok
}

func (h *handler) allowedOrigin(r *http.Request, origin string) bool {
	origin = strings.TrimRight(strings.ToLower(origin), "/")
	scheme := "http://"
	if isHTTPS(r) {
		scheme = "https://"
	}
	if r.Host != "" && origin == scheme+strings.ToLower(r.Host) {
		return true
	}
	for _, o := range h.origins {
		if origin == o {
			return true
		}
	}
	return false
}

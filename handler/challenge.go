package handler

import (
	"context"
	"errors"
	"net/http"

	"campaignkit/handler/letter"
	"campaignkit/handler/turnstile"
)

// Verifier checks the answer of the form's "are you a person" widget
// (Cloudflare Turnstile: *turnstile.Verifier) with its provider. Its error
// wraps turnstile.ErrRejected when the token was refused; any other error
// means the check could not be made.
type Verifier interface {
	Verify(ctx context.Context, token, remoteIP string) error
}

// errChallenge is a refused token. 422, like a field to correct: the
// supporter passes the check again and resends; 403 stays the answer to a
// post from another site.
var errChallenge = &requestError{status: http.StatusUnprocessableEntity, key: "error_challenge"}

// checkChallenge verifies the Turnstile token left by decode when a
// Verifier is set. An unanswered check is a 503 (letter.Unavailable):
// nothing is recorded unchecked, and the supporter is told to retry.
func (h *handler) checkChallenge(r *http.Request) error {
	if h.cfg.Verifier == nil {
		return nil
	}
	remote := ""
	if ip := h.cfg.ClientIP(r); ip.IsValid() {
		remote = ip.String()
	}
	err := h.cfg.Verifier.Verify(r.Context(), r.PostForm.Get(turnstile.ResponseField), remote)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, turnstile.ErrRejected):
		h.log.Info("challenge refused", "reason", err.Error())
		return errChallenge
	default:
		h.log.Error("challenge not checked", "error", err.Error())
		return &letter.Unavailable{Reason: letter.English["error_challenge_down"], Key: "error_challenge_down"}
	}
}

// challengeCSP is the handler pages' policy when the form shows the
// widget: the error page holds the form again, widget included.
var challengeCSP = turnstile.CSP(handlerCSP)

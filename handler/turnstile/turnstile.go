// Package turnstile checks, server-side, the answer of Cloudflare
// Turnstile's widget on the sign form (the optional "are you a person"
// check, on when TURNSTILE_SITE_KEY and TURNSTILE_SECRET_KEY are set), and
// names what the pages need to show the widget.
package turnstile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	// VerifyURL is Cloudflare's siteverify endpoint.
	VerifyURL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
	// Origin serves the widget's script and frame: the pages' CSP must allow it.
	Origin = "https://challenges.cloudflare.com"
	// ResponseField is the form field in which the widget puts its token.
	ResponseField = "cf-turnstile-response"
	// Action is the widget's data-action on the sign form; a token made for
	// another action is refused.
	Action = "sign"
	// Timeout bounds one siteverify call: the supporter is waiting.
	Timeout = 5 * time.Second
	// maxTokenLen is the longest token Cloudflare issues.
	maxTokenLen = 2048
)

// ErrRejected is wrapped by Verify's error when the token itself was
// refused (missing, invalid, expired or used before): the supporter can
// pass the check again. Any other error means the check could not be made.
var ErrRejected = errors.New("turnstile: token refused")

// Verifier asks siteverify about each token.
type Verifier struct {
	secret string
	url    string
	client *http.Client
}

// New returns a Verifier for the widget's secret key. verifyURL replaces
// Cloudflare's endpoint (tests); "" means VerifyURL.
func New(secret, verifyURL string) *Verifier {
	if verifyURL == "" {
		verifyURL = VerifyURL
	}
	return &Verifier{secret: secret, url: verifyURL, client: &http.Client{Timeout: Timeout}}
}

// siteverify's answer; only what is checked.
type answer struct {
	Success    bool     `json:"success"`
	ErrorCodes []string `json:"error-codes"`
	Action     string   `json:"action"`
}

// Verify checks token, the widget's answer, for the visitor at remoteIP.
func (v *Verifier) Verify(ctx context.Context, token, remoteIP string) error {
	if token == "" {
		return fmt.Errorf("%w: no token (the widget did not run)", ErrRejected)
	}
	if len(token) > maxTokenLen {
		return fmt.Errorf("%w: token of %d bytes", ErrRejected, len(token))
	}
	form := url.Values{"secret": {v.secret}, "response": {token}}
	// remoteip is optional: send it only when it is one address (a limiter
	// key such as an IPv6 /64 is not).
	if ip, err := netip.ParseAddr(remoteIP); err == nil {
		form.Set("remoteip", ip.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.url, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("turnstile: siteverify: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("turnstile: siteverify: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("turnstile: siteverify: status %d", resp.StatusCode)
	}
	var a answer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a); err != nil {
		return fmt.Errorf("turnstile: siteverify: answer: %w", err)
	}
	if a.Success {
		// Cloudflare's test keys answer without an action; a real widget on
		// our form always sends ours.
		if a.Action != "" && a.Action != Action {
			return fmt.Errorf("%w: made for action %q", ErrRejected, a.Action)
		}
		return nil
	}
	codes := strings.Join(a.ErrorCodes, ", ")
	for _, c := range a.ErrorCodes {
		switch c {
		case "missing-input-secret", "invalid-input-secret":
			// Not the supporter's doing: the operator must fix the key.
			return fmt.Errorf("turnstile: siteverify refuses TURNSTILE_SECRET_KEY (%s)", codes)
		case "bad-request", "internal-error":
			return fmt.Errorf("turnstile: siteverify: %s", codes)
		}
	}
	if len(a.ErrorCodes) == 0 {
		codes = "no reason given"
	}
	return fmt.Errorf("%w: %s", ErrRejected, codes)
}

// CSP returns policy with Origin allowed as a script and frame source,
// which the widget needs. A directive the policy lacks starts from its
// default-src, so nothing that was allowed is lost.
func CSP(policy string) string {
	var dirs [][]string
	for _, d := range strings.Split(policy, ";") {
		if f := strings.Fields(d); len(f) > 0 {
			dirs = append(dirs, f)
		}
	}
	find := func(name string) int {
		return slices.IndexFunc(dirs, func(d []string) bool { return strings.EqualFold(d[0], name) })
	}
	for _, name := range []string{"script-src", "frame-src"} {
		i := find(name)
		if i < 0 {
			d := []string{name}
			if j := find("default-src"); j >= 0 {
				d = append(d, dirs[j][1:]...)
			}
			dirs = append(dirs, d)
			i = len(dirs) - 1
		}
		d := slices.DeleteFunc(dirs[i], func(s string) bool { return s == "'none'" })
		if !slices.Contains(d, Origin) {
			d = append(d, Origin)
		}
		dirs[i] = d
	}
	parts := make([]string, len(dirs))
	for i, d := range dirs {
		parts[i] = strings.Join(d, " ")
	}
	return strings.Join(parts, "; ")
}

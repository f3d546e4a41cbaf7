package handler_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/letter"
)

// recordNothing accepts every signature without storing it.
type recordNothing struct{}

func (recordNothing) Record(_ context.Context, sig *letter.Signature, _ []letter.Message) (*letter.Signature, error) {
	return sig, nil
}

func limitedHandler(t *testing.T, tweak func(*handler.Settings)) func(remoteAddr string) *http.Response {
	t.Helper()
	letters, err := letter.Load(os.DirFS("testdata/site"))
	if err != nil {
		t.Fatal(err)
	}
	s := handler.Settings{Letters: letters, Recorder: recordNothing{}, Log: quietLog(), RatePerMinute: 6, Burst: 2}
	if tweak != nil {
		tweak(&s)
	}
	h := handler.New(s)
	n := 0
	return func(remoteAddr string) *http.Response {
		n++
		v := signerForm()
		v.Set("email", "limit"+strings.Repeat("x", n)+"@example.org")
		req := httptest.NewRequest(http.MethodPost, "/api/sign", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = remoteAddr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
}

// Every address of an IPv6 /64 is one client (a home or a phone gets a
// whole /64); an IPv4 address is one client, whether it arrives as IPv4 or
// IPv4-mapped IPv6.
func TestLimitKeysByAddressOrSlash64(t *testing.T) {
	post := limitedHandler(t, nil)
	limited := func(addr string) bool { return post(addr).StatusCode == http.StatusTooManyRequests }
	if limited("[2001:db8:1:2::1]:1") || limited("[2001:db8:1:2:ffff::9]:2") {
		t.Fatal("the burst of 2 refused")
	}
	if !limited("[2001:db8:1:2:abcd::5]:3") {
		t.Fatal("a third address in the same /64 got past the burst")
	}
	if limited("[2001:db8:1:3::1]:4") {
		t.Fatal("the next /64 was limited with its neighbour")
	}
	if limited("203.0.113.9:1") || limited("[::ffff:203.0.113.9]:2") {
		t.Fatal("the burst of 2 refused")
	}
	if !limited("203.0.113.9:3") {
		t.Fatal("an IPv4 address got past its burst as IPv4-mapped IPv6")
	}
	if limited("203.0.113.10:1") {
		t.Fatal("the next IPv4 address was limited with its neighbour")
	}
}

// spy is a shared limiter that refuses, and remembers whom it was asked about.
type spy struct{ asked []netip.Prefix }

func (s *spy) Allow(_ context.Context, client netip.Prefix) (bool, time.Duration, error) {
	s.asked = append(s.asked, client)
	return false, 41500 * time.Millisecond, nil
}

// Settings.Limiter decides instead of the in-memory limiter, about the
// client's block, and its wait becomes Retry-After in whole seconds.
func TestSettingsLimiterDecides(t *testing.T) {
	s := &spy{}
	post := limitedHandler(t, func(c *handler.Settings) { c.Limiter = s })
	resp := post("[2001:db8:1:2::1]:1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "42" {
		t.Fatalf("status %d, Retry-After %q; want 429, 42", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if len(s.asked) != 1 || s.asked[0] != netip.MustParsePrefix("2001:db8:1:2::/64") {
		t.Fatalf("asked about %v", s.asked)
	}
}

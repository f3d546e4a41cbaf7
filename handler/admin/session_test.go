package admin

import (
	"net/http/httptest"
	"testing"
	"time"
)

// A session lasts twelve hours at most, and only the token makes one.
func TestSessionLifetime(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := &admin{Options: Options{Token: "organizer-token-0123456789abcdef", Now: func() time.Time { return now }}}
	cookie := a.newSession()
	with := func(v string) bool {
		r := httptest.NewRequest("GET", "/admin/", nil)
		r.Header.Set("Cookie", cookieName+"="+v)
		_, ok := a.sessionOf(r)
		return ok
	}
	if !with(cookie) {
		t.Fatal("a new session is refused")
	}
	other := &admin{Options: Options{Token: "another-token-0123456789abcdef", Now: a.Now}}
	for name, v := range map[string]string{"another token's": other.newSession(), "unsigned": "1772366400.", "garbage": "x", "empty": ""} {
		if with(v) {
			t.Errorf("a %s session is accepted", name)
		}
	}
	now = now.Add(12*time.Hour - time.Second)
	if !with(cookie) {
		t.Error("a session is refused before twelve hours")
	}
	now = now.Add(2 * time.Second)
	if with(cookie) {
		t.Error("a session is accepted after twelve hours")
	}
	if a.csrf(cookie) == a.csrf(other.newSession()) || a.csrf(cookie) == cookie {
		t.Error("form tokens are not the session's own")
	}
}

func TestChartScale(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 11: 20, 180: 200, 201: 500, 5000: 5000} {
		if got := niceCeiling(n); got != want {
			t.Errorf("niceCeiling(%d) = %d, want %d", n, got, want)
		}
	}
	if got := thousands(1234567); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
}

package handler

import (
	"testing"
	"time"
)

// The limiter refills at its rate, and forgets a client only once its
// bucket would be full again: forgetting earlier would hand out a fresh
// burst.
func TestLimiterRefillsAndForgetsOnlyFullBuckets(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	// 6 a minute (one every 10 s), bursts of 10: full again 100 s after empty.
	l := newLimiter(6.0/60, 10, func() time.Time { return now })
	take := func(key string) int {
		n := 0
		for l.allow(key) {
			n++
		}
		return n
	}
	if n := take("a"); n != 10 {
		t.Fatalf("burst: %d allowed, want 10", n)
	}
	now = now.Add(5 * time.Second)
	if l.allow("a") {
		t.Fatal("half a token refilled after 5 s, yet a request passed")
	}
	now = now.Add(5 * time.Second)
	if !l.allow("a") {
		t.Fatal("one token refilled after 10 s, yet the request was refused")
	}
	// A minute later the sweep runs (exactly then), and a's bucket, six
	// tokens short of full, must be kept: it still allows only six.
	now = now.Add(time.Minute)
	l.allow("b")
	if _, kept := l.buckets["a"]; !kept {
		t.Fatal("a bucket not yet full was forgotten")
	}
	if n := take("a"); n != 6 {
		t.Fatalf("after 60 s, %d allowed, want the 6 refilled", n)
	}
	// Once a's bucket is full again and a minute has passed, it is dropped.
	now = now.Add(2 * time.Minute)
	l.allow("b")
	if _, kept := l.buckets["a"]; kept {
		t.Fatal("a full bucket was kept: the map grows with every client")
	}
	if got := l.retryAfterSeconds(); got != 10 {
		t.Fatalf("Retry-After %d s, want 10", got)
	}
}

package handler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

func clock() (now func() time.Time, advance func(time.Duration)) {
	t := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return t }, func(d time.Duration) { t = t.Add(d) }
}

// prefix is the client block of the nth distinct IPv6 /64.
func prefix(n int) netip.Prefix {
	var b [16]byte
	b[0], b[1] = 0x20, 0x01
	for i := range 6 {
		b[2+i] = byte(n >> (8 * (5 - i)))
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// The limiter refills at its rate, and forgets a client only once its
// bucket would be full again: forgetting earlier would hand out a fresh
// burst.
func TestLimiterRefillsAndForgetsOnlyFullBuckets(t *testing.T) {
	now, advance := clock()
	// 6 a minute (one every 10 s), bursts of 10: full again 100 s after empty.
	l := newMemLimiter(10*time.Second, 10, maxClients, now)
	a, b := prefix(1), prefix(2)
	take := func(p netip.Prefix) int {
		n := 0
		for {
			ok, retry, err := l.Allow(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				if retry <= 0 || retry > 10*time.Second {
					t.Fatalf("refused with retry after %v", retry)
				}
				return n
			}
			n++
		}
	}
	allow := func(p netip.Prefix) bool { ok, _, _ := l.Allow(ctx, p); return ok }
	if n := take(a); n != 10 {
		t.Fatalf("burst: %d allowed, want 10", n)
	}
	advance(5 * time.Second)
	if ok, retry, _ := l.Allow(ctx, a); ok || retry != 5*time.Second {
		t.Fatalf("half a token refilled after 5 s: allowed %v, retry after %v; want refused, 5 s", ok, retry)
	}
	advance(5 * time.Second)
	if !allow(a) {
		t.Fatal("one token refilled after 10 s, yet the request was refused")
	}
	// A minute later the sweep runs, and a's bucket, six tokens short of
	// full, must be kept: it still allows only six.
	advance(time.Minute)
	allow(b)
	if _, kept := l.full[keyOf(a)]; !kept {
		t.Fatal("a bucket not yet full was forgotten")
	}
	if n := take(a); n != 6 {
		t.Fatalf("after 60 s, %d allowed, want the 6 refilled", n)
	}
	// Once a's bucket is full again and a minute has passed, it is dropped.
	advance(2 * time.Minute)
	allow(b)
	if _, kept := l.full[keyOf(a)]; kept {
		t.Fatal("a full bucket was kept: the map grows with every client")
	}
}

func TestClientPrefix(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"203.0.113.9", "203.0.113.9/32"},
		{"::ffff:203.0.113.9", "203.0.113.9/32"}, // IPv4-mapped counts as IPv4
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	}
	for _, tt := range tests {
		got, ok := ClientPrefix(netip.MustParseAddr(tt.addr))
		if !ok || got != netip.MustParsePrefix(tt.want) {
			t.Errorf("ClientPrefix(%s) = %v, %v; want %s", tt.addr, got, ok, tt.want)
		}
	}
	if _, ok := ClientPrefix(netip.Addr{}); ok {
		t.Error("the invalid address names a client")
	}
}

// A full table makes room for new clients (refusing them would shut out
// every new supporter), never holds more than its cap, and keeps the
// clients that have just spent their burst: flooding it with fresh
// clients does not reset an abuser's bucket.
func TestLimiterIsBoundedAndKeepsSpentBuckets(t *testing.T) {
	now, advance := clock()
	const cap = 64
	l := newMemLimiter(3*time.Second, 10, cap, now)
	abuser := prefix(0)
	for {
		if ok, _, _ := l.Allow(ctx, abuser); !ok {
			break
		}
	}
	for i := 1; i <= 100*cap; i++ {
		if i%cap == 0 {
			advance(time.Second) // a second a table: a steady flood
		}
		if ok, _, _ := l.Allow(ctx, prefix(i)); !ok {
			t.Fatalf("new client %d refused by a full table", i)
		}
		if len(l.full) > cap {
			t.Fatalf("%d buckets, cap %d", len(l.full), cap)
		}
		if i%cap == cap/2 {
			// The abuser spends each token as it comes back.
			l.Allow(ctx, abuser)
			if ok, _, _ := l.Allow(ctx, abuser); ok {
				t.Fatalf("after %d new clients the abuser's spent bucket was forgotten", i)
			}
		}
	}
}

// The memory given over to a flood comes back once it has passed.
func TestLimiterShrinksAfterAFlood(t *testing.T) {
	now, advance := clock()
	l := newMemLimiter(3*time.Second, 10, maxClients, now)
	for i := range 20000 {
		l.Allow(ctx, prefix(i))
	}
	advance(2 * time.Minute)
	l.Allow(ctx, prefix(-1))
	if len(l.full) != 1 || l.peak != 1 {
		t.Fatalf("after the flood: %d buckets, peak %d", len(l.full), l.peak)
	}
}

// failing is a shared limiter whose database is down.
type failing struct{ calls int }

func (f *failing) Allow(context.Context, netip.Prefix) (bool, time.Duration, error) {
	f.calls++
	return false, 0, errors.New("store: limit: connection refused")
}

// When the shared limiter cannot decide, the in-memory one does, and the
// log says so once a minute, without the client's address.
func TestSharedLimiterFailureFallsBackToMemory(t *testing.T) {
	var logs bytes.Buffer
	now, advance := clock()
	shared := &failing{}
	c := newClientLimits(Settings{
		RatePerMinute: 20, Burst: 10, Limiter: shared, Now: now,
		Log: slog.New(slog.NewTextHandler(&logs, nil)), ClientIP: RemoteIP,
	})
	r := httptest.NewRequest("POST", "/api/sign", nil)
	r.RemoteAddr = "203.0.113.9:4242"
	allowed := 0
	for range 15 {
		if ok, _ := c.allow(r); ok {
			allowed++
		}
	}
	if allowed != 10 || shared.calls != 15 {
		t.Fatalf("%d allowed after %d failed shared calls; want the in-memory burst of 10 after 15", allowed, shared.calls)
	}
	advance(time.Minute)
	c.allow(r)
	out := logs.String()
	if n := strings.Count(out, "shared rate limit unavailable"); n != 2 || !strings.Contains(out, "requests=15") ||
		!strings.Contains(out, "connection refused") {
		t.Fatalf("log (%d lines about it) =\n%s", n, out)
	}
	if strings.Contains(out, "203.0.113") {
		t.Fatalf("the log holds the client's address:\n%s", out)
	}
}

// A request with no client address gets no per-client bucket: sharing
// one would let one such client shut out all the others. The log counts
// them.
func TestUnknownClientsAreNotLumpedTogether(t *testing.T) {
	var logs bytes.Buffer
	now, _ := clock()
	shared := &failing{}
	c := newClientLimits(Settings{
		RatePerMinute: 20, Burst: 10, Limiter: shared, Now: now,
		Log: slog.New(slog.NewTextHandler(&logs, nil)), ClientIP: RemoteIP,
	})
	r := httptest.NewRequest("POST", "/api/sign", nil)
	r.RemoteAddr = ""
	for i := range 30 {
		if ok, _ := c.allow(r); !ok {
			t.Fatalf("request %d without an address refused", i+1)
		}
	}
	if shared.calls != 0 || len(c.memory.full) != 0 {
		t.Fatalf("a bucket was kept for unknown clients (%d shared calls, %d in memory)", shared.calls, len(c.memory.full))
	}
	if n := strings.Count(logs.String(), "client address unknown"); n != 1 {
		t.Fatalf("%d log lines for 30 unknown clients in a minute, want 1:\n%s", n, logs.String())
	}
}

// BenchmarkLimiterMemory fills the in-memory limiter with a million
// distinct clients (IPv6 /64s) and reports the heap they hold; then
// floods it with four million more and reports that the cap holds.
func BenchmarkLimiterMemory(b *testing.B) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for b.Loop() {
		before := heap()
		l := newMemLimiter(3*time.Second, 10, maxClients, time.Now)
		const n = 1_000_000
		for i := range n {
			l.Allow(ctx, prefix(i))
		}
		held := heap() - before
		if len(l.full) != n {
			b.Fatalf("%d buckets, want %d", len(l.full), n)
		}
		for i := range 4 * n {
			l.Allow(ctx, prefix(n+i))
		}
		flooded := heap() - before
		if len(l.full) > maxClients {
			b.Fatalf("%d buckets over the cap", len(l.full))
		}
		b.ReportMetric(float64(held)/n, "bytes/key")
		b.ReportMetric(float64(held)/1e6, "MB/1M-keys")
		b.ReportMetric(float64(flooded)/1e6, "MB-after-5M-keys")
		runtime.KeepAlive(l)
	}
}

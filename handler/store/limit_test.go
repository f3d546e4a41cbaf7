package store_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func limiter(t *testing.T, st *store.Store, c *fakeClock) *store.Limiter {
	t.Helper()
	// 6 a minute (one every 10 s) in bursts of 3.
	l, err := store.NewLimiter(st, secret, 6, 3, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The shared limiter is a token bucket: a burst, then one every interval,
// each client on its own, with the wait until the next token.
func TestStoreLimiterBucket(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		c := newClock()
		l := limiter(t, open(), c)
		a, b := netip.MustParsePrefix("203.0.113.9/32"), netip.MustParsePrefix("2001:db8:1:2::/64")
		allow := func(p netip.Prefix) (bool, time.Duration) {
			t.Helper()
			ok, retry, err := l.Allow(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			return ok, retry
		}
		for i := range 3 {
			if ok, _ := allow(a); !ok {
				t.Fatalf("signature %d of the burst refused", i+1)
			}
		}
		if ok, retry := allow(a); ok || retry != 10*time.Second {
			t.Fatalf("beyond the burst: allowed %v, retry after %v; want refused, 10 s", ok, retry)
		}
		if ok, _ := allow(b); !ok {
			t.Fatal("another client was refused with the first")
		}
		c.add(4 * time.Second)
		if ok, retry := allow(a); ok || retry != 6*time.Second {
			t.Fatalf("after 4 s: allowed %v, retry after %v; want refused, 6 s", ok, retry)
		}
		c.add(6 * time.Second)
		if ok, _ := allow(a); !ok {
			t.Fatal("one token back after 10 s, yet refused")
		}
		if ok, _ := allow(a); ok {
			t.Fatal("only one token came back, yet two passed")
		}
		// Long idle, the bucket is full again, not fuller.
		c.add(time.Hour)
		n := 0
		for {
			if ok, _ := allow(a); !ok {
				break
			}
			n++
		}
		if n != 3 {
			t.Fatalf("after an hour %d allowed, want the burst of 3", n)
		}
	})
}

// Two instances on one database share each client's limit, and a check
// is atomic: a burst taken all at once from both lets exactly the burst
// through.
func TestStoreLimiterIsShared(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		c := newClock()
		one, two := limiter(t, open(), c), limiter(t, open(), c)
		client := netip.MustParsePrefix("2001:db8:1:2::/64")
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := one
				if i%2 == 1 {
					l = two
				}
				ok, _, err := l.Allow(ctx, client)
				if err != nil {
					t.Error(err)
				}
				if ok {
					allowed.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := allowed.Load(); n != 3 {
			t.Fatalf("%d of 12 allowed across two instances, want the burst of 3", n)
		}
	})
}

// The table keeps a keyed hash of the client's block, never the address,
// and forgets it once its bucket is full again.
func TestStoreLimiterKeepsNoAddressAndForgets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		c := newClock()
		st := open()
		l := limiter(t, st, c)
		v4, v6 := netip.MustParsePrefix("203.0.113.9/32"), netip.MustParsePrefix("2001:db8:1:2::/64")
		for _, p := range []netip.Prefix{v4, v6} {
			if _, _, err := l.Allow(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		keys := func() []string {
			t.Helper()
			rows, err := st.DB().QueryContext(ctx, `SELECT client FROM client_limits ORDER BY client`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					t.Fatal(err)
				}
				out = append(out, k)
			}
			return out
		}
		stored := keys()
		if len(stored) != 2 {
			t.Fatalf("rows %q, want 2", stored)
		}
		for _, k := range stored {
			for _, leak := range []string{"203.0.113.9", "cb007109", "2001:db8", "20010db8"} {
				if strings.Contains(strings.ToLower(k), leak) {
					t.Fatalf("row key %q holds the address", k)
				}
			}
		}
		// Another secret gives other keys: they depend on it.
		other, _ := store.NewLimiter(st, bytes.Repeat([]byte("x"), 32), 6, 3, c.now)
		other.Allow(ctx, v4)
		if n := len(keys()); n != 3 {
			t.Fatalf("%d rows after the same client under another secret, want 3", n)
		}
		// A bucket that took one token is full again 10 s later; the next
		// purge (at most a minute on) deletes every such row.
		c.add(time.Minute)
		l.Allow(ctx, netip.MustParsePrefix("198.51.100.1/32"))
		if got := keys(); len(got) != 1 {
			t.Fatalf("%d rows a minute on, want only the newest client's", len(got))
		}
		if _, err := store.NewLimiter(st, []byte("short"), 6, 3, nil); err == nil {
			t.Fatal("a 5-byte secret was taken")
		}
	})
}

package handler

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Limiter keeps the per-client limit on signatures.
type Limiter interface {
	// Allow takes one signature from client's allowance. When it refuses,
	// retryAfter says when the next one will be taken. An error means it
	// could not decide (its database is down, say); the handler then
	// decides with its in-memory limiter.
	Allow(ctx context.Context, client netip.Prefix) (ok bool, retryAfter time.Duration, err error)
}

// ClientPrefix is the block of addresses limited as one client: the IPv4
// address, or the IPv6 /64, since one home or phone is given a whole /64
// and limiting single IPv6 addresses would limit nothing. IPv4-mapped IPv6
// addresses count as IPv4. ok is false for the invalid address.
func ClientPrefix(addr netip.Addr) (p netip.Prefix, ok bool) {
	if !addr.IsValid() {
		return netip.Prefix{}, false
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return netip.PrefixFrom(addr, 32), true
	}
	p, err := addr.Prefix(64)
	return p, err == nil
}

// RemoteIP is the connection's address without its port; the invalid
// address when RemoteAddr holds none.
func RemoteIP(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr()
	}
	addr, _ := netip.ParseAddr(r.RemoteAddr)
	return addr
}

// clientLimits applies the per-client limit to a request: with
// Settings.Limiter when set, else (and whenever it fails) in memory.
type clientLimits struct {
	clientIP func(*http.Request) netip.Addr
	shared   Limiter
	memory   *memLimiter
	log      *slog.Logger
	now      func() time.Time
	unknown  tally // requests without a client address
	failed   tally // requests the shared limiter could not decide
}

func newClientLimits(cfg Settings) *clientLimits {
	interval := time.Duration(float64(time.Minute) / cfg.RatePerMinute)
	return &clientLimits{
		clientIP: cfg.ClientIP, shared: cfg.Limiter, log: cfg.Log, now: cfg.Now,
		memory: newMemLimiter(interval, cfg.Burst, maxClients, cfg.Now),
	}
}

// allow reports whether r's client may sign now and, if not, after how
// many seconds it may.
func (c *clientLimits) allow(r *http.Request) (bool, int) {
	client, known := ClientPrefix(c.clientIP(r))
	if !known {
		// Lumping every such request under one key would let one of them
		// shut out all the others; there is no one to limit, and the log
		// says how often that happens (on Netlify it should not).
		if n, ok := c.unknown.add(c.now()); ok {
			c.log.Warn("sign: client address unknown, no per-client limit applied", "requests", n)
		}
		return true, 0
	}
	var ok bool
	var retry time.Duration
	var err error
	if c.shared != nil {
		ok, retry, err = c.shared.Allow(r.Context(), client)
		if err != nil {
			if n, log := c.failed.add(c.now()); log {
				c.log.Error("sign: shared rate limit unavailable, limiting in memory", "requests", n, "error", err.Error())
			}
		}
	}
	if c.shared == nil || err != nil {
		ok, retry, _ = c.memory.Allow(r.Context(), client)
	}
	return ok, max(1, int(math.Ceil(retry.Seconds())))
}

// tally counts an event and says, at most once a minute, to log it, with
// how many happened since it last did: a flood must not flood the log.
type tally struct {
	mu     sync.Mutex
	n      int
	logged time.Time
}

func (t *tally) add(now time.Time) (n int, log bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if !t.logged.IsZero() && now.Sub(t.logged) < time.Minute {
		return 0, false
	}
	n, t.n, t.logged = t.n, 0, now
	return n, true
}

// maxClients caps the clients the in-memory limiter remembers, so that
// its memory is bounded (about 84 MB at most: see BenchmarkLimiterMemory)
// however many addresses a flood comes from.
const maxClients = 1 << 20

// memLimiter is a token bucket per client, kept in memory, in the form of
// the generic cell rate algorithm: a bucket is one number, the time at
// which it will be full again. Each signature moves that time one
// interval later; a signature that would move it more than a burst of
// intervals past now is refused.
type memLimiter struct {
	mu       sync.Mutex
	interval time.Duration // one token back
	window   time.Duration // burst × interval: an empty bucket's time to full
	max      int
	now      func() time.Time
	epoch    time.Time
	full     map[bucketKey]time.Duration // since epoch
	peak     int                         // largest len(full) since the map was made
	swept    time.Duration
}

func newMemLimiter(interval time.Duration, burst, capacity int, now func() time.Time) *memLimiter {
	interval = max(interval, 1)
	return &memLimiter{
		interval: interval, window: time.Duration(burst) * interval, max: capacity, now: now,
		epoch: now(), full: map[bucketKey]time.Duration{},
	}
}

// Allow never fails.
func (l *memLimiter) Allow(_ context.Context, client netip.Prefix) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().Sub(l.epoch)
	l.sweep(now)
	key := keyOf(client)
	full, known := l.full[key]
	if !known && len(l.full) >= l.max {
		l.evict(now)
	}
	next := max(full, now) + l.interval
	if next-now > l.window {
		return false, next - l.window - now, nil
	}
	l.full[key] = next
	l.peak = max(l.peak, len(l.full))
	return true, 0, nil
}

// bucketKey is a client's prefix as the map keeps it: netip.Prefix holds
// a pointer (its zone), and a map without pointers is smaller and costs
// the garbage collector nothing to scan.
type bucketKey struct {
	addr [16]byte
	bits uint8
}

func keyOf(p netip.Prefix) bucketKey {
	p = p.Masked()
	return bucketKey{p.Addr().As16(), uint8(p.Bits())}
}

// sweep drops, once a minute, the buckets that are full again: they hold
// nothing a new bucket would not. Forgetting one earlier would hand its
// client a fresh burst.
func (l *memLimiter) sweep(now time.Duration) {
	if now-l.swept < time.Minute {
		return
	}
	l.swept = now
	for k, full := range l.full {
		if full <= now {
			delete(l.full, k)
		}
	}
	// A Go map keeps its peak size; after a flood, copy the survivors to
	// a new one so the memory is given back.
	if l.peak > 4096 && len(l.full) < l.peak/4 {
		fresh := make(map[bucketKey]time.Duration, len(l.full))
		for k, v := range l.full {
			fresh[k] = v
		}
		l.full, l.peak = fresh, len(fresh)
	}
}

// evict makes room when the table is full: it drops the buckets that are
// full again, then, if that frees less than an eighth of the table, the
// fullest buckets (those that will be full soonest) until an eighth is
// free. An eighth at a time keeps the cost of these passes over the
// table constant per new client.
//
// Why the fullest: forgetting a bucket gives its client back what it had
// spent, so the fullest ones give away least. A client an abuser wants
// forgotten is one that has just spent its burst; its bucket is the
// emptiest there is and goes last. To push it out the abuser must first
// spend more than its own burst from each of seven eighths of a million
// other clients, far more signatures than the burst it would win back.
// Evicting the least recently used instead would forget a client that
// spent its whole burst a while ago before one that took a single token
// just now; refusing new clients when full would let anyone with a
// million addresses (one IPv6 /44) shut out every new supporter.
func (l *memLimiter) evict(now time.Duration) {
	const bins = 64
	width := max(l.window/bins, 1)
	var hist [bins]int
	for k, full := range l.full {
		if full <= now {
			delete(l.full, k)
			continue
		}
		hist[min(bins-1, int((full-now-1)/width))]++
	}
	need := len(l.full) - (l.max - max(1, l.max/8))
	if need <= 0 {
		return
	}
	bin := 0
	for n := 0; bin < bins-1; bin++ {
		if n += hist[bin]; n >= need {
			break
		}
	}
	cut := now + time.Duration(bin+1)*width
	for k, full := range l.full {
		if full <= cut || bin == bins-1 {
			delete(l.full, k)
		}
	}
}

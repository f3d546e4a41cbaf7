package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Limiter keeps the per-client limit on signatures in the database, so
// that every process and function instance on it shares one limit. It is
// the same token bucket as the handler's in-memory limiter (GCRA: a
// bucket is the time it will be full again), one row per client, decided
// by one atomic statement. A row holds a keyed hash of the client's
// block, never the address, and is deleted once its bucket is full again.
type Limiter struct {
	store    *Store
	secret   []byte
	interval int64 // milliseconds per token
	window   int64 // burst × interval
	now      func() time.Time

	mu     sync.Mutex
	calls  int
	purged time.Time
}

// MinSecret is the shortest secret NewLimiter takes: with a short key
// the hashes could be reversed by trying every IPv4 address.
const MinSecret = 16

// NewLimiter returns a limiter allowing perMinute signatures a minute per
// client in bursts of burst, that keys its rows with HMAC-SHA256 under
// secret. now is the clock; nil means time.Now.
func NewLimiter(s *Store, secret []byte, perMinute float64, burst int, now func() time.Time) (*Limiter, error) {
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("store: limiter: the secret must be at least %d bytes", MinSecret)
	}
	if !(perMinute > 0) || burst < 1 {
		return nil, errors.New("store: limiter: the rate and burst must be positive")
	}
	if now == nil {
		now = time.Now
	}
	interval := max(1, int64(60000/perMinute))
	return &Limiter{store: s, secret: secret, interval: interval, window: int64(burst) * interval, now: now}, nil
}

// Allow takes one signature from client's bucket (handler.Limiter).
func (l *Limiter) Allow(ctx context.Context, client netip.Prefix) (bool, time.Duration, error) {
	now := l.now().UnixMilli()
	if err := l.purge(ctx, now); err != nil {
		return false, 0, err
	}
	// Allowed when the bucket, after one more signature, is full again no
	// later than a burst from now: then it is pushed one interval later
	// (from now, if it was full already). A refused check leaves it as it
	// was, and says so in allowed.
	var full int64
	var allowed int
	err := l.store.db.QueryRowContext(ctx, `INSERT INTO client_limits (client, full_at, allowed) VALUES ($1, $2, 1)
		ON CONFLICT (client) DO UPDATE SET
			allowed = CASE WHEN client_limits.full_at <= $3 THEN 1 ELSE 0 END,
			full_at = CASE WHEN client_limits.full_at > $3 THEN client_limits.full_at
				WHEN client_limits.full_at < $4 THEN $2
				ELSE client_limits.full_at + $5 END
		RETURNING full_at, allowed`,
		l.key(client), now+l.interval, now+l.window-l.interval, now, l.interval).Scan(&full, &allowed)
	if err != nil {
		return false, 0, fmt.Errorf("store: limit: %w", err)
	}
	if allowed == 1 {
		return true, 0, nil
	}
	return false, time.Duration(full-(l.window-l.interval)-now) * time.Millisecond, nil
}

// key is the client's row key: a keyed hash of its block, so the table
// never holds an address, and without the secret one cannot be found by
// hashing every IPv4 address.
func (l *Limiter) key(client netip.Prefix) string {
	b, _ := client.Masked().MarshalBinary()
	m := hmac.New(sha256.New, l.secret)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// purgeBatch bounds one purge, so that the request that runs it after a
// flood is not held up deleting a million rows.
const purgeBatch = 1000

// purge deletes rows whose buckets are full again (they hold nothing a
// new row would not), once a minute and every 64th call: often enough to
// keep up with a flood, a batch at a time.
func (l *Limiter) purge(ctx context.Context, now int64) error {
	l.mu.Lock()
	l.calls++
	due := l.calls%64 == 0 || l.now().Sub(l.purged) >= time.Minute
	if due {
		l.purged = l.now()
	}
	l.mu.Unlock()
	if !due {
		return nil
	}
	_, err := l.store.db.ExecContext(ctx, `DELETE FROM client_limits WHERE client IN
		(SELECT client FROM client_limits WHERE full_at <= $1 LIMIT $2)`, now, purgeBatch)
	if err != nil {
		return fmt.Errorf("store: limit: purge: %w", err)
	}
	return nil
}

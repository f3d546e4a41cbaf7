package queue

import (
	"context"
	"sync"
	"time"
)

// pacer spaces sends to a rate shared by all workers of a process, and
// holds them all back after the mail service says it is overloaded.
type pacer struct {
	mu          sync.Mutex
	interval    time.Duration
	next        time.Time // earliest start of the next send
	pausedUntil time.Time
}

func newPacer(perSecond float64) *pacer {
	p := &pacer{}
	if perSecond > 0 {
		// Evenly spaced sends at exactly the limit still put limit+1 in some
		// one-second window, and network jitter bunches them: keep 2 % below.
		p.interval = time.Duration(float64(time.Second) / (perSecond * 0.98))
	}
	return p
}

// wait blocks until this worker's turn.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// pause holds every send back for d.
func (p *pacer) pause(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(d); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
}

// paused is how long sends are still held back.
func (p *pacer) paused() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(time.Until(p.pausedUntil), 0)
}

package queue

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"campaignkit/handler/store"
)

// group commits together the signatures that arrive while a batch is
// being committed (group commit, store.RecordAll): SQLite has one writer
// and each commit writes the log, so one transaction for many signatures
// takes in several times more than one each. Nobody waits for a batch to
// fill: a signature arriving at a quiet moment is committed at once.
type group struct {
	commit   func([]*signing)
	most     int // signatures in one batch at most
	parallel int // batches committing at once

	mu      sync.Mutex
	pending []*signing
	running int

	batches, signatures atomic.Int64 // committed so far
	busy                atomic.Int64 // nanoseconds spent committing
}

// batchMost bounds a batch, and with it the wait of its first signature.
const batchMost = 64

// postgresBatches commit at once on Postgres, each on its own connection:
// there a batch waits mostly on its round trips to the server, not on a
// single writer. With Postgres on the bench's own 2 cores, 2 took in the
// most (1: 15 % less, 4: 20 % less, 8: half); over a network each round
// trip is longer and more batches at once make up for it.
const postgresBatches = 4

// signing is one signature waiting for its batch, and its outcome.
type signing struct {
	store.Signing
	ctx    context.Context
	inline []string // its letters to send at once (Options.TryInline)
	jobs   []int64  // and their jobs, in the same order
	done   chan struct{}
}

// do commits s with whatever else is waiting and returns once its batch
// is committed (or it is recorded alone after the batch failed).
func (g *group) do(s *signing) {
	s.done = make(chan struct{})
	g.mu.Lock()
	g.pending = append(g.pending, s)
	if g.running < g.parallel {
		g.running++
		go g.run()
	}
	g.mu.Unlock()
	<-s.done
}

// run commits batches while signatures are waiting.
func (g *group) run() {
	for {
		g.mu.Lock()
		n := min(len(g.pending), g.most)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		batch := make([]*signing, n)
		copy(batch, g.pending)
		g.pending = append(g.pending[:0], g.pending[n:]...)
		g.mu.Unlock()
		t0 := time.Now()
		g.commitSafely(batch)
		g.busy.Add(int64(time.Since(t0)))
		g.batches.Add(1)
		g.signatures.Add(int64(n))
	}
}

// commitSafely answers every signature of the batch, even if committing
// panics: each would otherwise wait for ever (net/http recovered such a
// panic when each request committed its own).
func (g *group) commitSafely(batch []*signing) {
	defer func() {
		if p := recover(); p != nil {
			for _, s := range batch {
				s.First, s.Err = nil, fmt.Errorf("queue: record: panic: %v", p)
			}
		}
		for _, s := range batch {
			close(s.done)
		}
	}()
	g.commit(batch)
}

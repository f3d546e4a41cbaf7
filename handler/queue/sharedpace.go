package queue

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"campaignkit/handler/store"
)

// pace is what a worker asks before each send: the process's own pacer
// (SQLite: one machine, one process sends) or the campaign's, kept in
// Postgres and shared by every process (sharedPacer).
type pace interface {
	// wait blocks until this worker's turn to send.
	wait(ctx context.Context) error
	// pause holds every send back for d.
	pause(d time.Duration)
	// paused is how long sends are still held back.
	paused() time.Duration
}

// newPace returns the pace for a process of the queue on st.
func newPace(st *store.Store, perSecond float64, workers int, log *slog.Logger) pace {
	if st.Postgres() {
		return newSharedPacer(st, perSecond, workers, log)
	}
	return newPacer(perSecond)
}

// errPaused ends a wait that found sends paused: the job waits in the
// queue, not in a worker.
var errPaused = errors.New("queue: sends are paused")

// Tuning of the shared pacer.
const (
	// batchHorizon bounds how far ahead one reservation reaches: slots a
	// process holds still go out after another process is told to pause.
	batchHorizon = 100 * time.Millisecond
	// pauseCheck is how often, without a rate, a process reads whether
	// another was told to pause.
	pauseCheck = 250 * time.Millisecond
	// errorPause holds a process's sends back after the database failed to
	// answer for the pace: no send goes out unpaced.
	errorPause = time.Second
	// clockRefresh is how long a mapping of the database's clock onto this
	// process's is kept before a worse one may replace it.
	clockRefresh = 10 * time.Second
)

// sharedPacer spaces the sends of every process on one Postgres database
// to CAMPAIGN_SEND_RATE together. Each process reserves send times (slots)
// from one row (store.ReserveSends), a batch at a time, at most
// batchHorizon ahead: the batch doubles while the process uses every slot
// it took (a backlog) and halves when slots pass unused, so round trips
// stay well below one a send without holding slots another process could
// use. A pause is written to the same row, and every process finds it at
// its next reservation.
//
// The slots are in the database's clock. Each process maps it onto its own
// from the reservation with the shortest round trip seen lately (as NTP
// does): a reply that waited for the CPU would otherwise shift a whole
// batch of slots onto another process's, and the stand-in, like Mailgun,
// counts calls a second. A worker that wakes well after its slot takes
// another, for the same reason.
type sharedPacer struct {
	store    *store.Store
	interval time.Duration // zero: no rate, only the shared pause
	batch    int           // most slots one reservation takes
	log      *slog.Logger

	turn    chan struct{} // one worker at a time takes a slot (and reserves)
	waiting atomic.Int64  // workers that need a slot

	mu          sync.Mutex
	slots       []time.Time // reserved, not yet taken, in order
	want        int         // slots the next reservation takes, at most batch
	dropped     bool        // a slot passed unused since the last reservation
	pausedUntil time.Time
	checked     time.Time // when the shared pause was last read (no rate)
	warned      time.Time
	clock       clockSample // the database's clock against this process's
}

// clockSample is a database time and the local time it corresponds to,
// taken as the middle of the round trip that read it.
type clockSample struct {
	db, local time.Time
	rtt       time.Duration
}

func newSharedPacer(st *store.Store, perSecond float64, workers int, log *slog.Logger) *sharedPacer {
	p := &sharedPacer{store: st, batch: 1, want: 1, log: log, turn: make(chan struct{}, 1)}
	if perSecond > 0 {
		// 2 % below the rate, as the process's own pacer (newPacer).
		p.interval = time.Duration(float64(time.Second) / (perSecond * 0.98))
		p.interval = max(p.interval, time.Microsecond) // the row's unit
		p.batch = max(1, min(workers, int(batchHorizon/p.interval)))
	}
	return p
}

func (p *sharedPacer) wait(ctx context.Context) error {
	for try := 1; ; try++ {
		p.waiting.Add(1)
		at, err := p.take(ctx)
		p.waiting.Add(-1)
		if err != nil {
			return err
		}
		if d := time.Until(at); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		// Told to pause while waiting for the slot: keep it back.
		if p.paused() > 0 {
			return errPaused
		}
		if time.Since(at) <= p.slack() || try == 2 {
			return nil
		}
		// Woke late (the machine is busy): sent now, it would bunch with
		// the slots after it. Once only: on a machine always that busy,
		// late is better than never.
	}
}

// slack is how late after its slot a send may still go.
func (p *sharedPacer) slack() time.Duration { return max(2*p.interval, 2*time.Millisecond) }

// take returns this worker's send time, reserving slots when the process
// has none left.
func (p *sharedPacer) take(ctx context.Context) (time.Time, error) {
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	defer func() { <-p.turn }()
	if p.paused() > 0 {
		return time.Time{}, errPaused
	}
	if p.interval == 0 {
		return time.Now(), p.checkPause(ctx)
	}
	if at, ok := p.nextSlot(); ok {
		return at, nil
	}
	p.mu.Lock()
	if p.dropped {
		p.want = max(1, p.want/2)
	} else {
		p.want = min(p.batch, p.want*2)
	}
	p.dropped = false
	n := min(max(int(p.waiting.Load()), p.want), p.batch)
	p.mu.Unlock()
	asked := time.Now()
	r, err := p.store.ReserveSends(ctx, n, p.interval)
	got := time.Now()
	if err != nil {
		return time.Time{}, p.failed(ctx, err)
	}
	p.mu.Lock()
	if rtt := got.Sub(asked); p.clock.local.IsZero() || rtt <= p.clock.rtt || got.Sub(p.clock.local) > clockRefresh {
		p.clock = clockSample{db: r.Now, local: asked.Add(rtt / 2), rtt: rtt}
	}
	local := func(t time.Time) time.Time { return p.clock.local.Add(t.Sub(p.clock.db)) }
	if r.Paused() {
		p.mu.Unlock()
		p.hold(local(r.PausedUntil))
		return time.Time{}, errPaused
	}
	for i := range n {
		p.slots = append(p.slots, local(r.First.Add(time.Duration(i)*p.interval)))
	}
	p.mu.Unlock()
	at, _ := p.nextSlot()
	return at, nil
}

// nextSlot takes the earliest reserved slot still usable. A slot left
// behind by more than an interval (no worker wanted it in time) is
// dropped: sent now, it would bunch with the next process's.
func (p *sharedPacer) nextSlot() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	late := time.Now().Add(-p.interval)
	for len(p.slots) > 0 {
		at := p.slots[0]
		p.slots = p.slots[1:]
		if !at.Before(late) {
			return at, true
		}
		p.dropped = true
	}
	return time.Time{}, false
}

// checkPause reads the shared pause at most every pauseCheck (no rate:
// nothing else brings it).
func (p *sharedPacer) checkPause(ctx context.Context) error {
	p.mu.Lock()
	due := time.Since(p.checked) >= pauseCheck
	if due {
		p.checked = time.Now()
	}
	p.mu.Unlock()
	if !due {
		return nil
	}
	d, err := p.store.SendsPaused(ctx)
	if err != nil {
		return p.failed(ctx, err)
	}
	if d > 0 {
		p.hold(time.Now().Add(d))
		return errPaused
	}
	return nil
}

// failed holds this process back briefly when the pace could not be read
// (the database is down or slow): better late than past the plan's rate.
func (p *sharedPacer) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	p.hold(time.Now().Add(errorPause))
	p.mu.Lock()
	warn := time.Since(p.warned) >= time.Minute
	if warn {
		p.warned = time.Now()
	}
	p.mu.Unlock()
	if warn {
		p.log.Warn("the shared sending pace could not be read: sends held back", "error", err.Error())
	}
	return errPaused
}

// hold pauses this process's sends until t and drops its slots, which
// would fall in the pause.
func (p *sharedPacer) hold(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.pausedUntil) {
		p.pausedUntil = t
	}
	p.slots = nil
}

func (p *sharedPacer) pause(d time.Duration) {
	p.hold(time.Now().Add(d))
	// Bounded: the worker calling it holds a job.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.store.PauseSends(ctx, d); err != nil {
		p.log.Warn("the pause could not be shared with the other processes", "error", err.Error())
	}
}

func (p *sharedPacer) paused() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(time.Until(p.pausedUntil), 0)
}

// Package queue makes delivery durable: each message's delivery is a River
// job inserted in the same transaction as the signature, and workers send
// them with retries, backoff and a shared sending rate. It runs on the
// store's database: SQLite on one machine, Postgres for many.
package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
	"campaignkit/handler/store"
)

// DeliverArgs is the job that delivers one message. A message has one job:
// its job is inserted in the transaction that moves it to queued (signed,
// confirmed, released), and a message moves there once. The jobs are not
// River-unique: the unique key's index took a page of its own for each job
// (a random hash), a third of what a signature wrote to SQLite; the worker
// sends only a message still queued.
type DeliverArgs struct {
	MessageID string `json:"message_id"`
}

// Kind names the job in River's tables.
func (DeliverArgs) Kind() string { return "deliver_message" }

// InsertOpts puts the job on the delivery queue, behind the emails that ask signers to confirm (confirmFirst).
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, Priority: 2}
}

// confirmFirst sends the email that asks a signer to confirm before any
// letter waiting: past the plan's sending rate the letters queue up, and
// behind them a signer waited hours of a viral day for the email, while a
// letter's wait costs no one a thing to do.
var confirmFirst = &river.InsertOpts{Priority: 1}

// ExpireArgs is the hourly job that deletes signatures left unconfirmed
// past their link's life (store.Expire).
type ExpireArgs struct{}

// Kind names the job in River's tables.
func (ExpireArgs) Kind() string { return "expire_unconfirmed" }

// InsertOpts puts it on the delivery queue, once at a time.
func (ExpireArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

// QueueName is River's queue for deliveries.
const QueueName = "deliver"

// Options tune the queue. Zero values take the defaults.
type Options struct {
	// Workers is how many messages one process sends at once; zero makes
	// an insert-only queue (the handler of a process that does not send).
	Workers int
	// SendRate caps messages per second (CAMPAIGN_SEND_RATE): on Postgres
	// across every process of the campaign, on SQLite across this
	// process's workers; zero means no cap.
	SendRate float64
	// MaxAttempts before a message is given up as failed (default 1500:
	// about a day of retries at the cap).
	MaxAttempts int
	// JobTimeout bounds one attempt (default 60 s); RescueAfter is when a
	// job left running by a dead process is tried again (default 2 min).
	JobTimeout  time.Duration
	RescueAfter time.Duration
	// PollInterval is how often workers look for jobs inserted by other
	// processes (default 1 s).
	PollInterval time.Duration
	// TryInline, when set, sends each new message at once within this
	// budget after the commit (a Netlify function, where no worker runs
	// between invocations). Its job waits RescueAfter, and finds the
	// message sent, or sends it then.
	TryInline time.Duration
	// PollOnly keeps River from LISTEN, which a transaction-mode pooler
	// (PgBouncer, Neon's and Supabase's) does not carry; workers poll.
	PollOnly bool
	// Limits are the campaign's ceiling and how long confirmation links
	// work; a process with workers deletes signatures unconfirmed past it.
	Limits store.Limits
	// Retention is how long a signature's personal data is kept; a
	// process with workers deletes it after (default store.DefaultRetention).
	Retention time.Duration
	Log       *slog.Logger
}

func (o *Options) defaults() {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 1500
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = time.Minute
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = 2 * time.Minute
	}
	// A job still sending or recording must never look abandoned.
	o.JobTimeout = max(o.JobTimeout, deliver.RecordBudget+time.Second)
	o.RescueAfter = max(o.RescueAfter, o.JobTimeout+deliver.RecordBudget+time.Second)
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	o.PollInterval = max(o.PollInterval, 20*time.Millisecond)
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// Queue records signatures with their delivery jobs and works the jobs.
type Queue struct {
	store   *store.Store
	deliver *deliver.Deliverer
	client  *river.Client[*sql.Tx]
	opts    Options
	started bool

	group *group

	heldMu     sync.Mutex
	held       int
	heldLogged time.Time
}

// Migrate brings River's tables up to date on the store's database.
func Migrate(ctx context.Context, st *store.Store) error {
	m, err := rivermigrate.New(st.QueueDriver(), &rivermigrate.Config{Logger: quiet()})
	if err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	return nil
}

// quiet is River's own logger: only its warnings and errors.
func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// New returns a queue on the store's database; d sends the messages (its
// BackoffCap paces retries). Call Migrate first.
func New(st *store.Store, d *deliver.Deliverer, opts Options) (*Queue, error) {
	opts.defaults()
	q := &Queue{store: st, deliver: d, opts: opts}
	cfg := &river.Config{
		Logger:               quiet(),
		MaxAttempts:          opts.MaxAttempts,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.RescueAfter,
		FetchPollInterval:    opts.PollInterval,
		// River fetches at most once per cooldown, up to one job per free
		// worker: its default (100 ms) caps a process at 10 fetches a second,
		// below the send rates Mailgun plans allow.
		FetchCooldown: 20 * time.Millisecond,
		RetryPolicy:   &backoff{cap: d.BackoffCap},
		// Completed jobs are not needed: the message row keeps its state.
		CompletedJobRetentionPeriod: time.Hour,
		PollOnly:                    opts.PollOnly,
	}
	if opts.Workers > 0 {
		workers := river.NewWorkers()
		river.AddWorker(workers, &worker{d: d, pacer: newPace(st, opts.SendRate, opts.Workers, opts.Log)})
		river.AddWorker(workers, &expirer{store: st, ttl: opts.Limits.ConfirmTTL, log: opts.Log})
		cfg.Workers = workers
		cfg.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return ExpireArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true})}
		addPurger(workers, cfg, st, opts)
		cfg.Queues = map[string]river.QueueConfig{QueueName: {MaxWorkers: opts.Workers}}
	}
	client, err := river.NewClient(st.QueueDriver(), cfg)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q.client = client
	q.group = &group{commit: q.recordAll, most: batchMost, parallel: 1}
	if st.Postgres() {
		q.group.parallel = postgresBatches
	}
	return q, nil
}

// Record commits the signature, its messages and a delivery job for each
// message queued (not for letters awaiting confirmation or held) in one
// transaction, shared with the signatures that arrive at the same time
// (group commit); it returns once that transaction is committed. The email
// asking the signer to confirm is never sent inline: left to the workers,
// it takes no time of the answer, which is then the same whether it was
// mailed or throttled.
func (q *Queue) Record(ctx context.Context, sig *letter.Signature, msgs []letter.Message) (*letter.Signature, error) {
	s := &signing{Signing: store.Signing{Sig: sig, Msgs: msgs}, ctx: ctx}
	q.group.do(s)
	if s.Err == nil {
		q.logHeld(sig)
		q.tryInline(ctx, s.inline, s.jobs)
	}
	return s.First, s.Err
}

// Batches reports how many batches Record committed, how many signatures
// they held, and how long committing them took in all (for benchmarks).
func (q *Queue) Batches() (batches, signatures int64, busy time.Duration) {
	return q.group.batches.Load(), q.group.signatures.Load(), time.Duration(q.group.busy.Load())
}

// recordAll commits a batch of signatures with their delivery jobs, all
// inserted at once.
func (q *Queue) recordAll(batch []*signing) {
	// The batch is everyone's: no one supporter leaving cuts it short.
	ctx := context.WithoutCancel(batch[0].ctx)
	all := make([]*store.Signing, 0, len(batch))
	of := make(map[*store.Signing]*signing, len(batch))
	for _, s := range batch {
		if err := s.ctx.Err(); err != nil {
			s.Err = err
			continue
		}
		all = append(all, &s.Signing)
		of[&s.Signing] = s
	}
	q.store.RecordAll(ctx, all, q.opts.Limits, func(tx *sql.Tx, recorded []*store.Signing) error {
		var inlineOpts *river.InsertOpts
		if q.opts.TryInline > 0 {
			// The process sends at once; the job finds the message sent,
			// or sends it after RescueAfter.
			inlineOpts = &river.InsertOpts{ScheduledAt: time.Now().Add(q.opts.RescueAfter)}
		}
		var params []river.InsertManyParams
		for _, g := range recorded {
			s := of[g]
			s.inline, s.jobs = nil, nil
			for _, m := range g.Msgs {
				switch {
				case m.State != letter.StateQueued:
				case m.Kind == letter.KindConfirm:
					params = append(params, river.InsertManyParams{Args: DeliverArgs{MessageID: m.ID}, InsertOpts: confirmFirst})
				default:
					s.inline = append(s.inline, m.ID)
					params = append(params, river.InsertManyParams{Args: DeliverArgs{MessageID: m.ID}, InsertOpts: inlineOpts})
				}
			}
		}
		if len(params) == 0 {
			return nil
		}
		if q.opts.TryInline == 0 {
			// No job ids needed: River's insert that returns none is the
			// cheaper by a third of the whole signature on SQLite (it reads
			// back no rows).
			if _, err := q.client.InsertManyFastTx(ctx, tx, params); err != nil {
				return fmt.Errorf("queue: enqueue: %w", err)
			}
			return nil
		}
		res, err := q.client.InsertManyTx(ctx, tx, params)
		if err != nil {
			return fmt.Errorf("queue: enqueue: %w", err)
		}
		{
			jobs := make(map[string]int64, len(res))
			for _, r := range res {
				var args DeliverArgs
				if err := json.Unmarshal(r.Job.EncodedArgs, &args); err != nil {
					return fmt.Errorf("queue: enqueue: %w", err)
				}
				jobs[args.MessageID] = r.Job.ID
			}
			for _, g := range recorded {
				s := of[g]
				for _, id := range s.inline {
					s.jobs = append(s.jobs, jobs[id])
				}
			}
		}
		return nil
	})
}

// Pending returns the signature a confirmation link names, with its
// letters as they will go out.
func (q *Queue) Pending(ctx context.Context, tokenHash string) (*letter.Signature, []letter.Message, error) {
	return q.store.Pending(ctx, tokenHash, q.opts.Limits.ConfirmTTL)
}

// Confirm confirms a signature (store.Confirm) and commits the delivery
// jobs of its letters with it.
func (q *Queue) Confirm(ctx context.Context, tokenHash string) (*letter.Signature, error) {
	var queued []string
	var jobs []int64
	sig, err := q.store.Confirm(ctx, tokenHash, q.opts.Limits, func(tx *sql.Tx, ids []string) (err error) {
		queued = ids
		jobs, err = q.enqueue(ctx, tx, ids)
		return err
	})
	if err == nil {
		q.logHeld(sig)
		q.tryInline(ctx, queued, jobs)
	}
	return sig, err
}

// Release queues the letters of up to limit held signatures of a letter
// (of every letter when letterID is empty), oldest first.
func (q *Queue) Release(ctx context.Context, letterID string, limit int) (int, error) {
	return q.store.Release(ctx, letterID, limit, func(tx *sql.Tx, ids []string) error {
		_, err := q.enqueue(ctx, tx, ids)
		return err
	})
}

// logHeld says, at most once a minute, that the campaign is past its
// ceiling and letters wait for an organizer.
func (q *Queue) logHeld(sig *letter.Signature) {
	if sig.State != letter.SignatureHeld || sig.Hold == letter.HoldReview {
		return
	}
	q.heldMu.Lock()
	defer q.heldMu.Unlock()
	q.held++
	if time.Since(q.heldLogged) < time.Minute {
		return
	}
	q.opts.Log.Warn("past CAMPAIGN_MAX_SIGN_RATE: letters are held until an organizer releases them (campaign release)",
		"held_since_last_warning", q.held, "ceiling_per_minute", q.opts.Limits.Ceiling)
	q.held, q.heldLogged = 0, time.Now()
}

// enqueue inserts one delivery job per message id in tx. Each id must be
// one that tx has just moved to queued (store's moveMessages, an UPDATE
// from another state): that is what gives a message one job, the jobs
// being no longer River-unique (DeliverArgs). With TryInline
// the jobs wait RescueAfter: the process sends at once, and the job finds
// the message sent, or sends it then.
func (q *Queue) enqueue(ctx context.Context, tx *sql.Tx, ids []string) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var opts *river.InsertOpts
	if q.opts.TryInline > 0 {
		opts = &river.InsertOpts{ScheduledAt: time.Now().Add(q.opts.RescueAfter)}
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: DeliverArgs{MessageID: id}, InsertOpts: opts}
	}
	if q.opts.TryInline == 0 {
		// No job ids needed: the cheaper insert (see recordAll).
		if _, err := q.client.InsertManyFastTx(ctx, tx, params); err != nil {
			return nil, fmt.Errorf("queue: enqueue: %w", err)
		}
		return nil, nil
	}
	res, err := q.client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return nil, fmt.Errorf("queue: enqueue: %w", err)
	}
	// InsertManyTx returns one job per message, in order.
	jobs := make([]int64, len(res))
	for i, r := range res {
		jobs[i] = r.Job.ID
	}
	return jobs, nil
}

// tryInline sends committed messages at once, within TryInline (a
// Netlify function, where no worker runs between invocations).
func (q *Queue) tryInline(ctx context.Context, ids []string, jobs []int64) {
	if q.opts.TryInline == 0 || len(ids) == 0 {
		return
	}
	// Committed: the letters are safe whatever happens now. Failures are
	// recorded by the deliverer and left to the job.
	tryCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.opts.TryInline)
	defer cancel()
	for i, id := range ids {
		if out := q.deliver.One(tryCtx, id, deliver.Attempt{N: 1}); out.Verdict == deliver.Unrecorded {
			// Accepted by the service: its job must not send it again. If
			// even this fails, the job will (the only duplicate left).
			if _, err := q.client.JobCancel(context.WithoutCancel(ctx), jobs[i]); err != nil {
				q.opts.Log.Error("sent but neither recorded nor its job cancelled", "message", id, "error", err.Error())
			}
		}
	}
}

// Start works the queue until Stop. It does nothing for an insert-only
// queue. Cancelling ctx (a signal) does not cut sends in flight: River
// would cancel them, and a send cut after Mailgun accepted it would be
// sent again. Stop ends the work, letting them finish.
func (q *Queue) Start(ctx context.Context) error {
	if q.opts.Workers == 0 {
		return nil
	}
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	q.started = true
	return nil
}

// Stop lets sends in flight finish (bounded by ctx) and stops working.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.started {
		return nil
	}
	q.started = false
	return q.client.Stop(ctx)
}

// WorkFor works the queue until no job is due or budget has passed, then
// stops, letting the sends in flight finish (each bounded by JobTimeout):
// a scheduled function's run, which must end within budget + JobTimeout.
// It reports how many due jobs were left (zero when the queue was drained).
func (q *Queue) WorkFor(ctx context.Context, budget time.Duration) (int, error) {
	deadline := time.Now().Add(budget)
	if err := q.Start(ctx); err != nil {
		return 0, err
	}
	left := 0
	var dueErr error
	for {
		time.Sleep(250 * time.Millisecond)
		left, dueErr = q.due(ctx)
		if dueErr != nil || left == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.opts.JobTimeout+time.Second)
	defer cancel()
	return left, errors.Join(dueErr, q.Stop(stopCtx))
}

// due counts jobs ready now or running, including retries whose time has
// come but which River's scheduler has not yet made available.
func (q *Queue) due(ctx context.Context) (int, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable,
			rivertype.JobStateScheduled).First(1000))
	if err != nil {
		return 0, err
	}
	now, n := time.Now(), 0
	for _, j := range res.Jobs {
		if j.State == rivertype.JobStateAvailable || j.State == rivertype.JobStateRunning || !j.ScheduledAt.After(now) {
			n++
		}
	}
	return n, nil
}

// worker delivers one message per job, and translates deliver's outcome
// for River: the message's state is deliver's to record.
type worker struct {
	river.WorkerDefaults[DeliverArgs]
	d     *deliver.Deliverer
	pacer pace
}

func (w *worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	// While the service asks us to slow down, jobs wait in the queue, not
	// in a worker.
	if d := w.pacer.paused(); d > 0 {
		return river.JobSnooze(deliver.Spread(d))
	}
	if err := w.pacer.wait(ctx); err != nil {
		if d := w.pacer.paused(); d > 0 { // paused while it waited
			return river.JobSnooze(deliver.Spread(d))
		}
		return river.JobSnooze(0)
	}
	out := w.d.One(ctx, job.Args.MessageID, deliver.Attempt{N: job.Attempt, Last: job.Attempt >= job.MaxAttempts})
	switch out.Verdict {
	case deliver.Sent, deliver.Skipped:
		return nil
	case deliver.Unrecorded, deliver.Failed:
		// Accepted by the service already, or given up: sending again
		// could only make a duplicate or fail alike.
		return river.JobCancel(out.Err)
	case deliver.Pause:
		w.pacer.pause(out.Wait)
		return river.JobSnooze(out.Wait)
	}
	if out.Wait > 0 {
		return river.JobSnooze(out.Wait)
	}
	return out.Err // River retries it after backoff
}

// expirer deletes signatures left unconfirmed past their link's life.
type expirer struct {
	river.WorkerDefaults[ExpireArgs]
	store *store.Store
	ttl   time.Duration
	log   *slog.Logger
}

func (e *expirer) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	n, err := e.store.Expire(ctx, e.ttl)
	if n > 0 {
		e.log.Info("unconfirmed signatures deleted", "count", n)
	}
	return err
}

// backoff is River's retry policy: deliver.Backoff.
type backoff struct{ cap time.Duration }

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(deliver.Backoff(b.cap, job.Attempt))
}

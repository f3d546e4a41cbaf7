// Package queue makes delivery durable: each message's delivery is a River
// job inserted in the same transaction as the signature, and workers send
// them with retries, backoff and a shared sending rate. It runs on the
// store's database: SQLite on one machine, Postgres for many.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
	"campaignkit/handler/store"
)

// DeliverArgs is the job that delivers one message. It is unique per
// message: a message is never queued twice.
type DeliverArgs struct {
	MessageID string `json:"message_id" river:"unique"`
}

// Kind names the job in River's tables.
func (DeliverArgs) Kind() string { return "deliver_message" }

// InsertOpts puts the job on the delivery queue, unique by message.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// QueueName is River's queue for deliveries.
const QueueName = "deliver"

// Options tune the queue. Zero values take the defaults.
type Options struct {
	// Workers is how many messages one process sends at once; zero makes
	// an insert-only queue (the handler of a process that does not send).
	Workers int
	// SendRate caps messages per second across this process's workers
	// (CAMPAIGN_SEND_RATE); zero means no cap.
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
	}
	if opts.Workers > 0 {
		workers := river.NewWorkers()
		river.AddWorker(workers, &worker{d: d, pacer: newPacer(opts.SendRate)})
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{QueueName: {MaxWorkers: opts.Workers}}
	}
	client, err := river.NewClient(st.QueueDriver(), cfg)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q.client = client
	return q, nil
}

// Record commits the signature, its messages and one delivery job per
// message in one transaction.
func (q *Queue) Record(ctx context.Context, sig *letter.Signature, msgs []letter.Message) (*letter.Signature, error) {
	var opts *river.InsertOpts
	var jobs []int64
	if q.opts.TryInline > 0 {
		opts = &river.InsertOpts{ScheduledAt: time.Now().Add(q.opts.RescueAfter)}
	}
	first, err := q.store.Record(ctx, sig, msgs, func(tx *sql.Tx) error {
		params := make([]river.InsertManyParams, len(msgs))
		for i, m := range msgs {
			params[i] = river.InsertManyParams{Args: DeliverArgs{MessageID: m.ID}, InsertOpts: opts}
		}
		res, err := q.client.InsertManyTx(ctx, tx, params)
		if err != nil {
			return fmt.Errorf("queue: enqueue: %w", err)
		}
		for _, r := range res {
			jobs = append(jobs, r.Job.ID)
		}
		return nil
	})
	if err != nil || q.opts.TryInline == 0 {
		return first, err
	}
	// Committed: the letters are safe whatever happens now. Failures are
	// recorded by the deliverer and left to the job.
	tryCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.opts.TryInline)
	defer cancel()
	for i, m := range msgs {
		// InsertManyTx returns one job per message, in order.
		if out := q.deliver.One(tryCtx, m.ID, deliver.Attempt{N: 1}); out.Verdict == deliver.Unrecorded {
			// Accepted by the service: its job must not send it again. If
			// even this fails, the job will (the only duplicate left).
			if _, err := q.client.JobCancel(context.WithoutCancel(ctx), jobs[i]); err != nil {
				q.opts.Log.Error("sent but neither recorded nor its job cancelled", "message", m.ID, "error", err.Error())
			}
		}
	}
	return first, nil
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
	pacer *pacer
}

func (w *worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	// While the service asks us to slow down, jobs wait in the queue, not
	// in a worker.
	if d := w.pacer.paused(); d > 0 {
		return river.JobSnooze(deliver.Spread(d))
	}
	if err := w.pacer.wait(ctx); err != nil {
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

// backoff is River's retry policy: deliver.Backoff.
type backoff struct{ cap time.Duration }

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(deliver.Backoff(b.cap, job.Attempt))
}

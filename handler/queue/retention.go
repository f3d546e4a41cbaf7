package queue

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"campaignkit/handler/store"
)

// PurgeArgs is the hourly job that deletes the personal data of
// signatures older than the retention (store.Purge).
type PurgeArgs struct{}

// Kind names the job in River's tables.
func (PurgeArgs) Kind() string { return "purge_personal_data" }

// InsertOpts puts it on the delivery queue, once at a time, as ExpireArgs.
func (PurgeArgs) InsertOpts() river.InsertOpts { return ExpireArgs{}.InsertOpts() }

// purger applies the retention.
type purger struct {
	river.WorkerDefaults[PurgeArgs]
	store     *store.Store
	retention time.Duration
	log       *slog.Logger
}

func (p *purger) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	res, err := p.store.Purge(ctx, time.Now().Add(-p.retention))
	if res.Signatures > 0 || res.Expired > 0 {
		p.log.Info("personal data past CAMPAIGN_RETENTION deleted", "signatures", res.Signatures, "unconfirmed_deleted", res.Expired)
	}
	if res.Kept > 0 {
		p.log.Warn("personal data past CAMPAIGN_RETENTION kept: the letters are held or still being sent (campaign release)",
			"signatures", res.Kept)
	}
	return err
}

// addPurger has workers apply the retention every hour (and at start).
func addPurger(workers *river.Workers, cfg *river.Config, st *store.Store, opts Options) {
	retention := opts.Retention
	if retention <= 0 {
		retention = store.DefaultRetention
	}
	river.AddWorker(workers, &purger{store: st, retention: retention, log: opts.Log})
	cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return PurgeArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true}))
}

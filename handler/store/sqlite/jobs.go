package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"campaignkit/handler/store"
)

// driver is River's SQLite driver with one query done another way: the
// insert of many jobs that returns nothing (InsertManyFastTx, which the
// sign path uses). River's decodes every job from one JSON document in a
// statement parsed each time, which took over a third of the writer's time
// at the intake's peak; here the jobs go in multi-row INSERTs prepared
// once (1, 2, 4 … 32 rows, as the store's messages), of the very values
// River computed (its unique key included), with River's conflict clause.
type driver struct {
	*riversqlite.Driver
	db       *sql.DB
	once     sync.Once
	prepared atomic.Pointer[map[int]*sql.Stmt] // by rows
}

// insertJob is River's JobInsertFastManyNoReturning for one job.
const insertJob = `INSERT INTO river_job (args, created_at, kind, max_attempts, metadata, priority, queue,
	scheduled_at, state, tags, unique_key, unique_states)
VALUES %s
ON CONFLICT (unique_key)
    WHERE unique_key IS NOT NULL
        AND unique_states IS NOT NULL
        AND CASE state
                WHEN 'available' THEN unique_states & (1 << 0)
                WHEN 'cancelled' THEN unique_states & (1 << 1)
                WHEN 'completed' THEN unique_states & (1 << 2)
                WHEN 'discarded' THEN unique_states & (1 << 3)
                WHEN 'pending'   THEN unique_states & (1 << 4)
                WHEN 'retryable' THEN unique_states & (1 << 5)
                WHEN 'running'   THEN unique_states & (1 << 6)
                WHEN 'scheduled' THEN unique_states & (1 << 7)
                ELSE 0
            END >= 1
DO NOTHING`

// jobColumns are the values of one job in insertJob.
const jobColumns = 12

// jobsAtOnce bounds one INSERT's jobs.
const jobsAtOnce = 32

// insertJobs is insertJob for n jobs. Its parameters are plain ?, in
// order: the driver looks up a numbered one's name (?12) at each run, in a
// list as long as the parameters.
func insertJobs(n int) string {
	row := "(jsonb(?), coalesce(?, datetime('now', 'subsec')), ?, ?, jsonb(?), ?, ?, " +
		"coalesce(?, datetime('now', 'subsec')), ?, jsonb(?), ?, nullif(?, 0))"
	return fmt.Sprintf(insertJob, strings.TrimSuffix(strings.Repeat(row+", ", n), ", "))
}

func (d *driver) UnwrapExecutor(tx *sql.Tx) riverdriver.ExecutorTx {
	return &executor{ExecutorTx: d.Driver.UnwrapExecutor(tx), tx: tx, d: d}
}

// statement is the insert of n jobs in tx. They are prepared once for all
// in the background, when the one connection is free again (River's
// tables exist by now, and preparing from here would wait for this very
// transaction); until then, for this transaction alone.
func (d *driver) statement(ctx context.Context, tx *sql.Tx, n int) (*sql.Stmt, error) {
	if all := d.prepared.Load(); all != nil {
		return tx.StmtContext(ctx, (*all)[n]), nil
	}
	d.once.Do(func() {
		go func() {
			all := map[int]*sql.Stmt{}
			for k := 1; k <= jobsAtOnce; k *= 2 {
				st, err := d.db.PrepareContext(context.Background(), insertJobs(k))
				if err != nil {
					return
				}
				all[k] = st
			}
			d.prepared.Store(&all)
		}()
	})
	return tx.PrepareContext(ctx, insertJobs(n))
}

type executor struct {
	riverdriver.ExecutorTx
	tx *sql.Tx
	d  *driver
}

func (e *executor) JobInsertFastManyNoReturning(ctx context.Context, params *riverdriver.JobInsertFastManyParams) (int, error) {
	if params.Schema != "" {
		return e.ExecutorTx.JobInsertFastManyNoReturning(ctx, params)
	}
	args := make([]any, 0, len(params.Jobs)*jobColumns)
	for _, j := range params.Jobs {
		metadata := j.Metadata
		if len(metadata) == 0 {
			metadata = []byte("{}")
		}
		tags, err := json.Marshal(j.Tags)
		if err != nil {
			return 0, fmt.Errorf("error marshaling tags: %w", err)
		}
		var key []byte
		if len(j.UniqueKey) > 0 {
			key = j.UniqueKey
		}
		args = append(args, string(j.EncodedArgs), timeOrNil(j.CreatedAt), j.Kind, int64(j.MaxAttempts),
			string(metadata), int64(j.Priority), j.Queue, timeOrNil(j.ScheduledAt), string(j.State), string(tags),
			key, int64(j.UniqueStates))
	}
	n := 0
	for left := len(params.Jobs); left > 0; {
		k := store.RowsAtOnce(left, jobsAtOnce)
		st, err := e.d.statement(ctx, e.tx, k)
		if err != nil {
			return n, err
		}
		res, err := st.ExecContext(ctx, args[:k*jobColumns]...)
		if err != nil {
			return n, err
		}
		inserted, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		n += int(inserted)
		args, left = args[k*jobColumns:], left-k
	}
	return n, nil
}

// timeOrNil is a time as River's SQLite driver writes it.
func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
}

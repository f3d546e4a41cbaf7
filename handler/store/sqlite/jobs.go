package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// driver is River's SQLite driver with one query done another way: the
// insert of many jobs that returns nothing (InsertManyFastTx, which the
// sign path uses). River's decodes every job from one JSON document in a
// statement parsed each time, which took over a third of the writer's time
// at the intake's peak; here each job is one run of an INSERT prepared
// once, of the very values River computed (its unique key included), with
// River's conflict clause.
type driver struct {
	*riversqlite.Driver
	db       *sql.DB
	once     sync.Once
	prepared atomic.Pointer[sql.Stmt]
}

// insertJob is River's JobInsertFastManyNoReturning for one job.
const insertJob = `INSERT INTO river_job (args, created_at, kind, max_attempts, metadata, priority, queue,
	scheduled_at, state, tags, unique_key, unique_states)
VALUES (jsonb(?1), coalesce(?2, datetime('now', 'subsec')), ?3, ?4, jsonb(?5), ?6, ?7,
	coalesce(?8, datetime('now', 'subsec')), ?9, jsonb(?10), ?11, nullif(?12, 0))
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

func (d *driver) UnwrapExecutor(tx *sql.Tx) riverdriver.ExecutorTx {
	return &executor{ExecutorTx: d.Driver.UnwrapExecutor(tx), tx: tx, d: d}
}

// statement is the insert in tx. It is prepared once for all in the
// background, when the one connection is free again (River's tables
// exist by now, and preparing from here would wait for this very
// transaction); until then, for this transaction alone.
func (d *driver) statement(ctx context.Context, tx *sql.Tx) (*sql.Stmt, error) {
	if st := d.prepared.Load(); st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	d.once.Do(func() {
		go func() {
			if st, err := d.db.PrepareContext(context.Background(), insertJob); err == nil {
				d.prepared.Store(st)
			}
		}()
	})
	return tx.PrepareContext(ctx, insertJob)
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
	st, err := e.d.statement(ctx, e.tx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range params.Jobs {
		metadata := j.Metadata
		if len(metadata) == 0 {
			metadata = []byte("{}")
		}
		tags, err := json.Marshal(j.Tags)
		if err != nil {
			return n, fmt.Errorf("error marshaling tags: %w", err)
		}
		var key []byte
		if len(j.UniqueKey) > 0 {
			key = j.UniqueKey
		}
		res, err := st.ExecContext(ctx, string(j.EncodedArgs), timeOrNil(j.CreatedAt), j.Kind, int64(j.MaxAttempts),
			string(metadata), int64(j.Priority), j.Queue, timeOrNil(j.ScheduledAt), string(j.State), string(tags),
			key, int64(j.UniqueStates))
		if err != nil {
			return n, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return n, err
		}
		n += int(k)
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

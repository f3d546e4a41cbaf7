package queue

import (
	"context"
	"database/sql"
)

// ReleaseSignatures queues the letters of the named held signatures,
// whatever held them (an organizer's decision on the /admin/ page),
// with their delivery jobs in the same transaction.
func (q *Queue) ReleaseSignatures(ctx context.Context, ids []string) (int, error) {
	var queued []string
	var jobs []int64
	n, err := q.store.ReleaseSignatures(ctx, ids, func(tx *sql.Tx, msgs []string) (err error) {
		queued = msgs
		jobs, err = q.enqueue(ctx, tx, msgs)
		return err
	})
	if err == nil {
		q.tryInline(ctx, queued, jobs)
	}
	return n, err
}

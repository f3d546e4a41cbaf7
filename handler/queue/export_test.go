package queue

import (
	"context"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
)

// RecordTogether records signatures as one batch, as Record does with
// signatures that arrive together, and returns each one's outcome.
func (q *Queue) RecordTogether(ctx context.Context, sigs []*letter.Signature, msgs [][]letter.Message) []error {
	batch := make([]*signing, len(sigs))
	for i := range sigs {
		batch[i] = &signing{Signing: store.Signing{Sig: sigs[i], Msgs: msgs[i]}, ctx: ctx, done: make(chan struct{})}
	}
	q.group.commitSafely(batch)
	errs := make([]error, len(batch))
	for i, s := range batch {
		errs[i] = s.Err
	}
	return errs
}

// Waiting is how many signatures wait for a batch, and how many batches
// are being committed.
func (q *Queue) Waiting() (signatures, batches int) {
	q.group.mu.Lock()
	defer q.group.mu.Unlock()
	return len(q.group.pending), q.group.running
}

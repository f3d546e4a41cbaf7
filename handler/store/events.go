package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"campaignkit/handler/letter"
)

// TokenMemory is how long a webhook's token is remembered. An event is
// taken only while its timestamp is within 5 minutes of the clock, so a
// token cannot pass that check more than 10 minutes after it was first
// seen; by then a replay is refused as stale.
const TokenMemory = 10 * time.Minute

// DeliveryEvent records a webhook event once, by its token's hash, and
// moves the message it names to ev.State where letter.MovesFrom allows,
// both in one transaction: an event that fails to apply leaves its token
// unseen, so the service's retry is taken. It reports whether the message
// moved, or returns:
//   - letter.ErrReplayed, changing nothing, when the token was seen within
//     TokenMemory;
//   - letter.ErrNotFound when no message has the id (the token is kept).
//
// An event without a State only has its token recorded.
func (s *Store) DeliveryEvent(ctx context.Context, tokenHash string, ev letter.DeliveryEvent) (bool, error) {
	now := time.Now().UTC()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: delivery event: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO webhook_tokens (token_hash, seen_at) VALUES ($1, $2)
		ON CONFLICT (token_hash) DO NOTHING`, tokenHash, now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: delivery event: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("store: delivery event: %w", err)
	} else if n == 0 {
		return false, letter.ErrReplayed
	}
	moved, err := s.moveOnEvent(ctx, tx, ev, now)
	if err != nil && !errors.Is(err, letter.ErrNotFound) {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: delivery event: commit: %w", err)
	}
	s.forgetTokens(ctx, now)
	return moved, err
}

func (s *Store) moveOnEvent(ctx context.Context, tx Tx, ev letter.DeliveryEvent, now time.Time) (bool, error) {
	from := letter.MovesFrom(ev.State)
	if len(from) == 0 {
		return false, nil
	}
	args := []any{ev.State, ev.Reason, now, ev.MessageID}
	in := make([]string, len(from))
	for i, st := range from {
		args = append(args, st)
		in[i] = fmt.Sprintf("$%d", len(args))
	}
	// error holds the service's reason for a failure; a delivery or a
	// complaint clears what an earlier attempt left there.
	res, err := tx.ExecContext(ctx, `UPDATE messages SET state = $1, error = $2, updated_at = $3
		WHERE id = $4 AND state IN (`+strings.Join(in, ", ")+`)`, args...)
	if err != nil {
		return false, fmt.Errorf("store: delivery event: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("store: delivery event: %w", err)
	} else if n > 0 {
		return true, nil
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM messages WHERE id = $1`, ev.MessageID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, letter.ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("store: delivery event: %w", err)
	}
	return false, nil
}

// forgetTokens deletes tokens older than TokenMemory, a batch at a time.
// It runs after the event's commit and its failure is not the event's: the
// next event tries again.
func (s *Store) forgetTokens(ctx context.Context, now time.Time) {
	s.db.ExecContext(ctx, `DELETE FROM webhook_tokens WHERE token_hash IN
		(SELECT token_hash FROM webhook_tokens WHERE seen_at < $1 LIMIT $2)`, now.Add(-TokenMemory).UnixMilli(), purgeBatch)
}

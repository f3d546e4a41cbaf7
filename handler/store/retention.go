package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"campaignkit/handler/letter"
)

// DefaultRetention is how long personal data is kept when
// CAMPAIGN_RETENTION is unset: 365 days.
const DefaultRetention = 365 * 24 * time.Hour

// Purged is what Purge did.
type Purged struct {
	// Signatures whose personal data it deleted; they still count.
	Signatures int
	// Expired are attempts never confirmed, deleted as Expire does and
	// counted as expired.
	Expired int
	// Kept are signatures old enough whose personal data stays because
	// their letters still need it: held for an organizer, or being sent.
	Kept int
}

// retentionBatch is how many signatures one transaction purges: short
// transactions, so signing never waits long behind a purge.
var retentionBatch = 500

// Purge deletes the personal data of the signatures made before before,
// keeping what counts them and their delivery:
//   - a signature keeps its id, letter, state, times, opt-in (when, the
//     words, the language; nobody is left to identify), US state, source
//     and UTM tags; its names, email, address, city, ZIP, phone, edited
//     subject and letter, and confirmation token hash are emptied, and its
//     email_key becomes "purged#<id>", so the address may sign again;
//   - its messages keep their ids, kinds, states, targets, attempts,
//     provider ids and times; their From, Reply-To, subject and text are
//     emptied, and so are the recipient, target and error of the messages
//     to the signer (their confirmation and copy), which hold the address.
//
// Attempts never confirmed are deleted and counted as expired (Expire).
// Signatures whose letters are held or still queued keep their data until
// those are settled, since sending needs it (Purged.Kept).
func (s *Store) Purge(ctx context.Context, before time.Time) (Purged, error) {
	var p Purged
	var err error
	if p.Expired, err = s.expireBefore(ctx, before); err != nil {
		return p, err
	}
	now := time.Now().UTC()
	for {
		n, err := s.purgeSome(ctx, before, now)
		p.Signatures += n
		if err != nil {
			return p, err
		}
		if n < retentionBatch {
			break
		}
	}
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM signatures
		WHERE purged_at IS NULL AND created_at < $1 AND sig_state <> 'unconfirmed'`, before).Scan(&p.Kept)
	if err != nil {
		return p, fmt.Errorf("store: purge: %w", err)
	}
	return p, nil
}

// purgeSome purges up to retentionBatch signatures in one transaction and
// returns how many.
func (s *Store) purgeSome(ctx context.Context, before, now time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	defer tx.Rollback()
	lock := ""
	if s.postgres {
		lock = " FOR UPDATE"
	}
	// A message still held or queued needs its text and addresses to go out.
	rows, err := tx.QueryContext(ctx, `SELECT id FROM signatures
		WHERE purged_at IS NULL AND created_at < $1 AND sig_state <> 'unconfirmed'
		AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.signature_id = signatures.id AND messages.state IN ($2, $3, $4))
		ORDER BY created_at LIMIT $5`+lock,
		before, letter.StateUnconfirmed, letter.StateHeld, letter.StateQueued, retentionBatch)
	if err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	ids, err := collectIDs(rows)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	in, args := inList(2, ids)
	_, err = tx.ExecContext(ctx, `UPDATE messages SET from_addr = '', reply_to = '', subject = '', text = '',
		to_addr = CASE WHEN kind = $1 THEN to_addr ELSE '' END,
		target_name = CASE WHEN kind = $1 THEN target_name ELSE '' END,
		target_email = CASE WHEN kind = $1 THEN target_email ELSE '' END,
		error = CASE WHEN kind = $1 THEN error ELSE '' END
		WHERE signature_id IN (`+in+`)`, append([]any{letter.KindLetter}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("store: purge messages: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE signatures SET email_key = 'purged#' || id,
		first_name = '', last_name = '', email = '', address = '', city = '', zip = '', phone = '',
		subject = '', body = '', token_hash = '', purged_at = $1
		WHERE id IN (`+in+`)`, append([]any{now}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("store: purge signatures: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: purge: commit: %w", err)
	}
	return len(ids), nil
}

// PurgedCount returns how many signatures have had their personal data
// deleted (they are still counted by state).
func (s *Store) PurgedCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM signatures WHERE purged_at IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count purged: %w", err)
	}
	return n, nil
}

func collectIDs(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: purge: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: purge: %w", err)
	}
	return ids, nil
}

// inList is "$first, $first+1, …" for values, and values as arguments.
func inList(first int, values []string) (string, []any) {
	p := make([]string, len(values))
	args := make([]any, len(values))
	for i, v := range values {
		p[i], args[i] = fmt.Sprintf("$%d", first+i), v
	}
	return strings.Join(p, ", "), args
}

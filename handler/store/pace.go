package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The campaign's sending pace on Postgres (send_pace, one row): every
// process reserves its send times from the same row, so that
// CAMPAIGN_SEND_RATE is the whole campaign's rate, and a pause one process
// is told to make holds every process back. Times are the database's
// clock in microseconds, so processes whose clocks disagree still space
// their sends apart; each learns only how long from now.
const dbNowMicros = `(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT`

var errPaceSQLite = errors.New("store: the shared sending pace needs Postgres")

// ReserveSends reserves n consecutive send times interval apart, after
// every time reserved before, and returns how long from now the first is.
// While sends are paused it reserves nothing and returns how long the
// pause lasts instead.
func (s *Store) ReserveSends(ctx context.Context, n int, interval time.Duration) (first, paused time.Duration, err error) {
	if !s.postgres {
		return 0, 0, errPaceSQLite
	}
	if n < 1 || interval <= 0 {
		return 0, 0, errors.New("store: reserve sends: n and interval must be positive")
	}
	span := int64(n) * interval.Microseconds()
	var firstUS, pausedUS int64
	// One statement: the row lock makes concurrent reservations follow
	// each other, never overlap.
	err = s.db.QueryRowContext(ctx, `UPDATE send_pace SET next_at = CASE
			WHEN paused_until > `+dbNowMicros+` THEN next_at
			ELSE GREATEST(next_at, `+dbNowMicros+`) + $1 END
		WHERE id = 1
		RETURNING next_at - $1 - `+dbNowMicros+`, paused_until - `+dbNowMicros, span).Scan(&firstUS, &pausedUS)
	if err != nil {
		return 0, 0, fmt.Errorf("store: reserve sends: %w", err)
	}
	if pausedUS > 0 {
		return 0, time.Duration(pausedUS) * time.Microsecond, nil
	}
	return time.Duration(max(firstUS, 0)) * time.Microsecond, 0, nil
}

// PauseSends holds every process's sends back for d from now; a longer
// pause already set stands.
func (s *Store) PauseSends(ctx context.Context, d time.Duration) error {
	if !s.postgres {
		return errPaceSQLite
	}
	_, err := s.db.ExecContext(ctx, `UPDATE send_pace
		SET paused_until = GREATEST(paused_until, `+dbNowMicros+` + $1) WHERE id = 1`, d.Microseconds())
	if err != nil {
		return fmt.Errorf("store: pause sends: %w", err)
	}
	return nil
}

// SendsPaused is how long every process's sends are still held back.
func (s *Store) SendsPaused(ctx context.Context) (time.Duration, error) {
	if !s.postgres {
		return 0, errPaceSQLite
	}
	var us int64
	err := s.db.QueryRowContext(ctx, `SELECT paused_until - `+dbNowMicros+` FROM send_pace WHERE id = 1`).Scan(&us)
	if err != nil {
		return 0, fmt.Errorf("store: sends paused: %w", err)
	}
	return time.Duration(max(us, 0)) * time.Microsecond, nil
}

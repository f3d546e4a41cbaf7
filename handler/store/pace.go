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

// Reservation is what ReserveSends answers, in the database's clock.
type Reservation struct {
	// Now is when the database made it: with the time the caller asked
	// and got the answer, it maps the database's clock onto the caller's.
	Now time.Time
	// First is the first send time reserved, the others follow it an
	// interval apart; none is reserved while PausedUntil is after Now.
	First       time.Time
	PausedUntil time.Time
}

// Paused reports whether sends were paused (and nothing reserved).
func (r Reservation) Paused() bool { return r.PausedUntil.After(r.Now) }

// ReserveSends reserves n consecutive send times interval apart, after
// every time reserved before, unless sends are paused.
func (s *Store) ReserveSends(ctx context.Context, n int, interval time.Duration) (Reservation, error) {
	if !s.postgres {
		return Reservation{}, errPaceSQLite
	}
	if n < 1 || interval <= 0 {
		return Reservation{}, errors.New("store: reserve sends: n and interval must be positive")
	}
	span := int64(n) * interval.Microseconds()
	var first, paused, now int64
	// One statement: the row lock makes concurrent reservations follow
	// each other, never overlap.
	err := s.db.QueryRowContext(ctx, `UPDATE send_pace SET next_at = CASE
			WHEN paused_until > `+dbNowMicros+` THEN next_at
			ELSE GREATEST(next_at, `+dbNowMicros+`) + $1 END
		WHERE id = 1
		RETURNING next_at - $1, paused_until, `+dbNowMicros, span).Scan(&first, &paused, &now)
	if err != nil {
		return Reservation{}, fmt.Errorf("store: reserve sends: %w", err)
	}
	r := Reservation{Now: time.UnixMicro(now), First: time.UnixMicro(first), PausedUntil: time.UnixMicro(paused)}
	if r.Paused() {
		r.First = time.Time{}
	}
	return r, nil
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

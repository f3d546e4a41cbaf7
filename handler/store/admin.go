package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"campaignkit/handler/letter"
)

// What the organizer's room reads and does: every signature with its
// letters' outcomes (the export), the figures of the dashboard, and the
// decision on held letters.

// exportPage is how many signatures one query of Export reads. Between
// pages the database is free for signers (SQLite has one connection),
// and memory holds one page whatever the campaign's size.
const exportPage = 500

// exportColumns are the signature's columns an export reads: its
// details, not the letter's words or the token. Columns added for
// organizers go here, as they go in signatureColumns, and in the CSV's
// columns (handler/admin).
var exportColumns = columns[letter.Signature]{
	{"id", func(g *letter.Signature) any { return &g.ID }},
	{"letter_id", func(g *letter.Signature) any { return &g.Letter }},
	{"sig_state", func(g *letter.Signature) any { return &g.State }},
	{"first_name", func(g *letter.Signature) any { return &g.FirstName }},
	{"last_name", func(g *letter.Signature) any { return &g.LastName }},
	{"email", func(g *letter.Signature) any { return &g.Email }},
	{"address", func(g *letter.Signature) any { return &g.Address }},
	{"city", func(g *letter.Signature) any { return &g.City }},
	{"state", func(g *letter.Signature) any { return &g.Signer.State }},
	{"zip", func(g *letter.Signature) any { return &g.Zip }},
	{"phone", func(g *letter.Signature) any { return &g.Phone }},
	{"opt_in", func(g *letter.Signature) any { return &g.OptIn }},
	{"opt_in_at", func(g *letter.Signature) any { return nullTime{&g.OptInAt} }},
	{"opt_in_text", func(g *letter.Signature) any { return &g.OptInText }},
	{"opt_in_lang", func(g *letter.Signature) any { return &g.OptInLang }},
	{"source", func(g *letter.Signature) any { return &g.Source }},
	{"utm_source", func(g *letter.Signature) any { return &g.UTMSource }},
	{"utm_medium", func(g *letter.Signature) any { return &g.UTMMedium }},
	{"utm_campaign", func(g *letter.Signature) any { return &g.UTMCampaign }},
	{"utm_term", func(g *letter.Signature) any { return &g.UTMTerm }},
	{"utm_content", func(g *letter.Signature) any { return &g.UTMContent }},
	{"created_at", func(g *letter.Signature) any { return &g.CreatedAt }},
	{"confirmed_at", func(g *letter.Signature) any { return nullTime{&g.ConfirmedAt} }},
	{"edited", func(g *letter.Signature) any { return &g.Edited }},
	{"hold", func(g *letter.Signature) any { return &g.Hold }},
	{"purged_at", func(g *letter.Signature) any { return nullTime{&g.PurgedAt} }},
	{"lang", func(g *letter.Signature) any { return &g.Lang }},
}

// Status is how a signature stands for an organizer: unconfirmed,
// confirmed (its letters on their way), sent (every letter to a target
// sent or delivered), held or rejected. Expired signatures are deleted.
func Status(sig *letter.Signature, msgs []letter.Message) string {
	if sig.State != letter.SignatureConfirmed || len(msgs) == 0 {
		return sig.State
	}
	for _, m := range msgs {
		if m.State == letter.StateQueued || m.State == letter.StateFailed {
			return sig.State
		}
	}
	return StatusSent
}

// StatusSent is the Status of a signature whose letters all went out:
// none is queued or failed, the states of a confirmed signature's letter
// that did not (the others: sent, and delivered or complained, which
// Mailgun's webhooks report after).
const StatusSent = "sent"

// Export calls fn with each signature, oldest first, and its letters to
// targets in target order (of each: TargetIndex, TargetName, State and
// Error). It reads a page at a time and holds no query open while fn
// runs, so a slow reader never keeps the database from signers.
func (s *Store) Export(ctx context.Context, fn func(*letter.Signature, []letter.Message) error) error {
	var afterAt time.Time // the zero time sorts before every signature
	afterID := ""
	for {
		sigs, msgs, err := s.exportPage(ctx, afterAt, afterID)
		if err != nil {
			return err
		}
		for i, sig := range sigs {
			if err := fn(sig, msgs[i]); err != nil {
				return err
			}
		}
		if len(sigs) < exportPage {
			return nil
		}
		last := sigs[len(sigs)-1]
		afterAt, afterID = last.CreatedAt, last.ID
	}
}

// exportPage reads the page of signatures after (afterAt, afterID), then
// their letters by id: on SQLite two short queries hold its one
// connection for less time than a join of the two tables (a third less
// for 100,000 signatures).
func (s *Store) exportPage(ctx context.Context, afterAt time.Time, afterID string) ([]*letter.Signature, [][]letter.Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+exportColumns.names()+` FROM signatures
		WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`, afterAt, afterID, exportPage)
	if err != nil {
		return nil, nil, fmt.Errorf("store: export: %w", err)
	}
	var sigs []*letter.Signature
	for rows.Next() {
		sig, err := scan(rows, exportColumns)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		sigs = append(sigs, sig)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(sigs) == 0 {
		return nil, nil, err
	}
	at := make(map[string]int, len(sigs))
	in := make([]string, len(sigs))
	args := make([]any, len(sigs))
	for i, sig := range sigs {
		at[sig.ID], in[i], args[i] = i, fmt.Sprintf("$%d", i+1), sig.ID
	}
	rows, err = s.db.QueryContext(ctx, `SELECT signature_id, target_index, target_name, state, error FROM messages
		WHERE kind = 'letter' AND signature_id IN (`+strings.Join(in, ", ")+`) ORDER BY signature_id, target_index`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("store: export: %w", err)
	}
	defer rows.Close()
	msgs := make([][]letter.Message, len(sigs))
	for rows.Next() {
		m := letter.Message{Kind: letter.KindLetter}
		if err := rows.Scan(&m.SignatureID, &m.TargetIndex, &m.TargetName, &m.State, &m.Error); err != nil {
			return nil, nil, fmt.Errorf("store: export: %w", err)
		}
		i := at[m.SignatureID]
		msgs[i] = append(msgs[i], m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: export: %w", err)
	}
	return sigs, msgs, nil
}

// MaxTargets is the most letters to targets any signature has: the
// export's target columns.
func (s *Store) MaxTargets(ctx context.Context) (int, error) {
	var n sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(target_index) + 1 FROM messages WHERE kind = 'letter'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: max targets: %w", err)
	}
	return int(n.Int64), nil
}

// Stats are the figures of the organizer's dashboard.
type Stats struct {
	// Signatures are those recorded now (expired ones are deleted).
	Signatures int `json:"signatures"`
	// States counts signatures by Status, with "expired" (deleted
	// unconfirmed ones) from the tallies.
	States map[string]int `json:"states"`
	// Held counts the held signatures by why they are held (letter.Hold…).
	Held map[string]int `json:"held"`
	// Letters counts letters to targets by message state.
	Letters map[string]int `json:"letters"`
	// PerHour counts signatures made in each of the last hours, oldest
	// first; Hour is its start.
	PerHour []HourCount `json:"per_hour"`
	// Sources counts signatures by where their signers came from (?source=),
	// the most first.
	Sources []SourceCount `json:"sources"`
	// Failures are the last letters that failed, newest first.
	Failures []Failure `json:"failures"`
}

// HourCount is the signatures made in one hour.
type HourCount struct {
	Hour       time.Time `json:"hour"`
	Signatures int       `json:"signatures"`
}

// SourceCount is the signatures that came from one source ("" when none).
type SourceCount struct {
	Source     string `json:"source"`
	Signatures int    `json:"signatures"`
}

// Failure is one letter that could not be delivered, and why.
type Failure struct {
	Message string    `json:"message"`
	Letter  string    `json:"letter"`
	Target  string    `json:"target"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// Stats returns the dashboard's figures at now: hours counts so many
// hours back, sources and failures at most so many of each.
func (s *Store) Stats(ctx context.Context, now time.Time, hours, sources, failures int) (*Stats, error) {
	st := &Stats{Held: map[string]int{}}
	var err error
	if st.States, err = s.SignatureStates(ctx); err != nil {
		return nil, err
	}
	// The confirmed whose letters all went out are "sent", as in the
	// export: all but those with a letter still queued or failed (the
	// states of a confirmed signature's letters that did not go out),
	// which the state index finds without reading every letter.
	var unsent int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT signature_id) FROM messages
		WHERE state IN ('queued', 'failed') AND kind = 'letter'`).Scan(&unsent); err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	sent := max(st.States[letter.SignatureConfirmed]-unsent, 0)
	st.States[letter.SignatureConfirmed] -= sent
	st.States[StatusSent] = sent
	for state, n := range st.States {
		if state != "expired" {
			st.Signatures += n
		}
	}
	if err := s.groupCount(ctx, `SELECT hold, COUNT(*) FROM signatures WHERE sig_state = 'held' GROUP BY hold`, st.Held); err != nil {
		return nil, err
	}
	if st.Letters, err = s.Counts(ctx); err != nil {
		return nil, err
	}
	if st.PerHour, err = s.perHour(ctx, now, hours); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT source, COUNT(*) FROM signatures GROUP BY source ORDER BY COUNT(*) DESC, source LIMIT $1`, sources)
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	for rows.Next() {
		var c SourceCount
		if err := rows.Scan(&c.Source, &c.Signatures); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: stats: %w", err)
		}
		st.Sources = append(st.Sources, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT id, tag, target_name, error, updated_at FROM messages
		WHERE state = 'failed' AND kind = 'letter' ORDER BY updated_at DESC LIMIT $1`, failures)
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.Message, &f.Letter, &f.Target, &f.Reason, &f.At); err != nil {
			return nil, fmt.Errorf("store: stats: %w", err)
		}
		st.Failures = append(st.Failures, f)
	}
	return st, rows.Err()
}

func (s *Store) groupCount(ctx context.Context, query string, into map[string]int) error {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("store: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return fmt.Errorf("store: stats: %w", err)
		}
		into[k] += n
	}
	return rows.Err()
}

// perHour counts the signatures of each of the hours up to now's, by
// ranges of the created_at index: the same SQL in SQLite and Postgres,
// whose ways to cut a time into hours differ.
func (s *Store) perHour(ctx context.Context, now time.Time, hours int) ([]HourCount, error) {
	if hours <= 0 {
		return nil, nil
	}
	start := now.UTC().Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	out := make([]HourCount, hours)
	parts := make([]string, hours)
	args := make([]any, 0, 2*hours)
	for i := range out {
		out[i].Hour = start.Add(time.Duration(i) * time.Hour)
		parts[i] = fmt.Sprintf(`SELECT %d AS h, COUNT(*) AS n FROM signatures WHERE created_at >= $%d AND created_at < $%d`, i, 2*i+1, 2*i+2)
		args = append(args, out[i].Hour, out[i].Hour.Add(time.Hour))
	}
	rows, err := s.db.QueryContext(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return nil, fmt.Errorf("store: per hour: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h, n int
		if err := rows.Scan(&h, &n); err != nil {
			return nil, fmt.Errorf("store: per hour: %w", err)
		}
		out[h].Signatures = n
	}
	return out, rows.Err()
}

// HeldSignature is a signature whose letters wait for an organizer, with
// its first letter as it will go out (for review).
type HeldSignature struct {
	letter.Signature
	Subject string
	Text    string
}

// Held returns up to limit held signatures: those held for review first,
// then by the ceiling, oldest first in each.
func (s *Store) Held(ctx context.Context, limit int) ([]HeldSignature, error) {
	outer := make([]string, len(exportColumns))
	for i, c := range exportColumns {
		outer[i] = "s." + c.name
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+strings.Join(outer, ", ")+`, COALESCE(m.subject, ''), COALESCE(m.text, '')
		FROM signatures s LEFT JOIN messages m ON m.signature_id = s.id AND m.kind = 'letter' AND m.target_index = 0
		WHERE s.sig_state = 'held'
		ORDER BY CASE WHEN s.hold = 'review' THEN 0 ELSE 1 END, s.created_at, s.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: held: %w", err)
	}
	defer rows.Close()
	var out []HeldSignature
	for rows.Next() {
		var h HeldSignature
		if err := rows.Scan(append(exportColumns.of(&h.Signature), &h.Subject, &h.Text)...); err != nil {
			return nil, fmt.Errorf("store: held: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ReleaseSignatures queues the letters of the named held signatures,
// whatever held them, running also with the ids of the messages queued
// in the same transaction. Names that are not held (released or
// rejected meanwhile, unknown) are skipped. It returns how many it
// released.
func (s *Store) ReleaseSignatures(ctx context.Context, ids []string, also func(tx Tx, queued []string) error) (int, error) {
	return s.decide(ctx, "release", ids, func(tx *sql.Tx, id string, now time.Time) ([]string, error) {
		return s.moveMessages(ctx, tx, id, letter.StateHeld, letter.StateQueued, now)
	}, also)
}

// RejectSignatures refuses the letters of the named held signatures:
// they are never sent, and their words (the signer's subject and text,
// and each merged letter's) are deleted. The signer's details stay, as
// any signer's, and the address may sign the letter again (an edited
// letter is then held for review again). Names not held are skipped. It
// returns how many it rejected.
func (s *Store) RejectSignatures(ctx context.Context, ids []string) (int, error) {
	return s.decide(ctx, "reject", ids, func(tx *sql.Tx, id string, now time.Time) ([]string, error) {
		_, err := tx.ExecContext(ctx, `UPDATE messages SET state = $1, subject = '', text = '', updated_at = $2
			WHERE signature_id = $3 AND state = $4`, letter.StateRejected, now, id, letter.StateHeld)
		return nil, err
	}, nil)
}

// decide moves each named held signature out of held (to confirmed for
// release, rejected for reject), then does the rest of the decision to
// its messages, all in one transaction.
func (s *Store) decide(ctx context.Context, verb string, ids []string, messages func(*sql.Tx, string, time.Time) ([]string, error), also func(tx Tx, queued []string) error) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", verb, err)
	}
	defer tx.Rollback()
	// Rejected, the address is free to sign again: its key leaves the
	// unique (letter, email_key) and the throttle's range of attempts.
	update := `UPDATE signatures SET sig_state = 'confirmed' WHERE id = $1 AND sig_state = 'held' RETURNING letter_id`
	if verb == "reject" {
		update = `UPDATE signatures SET sig_state = 'rejected', subject = '', body = '', email_key = email_key || '!rejected:' || id
			WHERE id = $1 AND sig_state = 'held' RETURNING letter_id`
	}
	now := time.Now().UTC()
	n := 0
	var queued []string
	released := map[string]int{} // by letter, for the public count
	for _, id := range ids {
		var letterID string
		err := tx.QueryRowContext(ctx, update, id).Scan(&letterID)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", verb, err)
		}
		n++
		if verb == "release" {
			released[letterID]++
		}
		q, err := messages(tx, id, now)
		if err != nil {
			return 0, fmt.Errorf("store: %s: %w", verb, err)
		}
		queued = append(queued, q...)
	}
	if also != nil && len(queued) > 0 {
		if err := also(tx, queued); err != nil {
			return 0, err
		}
	}
	// Released letters go out: they join the public count (last, in one
	// order, as in Record).
	for _, l := range slices.Sorted(maps.Keys(released)) {
		if err := s.addTally(ctx, tx, l, tallyCounted, released[l]); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: %s: commit: %w", verb, err)
	}
	return n, nil
}

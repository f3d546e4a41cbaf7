// Package store keeps signatures and the messages merged from them, with
// each message's delivery state, in SQL: SQLite on one machine, Postgres
// when many processes share the work (the sqlite and postgres packages
// open each). Nothing is answered to a supporter before their signature
// and messages are committed here.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver"

	"campaignkit/handler/letter"
)

// Store is a handle on the database.
type Store struct {
	db       *sql.DB
	postgres bool
	queue    riverdriver.Driver[*sql.Tx]
}

// New returns a store on db, an SQLite or a Postgres database (postgres
// says which), with queue the delivery queue's driver for the same
// database, and brings the schema up to date.
func New(ctx context.Context, db *sql.DB, postgres bool, queue riverdriver.Driver[*sql.Tx]) (*Store, error) {
	s := &Store{db: db, postgres: postgres, queue: queue}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Postgres reports whether the store is on Postgres (else SQLite).
func (s *Store) Postgres() bool { return s.postgres }

// DB is the underlying database.
func (s *Store) DB() *sql.DB { return s.db }

// QueueDriver is River's driver for this database, for the delivery queue
// that shares it.
func (s *Store) QueueDriver() riverdriver.Driver[*sql.Tx] { return s.queue }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	ts, boolean := "TIMESTAMP", "BOOLEAN"
	if s.postgres {
		ts = "TIMESTAMPTZ"
	}
	schema := strings.NewReplacer("$TS", ts, "$BOOL", boolean).Replace(`
CREATE TABLE IF NOT EXISTS signatures (
	id TEXT PRIMARY KEY,
	letter_id TEXT NOT NULL,
	email_key TEXT NOT NULL,
	first_name TEXT NOT NULL,
	last_name TEXT NOT NULL,
	email TEXT NOT NULL,
	address TEXT NOT NULL,
	city TEXT NOT NULL,
	state TEXT NOT NULL,
	zip TEXT NOT NULL,
	phone TEXT NOT NULL,
	opt_in $BOOL NOT NULL,
	source TEXT NOT NULL,
	utm_source TEXT NOT NULL DEFAULT '',
	utm_medium TEXT NOT NULL DEFAULT '',
	utm_campaign TEXT NOT NULL DEFAULT '',
	utm_term TEXT NOT NULL DEFAULT '',
	utm_content TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at $TS NOT NULL,
	UNIQUE (letter_id, email_key)
);
CREATE TABLE IF NOT EXISTS messages (
	id TEXT PRIMARY KEY,
	signature_id TEXT NOT NULL REFERENCES signatures (id),
	target_index INTEGER NOT NULL,
	target_name TEXT NOT NULL,
	target_email TEXT NOT NULL,
	to_addr TEXT NOT NULL,
	from_addr TEXT NOT NULL,
	reply_to TEXT NOT NULL,
	subject TEXT NOT NULL,
	text TEXT NOT NULL,
	tag TEXT NOT NULL,
	state TEXT NOT NULL,
	provider_id TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	created_at $TS NOT NULL,
	updated_at $TS NOT NULL,
	UNIQUE (signature_id, target_index)
);
CREATE INDEX IF NOT EXISTS messages_state ON messages (state);
`)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	if s.postgres {
		// Processes starting together take turns creating the tables.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7428001)`); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	for _, stmt := range strings.Split(schema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	for _, c := range addedColumns {
		if err := s.addColumn(ctx, tx, c.table, c.name, c.def); err != nil {
			return fmt.Errorf("store: migrate: add %s.%s: %w", c.table, c.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// addedColumns came after their table: a database made before lacks them
// (CREATE TABLE IF NOT EXISTS leaves it as it is), so migrate adds them.
var addedColumns = []struct{ table, name, def string }{
	{"signatures", "utm_source", "TEXT NOT NULL DEFAULT ''"},
	{"signatures", "utm_medium", "TEXT NOT NULL DEFAULT ''"},
	{"signatures", "utm_campaign", "TEXT NOT NULL DEFAULT ''"},
	{"signatures", "utm_term", "TEXT NOT NULL DEFAULT ''"},
	{"signatures", "utm_content", "TEXT NOT NULL DEFAULT ''"},
}

// addColumn adds a column the table lacks. SQLite has no ADD COLUMN IF NOT
// EXISTS, so it asks the table first.
func (s *Store) addColumn(ctx context.Context, tx *sql.Tx, table, name, def string) error {
	if s.postgres {
		_, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN IF NOT EXISTS `+name+` `+def)
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = $2`, table, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN `+name+` `+def)
	return err
}

// Tx is what Record's callers may do inside the recording transaction
// (enqueue the delivery, for example), so that it commits or fails with it.
type Tx = *sql.Tx

// Record stores a signature and its messages in one transaction, state
// queued, then runs also (when not nil) in the same transaction. When the
// address already signed this letter it returns the first signature and
// letter.ErrDuplicate, and stores nothing.
func (s *Store) Record(ctx context.Context, sig *letter.Signature, msgs []letter.Message, also func(Tx) error) (*letter.Signature, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: record: %w", err)
	}
	defer tx.Rollback()

	now := time.Now().UTC()
	sig.CreatedAt = now
	res, err := tx.ExecContext(ctx, `INSERT INTO signatures (email_key, `+signatureColumns.names()+`)
		VALUES ($1, `+signatureColumns.placeholders(2)+`) ON CONFLICT (letter_id, email_key) DO NOTHING`,
		append([]any{letter.EmailKey(sig.Email)}, signatureColumns.of(sig)...)...)
	if err != nil {
		return nil, fmt.Errorf("store: record signature: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("store: record signature: %w", err)
	} else if n == 0 {
		first, err := s.signatureByEmail(ctx, tx, sig.Letter, letter.EmailKey(sig.Email))
		if err != nil {
			return nil, err
		}
		return first, letter.ErrDuplicate
	}
	for i := range msgs {
		m := &msgs[i]
		m.SignatureID, m.State, m.CreatedAt, m.UpdatedAt = sig.ID, letter.StateQueued, now, now
		_, err := tx.ExecContext(ctx, `INSERT INTO messages (`+messageColumns.names()+`)
			VALUES (`+messageColumns.placeholders(1)+`)`, messageColumns.of(m)...)
		if err != nil {
			return nil, fmt.Errorf("store: record message: %w", err)
		}
	}
	if also != nil {
		if err := also(tx); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: record: commit: %w", err)
	}
	return sig, nil
}

func (s *Store) signatureByEmail(ctx context.Context, q querier, letterID, emailKey string) (*letter.Signature, error) {
	row := q.QueryRowContext(ctx, `SELECT `+signatureColumns.names()+` FROM signatures WHERE letter_id = $1 AND email_key = $2`,
		letterID, emailKey)
	return scan(row, signatureColumns)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// columns maps a table's columns to where each value lives in a domain
// value: the one list that inserts, selects and scans use.
type columns[T any] []struct {
	name  string
	field func(*T) any // a pointer to the field
}

func (c columns[T]) names() string {
	names := make([]string, len(c))
	for i, col := range c {
		names[i] = col.name
	}
	return strings.Join(names, ", ")
}

// placeholders are $first, $first+1, … for an insert of every column.
func (c columns[T]) placeholders(first int) string {
	p := make([]string, len(c))
	for i := range c {
		p[i] = fmt.Sprintf("$%d", first+i)
	}
	return strings.Join(p, ", ")
}

// of are pointers to v's fields in column order: Scan fills them, and
// database/sql reads through them for an insert.
func (c columns[T]) of(v *T) []any {
	ptrs := make([]any, len(c))
	for i, col := range c {
		ptrs[i] = col.field(v)
	}
	return ptrs
}

// signatureColumns are the signatures table's, but email_key (derived).
var signatureColumns = columns[letter.Signature]{
	{"id", func(g *letter.Signature) any { return &g.ID }},
	{"letter_id", func(g *letter.Signature) any { return &g.Letter }},
	{"first_name", func(g *letter.Signature) any { return &g.FirstName }},
	{"last_name", func(g *letter.Signature) any { return &g.LastName }},
	{"email", func(g *letter.Signature) any { return &g.Email }},
	{"address", func(g *letter.Signature) any { return &g.Address }},
	{"city", func(g *letter.Signature) any { return &g.City }},
	{"state", func(g *letter.Signature) any { return &g.State }},
	{"zip", func(g *letter.Signature) any { return &g.Zip }},
	{"phone", func(g *letter.Signature) any { return &g.Phone }},
	{"opt_in", func(g *letter.Signature) any { return &g.OptIn }},
	{"source", func(g *letter.Signature) any { return &g.Source }},
	{"utm_source", func(g *letter.Signature) any { return &g.UTMSource }},
	{"utm_medium", func(g *letter.Signature) any { return &g.UTMMedium }},
	{"utm_campaign", func(g *letter.Signature) any { return &g.UTMCampaign }},
	{"utm_term", func(g *letter.Signature) any { return &g.UTMTerm }},
	{"utm_content", func(g *letter.Signature) any { return &g.UTMContent }},
	{"subject", func(g *letter.Signature) any { return &g.Subject }},
	{"body", func(g *letter.Signature) any { return &g.Body }},
	{"created_at", func(g *letter.Signature) any { return &g.CreatedAt }},
}

// messageColumns are the messages table's.
var messageColumns = columns[letter.Message]{
	{"id", func(m *letter.Message) any { return &m.ID }},
	{"signature_id", func(m *letter.Message) any { return &m.SignatureID }},
	{"target_index", func(m *letter.Message) any { return &m.TargetIndex }},
	{"target_name", func(m *letter.Message) any { return &m.TargetName }},
	{"target_email", func(m *letter.Message) any { return &m.TargetEmail }},
	{"to_addr", func(m *letter.Message) any { return &m.To }},
	{"from_addr", func(m *letter.Message) any { return &m.From }},
	{"reply_to", func(m *letter.Message) any { return &m.ReplyTo }},
	{"subject", func(m *letter.Message) any { return &m.Subject }},
	{"text", func(m *letter.Message) any { return &m.Text }},
	{"tag", func(m *letter.Message) any { return &m.Tag }},
	{"state", func(m *letter.Message) any { return &m.State }},
	{"provider_id", func(m *letter.Message) any { return &m.ProviderID }},
	{"error", func(m *letter.Message) any { return &m.Error }},
	{"attempts", func(m *letter.Message) any { return &m.Attempts }},
	{"created_at", func(m *letter.Message) any { return &m.CreatedAt }},
	{"updated_at", func(m *letter.Message) any { return &m.UpdatedAt }},
}

// scan reads one row into a new T through its columns.
func scan[T any](sc interface{ Scan(...any) error }, cols columns[T]) (*T, error) {
	v := new(T)
	err := sc.Scan(cols.of(v)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, letter.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read %T: %w", *v, err)
	}
	return v, nil
}

// Message returns one message by its id.
func (s *Store) Message(ctx context.Context, id string) (*letter.Message, error) {
	return scan(s.db.QueryRowContext(ctx, `SELECT `+messageColumns.names()+` FROM messages WHERE id = $1`, id), messageColumns)
}

// Messages returns a signature's messages in target order.
func (s *Store) Messages(ctx context.Context, signatureID string) ([]letter.Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+messageColumns.names()+` FROM messages WHERE signature_id = $1 ORDER BY target_index`, signatureID)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	return collectMessages(rows)
}

func collectMessages(rows *sql.Rows) ([]letter.Message, error) {
	defer rows.Close()
	var out []letter.Message
	for rows.Next() {
		m, err := scan(rows, messageColumns)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

// MessagesInState returns up to limit messages in a state, oldest change
// first: the failed ones with their reasons, or the ones still queued.
func (s *Store) MessagesInState(ctx context.Context, state string, limit int) ([]letter.Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+messageColumns.names()+` FROM messages WHERE state = $1 ORDER BY updated_at LIMIT $2`, state, limit)
	if err != nil {
		return nil, fmt.Errorf("store: messages in state: %w", err)
	}
	return collectMessages(rows)
}

// MarkSent records that the mail service accepted the message.
func (s *Store) MarkSent(ctx context.Context, id, providerID string) error {
	return s.mark(ctx, id, letter.StateSent, providerID, "")
}

// MarkFailed records that the message could not be delivered, and why.
func (s *Store) MarkFailed(ctx context.Context, id, reason string) error {
	return s.mark(ctx, id, letter.StateFailed, "", reason)
}

// MarkAttempt records a failed attempt that will be retried.
func (s *Store) MarkAttempt(ctx context.Context, id, reason string) error {
	return s.mark(ctx, id, letter.StateQueued, "", reason)
}

func (s *Store) mark(ctx context.Context, id, state, providerID, reason string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE messages
		SET state = $1, provider_id = CASE WHEN $2 = '' THEN provider_id ELSE $2 END, error = $3,
		    attempts = attempts + 1, updated_at = $4
		WHERE id = $5 AND state <> 'sent'`,
		state, providerID, reason, time.Now().UTC(), id)
	if err != nil {
		return fmt.Errorf("store: mark %s: %w", state, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Message(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Counts returns the number of messages in each state.
func (s *Store) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM messages GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{letter.StateQueued: 0, letter.StateSent: 0, letter.StateFailed: 0}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("store: counts: %w", err)
		}
		counts[state] = n
	}
	return counts, rows.Err()
}

// SentVia counts the messages recorded as sent whose provider id starts
// with prefix (letters the local outbox kept, say).
func (s *Store) SentVia(ctx context.Context, prefix string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE state = $1 AND provider_id LIKE $2`,
		letter.StateSent, prefix+"%").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count sent: %w", err)
	}
	return n, nil
}

// SignatureCount returns how many signatures are recorded.
func (s *Store) SignatureCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM signatures`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count signatures: %w", err)
	}
	return n, nil
}

// Package store keeps signatures and the messages merged from them, with
// each message's delivery state, in SQL: SQLite on one machine, Postgres
// when many processes share the work. Nothing is answered to a supporter
// before their signature and messages are committed here.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver
)

// Message states.
const (
	StateQueued = "queued"
	StateSent   = "sent"
	StateFailed = "failed"
)

// Signature is one supporter's signature of one letter, as recorded.
type Signature struct {
	ID        string
	LetterID  string
	FirstName string
	LastName  string
	Email     string
	Address   string
	City      string
	State     string
	Zip       string
	Phone     string
	OptIn     bool
	Source    string
	// Subject and Body are what the supporter sent; empty means they kept
	// the published letter.
	Subject   string
	Body      string
	CreatedAt time.Time
}

// Message is one merged letter to one target and where its delivery stands.
type Message struct {
	// ID is our Message-Id, stable for (signature, target).
	ID          string
	SignatureID string
	TargetIndex int
	TargetName  string
	TargetEmail string
	// To is the envelope recipient, fixed when the letter is recorded: the
	// target, or the sandbox address of a preview. Delivery sends exactly
	// this, whatever process sends it.
	To      string
	From    string
	ReplyTo string
	Subject string
	Text    string
	Tag     string
	State   string
	// ProviderID is the id the mail service gave the message.
	ProviderID string
	// Error is why the last attempt failed, in the mail service's words.
	Error     string
	Attempts  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ErrDuplicate is returned by Record when the same email address already
// signed the same letter. The first signature is returned with it.
var ErrDuplicate = errors.New("store: this address already signed this letter")

// ErrNotFound is returned when a message or signature does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is a handle on the database.
type Store struct {
	db      *sql.DB
	dialect dialect
}

type dialect int

const (
	sqlite dialect = iota
	postgres
)

// OpenSQLite opens (creating if needed) the SQLite database in dir and
// brings its schema up to date.
func OpenSQLite(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, "campaign.db")
	// WAL lets the worker read while the handler writes; the busy timeout
	// makes concurrent writers wait instead of failing.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite allows one writer at a time; River's SQLite driver and our
	// transactions share one connection rather than fail with SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, dialect: sqlite}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// OpenPostgres opens the Postgres database at url (DATABASE_URL) and
// brings its schema up to date.
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	s := &Store{db: db, dialect: postgres}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Postgres reports whether the store is on Postgres (else SQLite).
func (s *Store) Postgres() bool { return s.dialect == postgres }

// DB is the underlying database, for the delivery queue that shares it.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	ts, boolean := "TIMESTAMP", "BOOLEAN"
	if s.dialect == postgres {
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
	if s.dialect == postgres {
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
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// NewID returns a random identifier for a signature.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("store: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// EmailKey is the form of an address used to recognise a repeat signer.
func EmailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// Tx is what Record's callers may do inside the recording transaction
// (enqueue the delivery, for example), so that it commits or fails with it.
type Tx = *sql.Tx

// Record stores a signature and its messages in one transaction, state
// queued, then runs also (when not nil) in the same transaction. When the
// address already signed this letter it returns the first signature and
// ErrDuplicate, and stores nothing.
func (s *Store) Record(ctx context.Context, sig *Signature, msgs []Message, also func(Tx) error) (*Signature, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: record: %w", err)
	}
	defer tx.Rollback()

	now := time.Now().UTC()
	sig.CreatedAt = now
	res, err := tx.ExecContext(ctx, `INSERT INTO signatures
		(id, letter_id, email_key, first_name, last_name, email, address, city, state, zip, phone, opt_in, source, subject, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (letter_id, email_key) DO NOTHING`,
		sig.ID, sig.LetterID, EmailKey(sig.Email), sig.FirstName, sig.LastName, sig.Email, sig.Address, sig.City,
		sig.State, sig.Zip, sig.Phone, sig.OptIn, sig.Source, sig.Subject, sig.Body, now)
	if err != nil {
		return nil, fmt.Errorf("store: record signature: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("store: record signature: %w", err)
	} else if n == 0 {
		first, err := s.signatureByEmail(ctx, tx, sig.LetterID, EmailKey(sig.Email))
		if err != nil {
			return nil, err
		}
		return first, ErrDuplicate
	}
	for i := range msgs {
		m := &msgs[i]
		m.SignatureID, m.State, m.CreatedAt, m.UpdatedAt = sig.ID, StateQueued, now, now
		_, err := tx.ExecContext(ctx, `INSERT INTO messages
			(id, signature_id, target_index, target_name, target_email, to_addr, from_addr, reply_to, subject, text, tag, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			m.ID, m.SignatureID, m.TargetIndex, m.TargetName, m.TargetEmail, m.To, m.From, m.ReplyTo, m.Subject, m.Text, m.Tag,
			m.State, now, now)
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

func (s *Store) signatureByEmail(ctx context.Context, q querier, letterID, emailKey string) (*Signature, error) {
	row := q.QueryRowContext(ctx, `SELECT `+signatureColumns+` FROM signatures WHERE letter_id = $1 AND email_key = $2`,
		letterID, emailKey)
	return scanSignature(row)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const signatureColumns = `id, letter_id, first_name, last_name, email, address, city, state, zip, phone, opt_in, source, subject, body, created_at`

func scanSignature(row *sql.Row) (*Signature, error) {
	var g Signature
	err := row.Scan(&g.ID, &g.LetterID, &g.FirstName, &g.LastName, &g.Email, &g.Address, &g.City, &g.State, &g.Zip,
		&g.Phone, &g.OptIn, &g.Source, &g.Subject, &g.Body, &g.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: signature: %w", err)
	}
	return &g, nil
}

const messageColumns = `id, signature_id, target_index, target_name, target_email, to_addr, from_addr, reply_to, subject, text, tag,
	state, provider_id, error, attempts, created_at, updated_at`

func scanMessage(sc interface{ Scan(...any) error }) (*Message, error) {
	var m Message
	err := sc.Scan(&m.ID, &m.SignatureID, &m.TargetIndex, &m.TargetName, &m.TargetEmail, &m.To, &m.From, &m.ReplyTo,
		&m.Subject, &m.Text, &m.Tag, &m.State, &m.ProviderID, &m.Error, &m.Attempts, &m.CreatedAt, &m.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: message: %w", err)
	}
	return &m, nil
}

// Message returns one message by its id.
func (s *Store) Message(ctx context.Context, id string) (*Message, error) {
	return scanMessage(s.db.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1`, id))
}

// Messages returns a signature's messages in target order.
func (s *Store) Messages(ctx context.Context, signatureID string) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE signature_id = $1 ORDER BY target_index`, signatureID)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	return collectMessages(rows)
}

func collectMessages(rows *sql.Rows) ([]Message, error) {
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

// MessagesInState returns up to limit messages in a state, oldest change
// first: the failed ones with their reasons, or the ones still queued.
func (s *Store) MessagesInState(ctx context.Context, state string, limit int) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE state = $1 ORDER BY updated_at LIMIT $2`, state, limit)
	if err != nil {
		return nil, fmt.Errorf("store: messages in state: %w", err)
	}
	return collectMessages(rows)
}

// MarkSent records that the mail service accepted the message.
func (s *Store) MarkSent(ctx context.Context, id, providerID string) error {
	return s.mark(ctx, id, StateSent, providerID, "")
}

// MarkFailed records that the message could not be delivered, and why.
func (s *Store) MarkFailed(ctx context.Context, id, reason string) error {
	return s.mark(ctx, id, StateFailed, "", reason)
}

// MarkAttempt records a failed attempt that will be retried.
func (s *Store) MarkAttempt(ctx context.Context, id, reason string) error {
	return s.mark(ctx, id, StateQueued, "", reason)
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
	counts := map[string]int{StateQueued: 0, StateSent: 0, StateFailed: 0}
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

// SignatureCount returns how many signatures are recorded.
func (s *Store) SignatureCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM signatures`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count signatures: %w", err)
	}
	return n, nil
}

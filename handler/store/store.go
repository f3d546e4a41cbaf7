// Package store keeps signatures and the messages merged from them, with
// each message's delivery state, in SQL: SQLite on one machine, Postgres
// when many processes share the work (the sqlite and postgres packages
// open each). Nothing is answered to a supporter before their signature
// and messages are committed here.
package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river/riverdriver"

	"campaignkit/handler/letter"
)

// Store is a handle on the database.
type Store struct {
	db       *sql.DB
	postgres bool
	queue    riverdriver.Driver[*sql.Tx]
	prepared map[string]*sql.Stmt // on SQLite: the sign path's statements
	onClose  []func() error
}

// New returns a store on db, an SQLite or a Postgres database (postgres
// says which), with queue the delivery queue's driver for the same
// database, and brings the schema up to date.
func New(ctx context.Context, db *sql.DB, postgres bool, queue riverdriver.Driver[*sql.Tx]) (*Store, error) {
	s := &Store{db: db, postgres: postgres, queue: queue}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// The sign path's statements, each run once or more per signature.
var (
	insertSignature = `INSERT INTO signatures (email_key, ` + signatureColumns.names() + `)
		VALUES ($1, ` + signatureColumns.placeholders(2) + `) ON CONFLICT (letter_id, email_key) DO NOTHING`
	selectMails = `SELECT sent_at FROM confirm_mails
		WHERE letter_id = $1 AND email_hash = $2 AND sent_at > $3`
	// The LIMIT bounds the work at the ceiling, however busy the minute.
	countRecent = `SELECT COUNT(*) FROM (SELECT 1 FROM signatures
		WHERE sig_state = 'confirmed' AND confirmed_at > $1 LIMIT $2) AS recent`
)

// The confirmation path's statements. Each names its index: SQLite's
// planner, without statistics, took a full scan of the signatures for the
// token (its index is partial, and a parameter does not show it applies)
// and every message in the state for the signature's messages (an index
// on the state), so that each confirmation cost as much as the signatures
// or letters still waiting, and a viral day's confirmations slowed down
// to a few a second.
var (
	selectByToken = `SELECT ` + signatureColumns.names() + ` FROM signatures
		WHERE token_hash = $1 AND token_hash <> ''`
	// "state || ''" is no column for an index: the signature's own index
	// finds its few messages.
	updateMessageStates = `UPDATE messages SET state = $1, updated_at = $2
		WHERE signature_id = $3 AND state || '' = $4 RETURNING id, target_index`
)

// prepare prepares the sign path's statements on SQLite, where parsing
// them again for each signature took a third of their time. Not on
// Postgres: pgx keeps its own, and a pooler in transaction mode may not
// keep a connection's prepared statements.
func (s *Store) prepare(ctx context.Context) error {
	if s.postgres {
		return nil
	}
	s.prepared = map[string]*sql.Stmt{}
	queries := []string{insertSignature, selectMails, countRecent, selectByToken, updateMessageStates, upsertTally}
	for n := 1; n <= sqliteRowsAtOnce; n *= 2 {
		queries = append(queries, messageRows.insert(n), mailRows.insert(n), signatureRows.insert(n))
	}
	for _, q := range queries {
		st, err := s.db.PrepareContext(ctx, positional(q))
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		s.prepared[q] = st
	}
	return nil
}

// positional is q with its parameters $1, $2 … written ?, when each
// appears once and in order (else q as it is), string literals untouched: the SQLite driver looks up
// a numbered parameter's name at each run, in a list as long as the
// parameters, which made a 32-row INSERT spend more time binding its
// values than inserting them; plain ? have no name to look up.
func positional(q string) string {
	var b strings.Builder
	next := 1
	for i := 0; i < len(q); i++ {
		if q[i] == '\'' {
			// A string literal is copied as it is: a '$1' in it is text.
			j := strings.IndexByte(q[i+1:], '\'')
			if j < 0 {
				return q
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
			continue
		}
		if q[i] != '$' {
			b.WriteByte(q[i])
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if q[i+1:j] != strconv.Itoa(next) {
			return q
		}
		b.WriteByte('?')
		next++
		i = j - 1
	}
	return b.String()
}

// stmt is query in tx: prepared once, when it was (prepare), else parsed
// now (nil).
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if st := s.prepared[query]; st != nil {
		return tx.StmtContext(ctx, st)
	}
	return nil
}

func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

func (s *Store) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.stmt(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// Postgres reports whether the store is on Postgres (else SQLite).
func (s *Store) Postgres() bool { return s.postgres }

// DB is the underlying database.
func (s *Store) DB() *sql.DB { return s.db }

// QueueDriver is River's driver for this database, for the delivery queue
// that shares it.
func (s *Store) QueueDriver() riverdriver.Driver[*sql.Tx] { return s.queue }

// Close closes the database, after what OnClose named.
func (s *Store) Close() error {
	var errs []error
	for _, f := range s.onClose {
		errs = append(errs, f())
	}
	return errors.Join(append(errs, s.db.Close())...)
}

// OnClose has Close run f first: what the database's opener started
// beside it.
func (s *Store) OnClose(f func() error) { s.onClose = append(s.onClose, f) }

// migrations are the schema's versions in order; the database records
// the last one applied (schema_version), and each runs once, in one
// transaction with the rest. $TS and $BOOL name each dialect's types.
var migrations = []string{
	// 1: signatures and the messages merged from them.
	`CREATE TABLE IF NOT EXISTS signatures (
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
CREATE INDEX IF NOT EXISTS messages_state ON messages (state);`,
	// 2: confirmation by email. Signatures recorded before it were sent
	// without one: they count as confirmed when they were made. An
	// unconfirmed signature's email_key is the address plus "#" and its
	// id, so the unique (letter, email_key) allows any number of attempts
	// in one address's name but only one confirmed signature.
	`ALTER TABLE signatures ADD COLUMN sig_state TEXT NOT NULL DEFAULT 'confirmed';
ALTER TABLE signatures ADD COLUMN token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE signatures ADD COLUMN confirmed_at $TS;
UPDATE signatures SET confirmed_at = created_at;
CREATE INDEX signatures_token ON signatures (token_hash) WHERE token_hash <> '';
CREATE INDEX signatures_unconfirmed ON signatures (created_at) WHERE sig_state = 'unconfirmed';
CREATE INDEX signatures_confirmed_at ON signatures (confirmed_at) WHERE sig_state = 'confirmed';
CREATE INDEX signatures_held ON signatures (letter_id, created_at) WHERE sig_state = 'held';
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'letter';
CREATE TABLE tallies (
	letter_id TEXT NOT NULL,
	name TEXT NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY (letter_id, name)
);`,
	// 3: the per-client limit shared by every process (Limiter). Its
	// times are Unix milliseconds: integer arithmetic reads the same in
	// SQLite and Postgres, where their timestamps do not.
	`CREATE TABLE client_limits (
	client TEXT PRIMARY KEY,
	full_at BIGINT NOT NULL,
	allowed INTEGER NOT NULL
);
CREATE INDEX client_limits_full_at ON client_limits (full_at);`,
	// 4: the share link's UTM tags, beside source.
	`ALTER TABLE signatures ADD COLUMN utm_source TEXT NOT NULL DEFAULT '';
ALTER TABLE signatures ADD COLUMN utm_medium TEXT NOT NULL DEFAULT '';
ALTER TABLE signatures ADD COLUMN utm_campaign TEXT NOT NULL DEFAULT '';
ALTER TABLE signatures ADD COLUMN utm_term TEXT NOT NULL DEFAULT '';
ALTER TABLE signatures ADD COLUMN utm_content TEXT NOT NULL DEFAULT '';`,
	// 5: versions before 5 wrote the signature's state (confirmed, …) in
	// place of the address's US state, which is lost: empty is honest.
	`UPDATE signatures SET state = '' WHERE state IN ('unconfirmed', 'confirmed', 'held')`,
	// 6: the confirmation emails each (letter, address) was sent, kept a
	// day for the throttle: a hash of the address, not the address.
	`CREATE TABLE confirm_mails (
	letter_id TEXT NOT NULL,
	email_hash TEXT NOT NULL,
	sent_at $TS NOT NULL
);
CREATE INDEX confirm_mails_key ON confirm_mails (letter_id, email_hash, sent_at);`,
	// 7: the tokens of Mailgun's webhooks seen lately, hashed, so that a
	// replayed event is refused (DeliveryEvent). Unix milliseconds, as in 3.
	`CREATE TABLE webhook_tokens (
	token_hash TEXT PRIMARY KEY,
	seen_at BIGINT NOT NULL
);
CREATE INDEX webhook_tokens_seen_at ON webhook_tokens (seen_at);`,
	// 8: the public count (tally "counted": signatures whose letters are
	// sent or on their way), kept as each one becomes confirmed, so that
	// reading it never counts rows. It starts from the confirmed ones.
	`INSERT INTO tallies (letter_id, name, n)
	SELECT letter_id, 'counted', COUNT(*) FROM signatures WHERE sig_state = 'confirmed' GROUP BY letter_id;`,
	// 9: the opt-in's time, words and language (an earlier opt-in's time is
	// its signature's; its words were not kept), and retention: purged_at
	// marks a signature whose personal data is deleted (see Purge).
	`ALTER TABLE signatures ADD COLUMN opt_in_at $TS;
ALTER TABLE signatures ADD COLUMN opt_in_text TEXT NOT NULL DEFAULT '';
ALTER TABLE signatures ADD COLUMN opt_in_lang TEXT NOT NULL DEFAULT '';
ALTER TABLE signatures ADD COLUMN purged_at $TS;
UPDATE signatures SET opt_in_at = created_at WHERE opt_in;
CREATE INDEX signatures_unpurged ON signatures (created_at) WHERE purged_at IS NULL;`,
	// 10: the campaign's sending pace on Postgres, one row every sending
	// process shares (ReserveSends): the next free send time and the end
	// of a pause, in microseconds of the database's clock. Unused on SQLite.
	`CREATE TABLE send_pace (
	id INTEGER PRIMARY KEY,
	next_at BIGINT NOT NULL,
	paused_until BIGINT NOT NULL
);
INSERT INTO send_pace (id, next_at, paused_until) VALUES (1, 0, 0);`,
	// 11: the organizer's room. Whether the signer edited the letter (kept
	// when a rejection deletes the words), why its letters were held
	// (review of an edited letter, or the ceiling: the only reason
	// before), and an index for exports and hourly counts in time order.
	`ALTER TABLE signatures ADD COLUMN edited $BOOL NOT NULL DEFAULT FALSE;
UPDATE signatures SET edited = (subject <> '' OR body <> '');
ALTER TABLE signatures ADD COLUMN hold TEXT NOT NULL DEFAULT '';
UPDATE signatures SET hold = 'ceiling' WHERE sig_state = 'held';
CREATE INDEX signatures_created ON signatures (created_at, id);`,
	// 12: the language the signer signed in (the form's lang): the pages
	// and emails that follow speak it. Empty: the site's default, as every
	// signature before it was.
	`ALTER TABLE signatures ADD COLUMN lang TEXT NOT NULL DEFAULT '';`,
}

// SchemaVersion is the schema this program works with.
var SchemaVersion = len(migrations)

func (s *Store) migrate(ctx context.Context) error {
	ts, boolean := "TIMESTAMP", "BOOLEAN"
	if s.postgres {
		ts = "TIMESTAMPTZ"
	}
	types := strings.NewReplacer("$TS", ts, "$BOOL", boolean)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	if s.postgres {
		// Processes starting together take turns migrating.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7428001)`); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	version := 0
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("store: the database's schema (version %d) is newer than this program's (%d): deploy the newer program", version, len(migrations))
	}
	for v := version + 1; v <= len(migrations); v++ {
		for _, stmt := range strings.Split(types.Replace(migrations[v-1]), ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("store: migrate to version %d: %w", v, err)
			}
		}
	}
	if version < len(migrations) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, len(migrations)); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// Tx is what Record's callers may do inside the recording transaction
// (enqueue the delivery, for example), so that it commits or fails with it.
type Tx = *sql.Tx

// Limits are the campaign's bounds the store applies as it records.
type Limits struct {
	// Ceiling is how many signatures a minute, campaign-wide, may have
	// their letters queued; beyond it they are held for an organizer.
	// Zero means no ceiling.
	Ceiling int
	// ConfirmTTL is how long a confirmation link works.
	ConfirmTTL time.Duration
}

// Confirmation mails per letter and address: at most one per
// mailInterval and mailsPerDay a day.
const (
	mailInterval = 10 * time.Minute
	mailsPerDay  = 3
)

// Record stores a signature and its messages in one transaction, then
// runs also (when not nil) in the same transaction.
//
// A confirmed signature (its letter needs no confirmation) takes its
// address for the letter: when the address already signed, Record stores
// nothing but the repeat's opt-in, if the first had none (adoptOptIn), and
// returns the first signature with letter.ErrDuplicate. Its
// messages are queued, or held (sig.State and each message's State say
// which) when the campaign is past its ceiling.
//
// An unconfirmed signature is one attempt among any number in the same
// name; Record refuses it with letter.ErrThrottled, storing nothing, when
// the address was mailed a confirmation for this letter too recently.
func (s *Store) Record(ctx context.Context, sig *letter.Signature, msgs []letter.Message, lim Limits, also func(Tx) error) (*letter.Signature, error) {
	g := &Signing{Sig: sig, Msgs: msgs}
	var each func(Tx, []*Signing) error
	if also != nil {
		each = func(tx Tx, _ []*Signing) error { return also(tx) }
	}
	s.RecordAll(ctx, []*Signing{g}, lim, each)
	return g.First, g.Err
}

// Signing is one signature to record with its messages (RecordAll), and
// what became of it: First and Err as Record returns them.
type Signing struct {
	Sig  *letter.Signature
	Msgs []letter.Message

	First *letter.Signature
	Err   error
}

// RecordAll records signatures that arrived together in one transaction
// (group commit: one commit costs SQLite about as much as the rows it
// writes), each exactly as Record would one after the other, and runs also
// once with those recorded (not duplicates, not throttled) before the
// commit. When the transaction fails, each signature is recorded again in
// a transaction of its own, so that one bad row fails no other.
func (s *Store) RecordAll(ctx context.Context, batch []*Signing, lim Limits, also func(tx Tx, recorded []*Signing) error) {
	if len(batch) == 0 {
		return
	}
	// Recording sets the signature's and messages' states and times: a
	// retry starts again from what the caller gave.
	type given struct {
		sig  letter.Signature
		msgs []letter.Message
	}
	var saved []given
	if len(batch) > 1 {
		saved = make([]given, len(batch))
		for i, g := range batch {
			saved[i] = given{*g.Sig, slices.Clone(g.Msgs)}
		}
	}
	err := s.recordAll(ctx, batch, lim, also)
	if err == nil {
		return
	}
	if len(batch) == 1 {
		batch[0].First, batch[0].Err = nil, err
		return
	}
	for i, g := range batch {
		*g.Sig = saved[i].sig
		copy(g.Msgs, saved[i].msgs)
		if err := s.recordAll(ctx, []*Signing{g}, lim, also); err != nil {
			g.First, g.Err = nil, err
		}
	}
}

// recordAll is RecordAll's one transaction; it fails as a whole.
func (s *Store) recordAll(ctx context.Context, batch []*Signing, lim Limits, also func(Tx, []*Signing) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: record: %w", err)
	}
	defer tx.Rollback()
	var recorded []*Signing
	counted := map[string]int{} // by letter, for the public count
	later := &batchRows{}
	for _, g := range batch {
		g.First, g.Err = s.record(ctx, tx, g, lim, later)
		switch {
		case g.Err == nil:
			recorded = append(recorded, g)
			if g.Sig.State == letter.SignatureConfirmed {
				counted[g.Sig.Letter]++
			}
		case errors.Is(g.Err, letter.ErrDuplicate), errors.Is(g.Err, letter.ErrThrottled):
			// The signature's answer, not a failure: the rest goes on.
		default:
			return g.Err
		}
	}
	// The unconfirmed signatures' rows, before their messages (which name
	// them); one found there already is a duplicate, as record says.
	inserted, err := s.insertSignatures(ctx, tx, later.sigs)
	if err != nil {
		return err
	}
	for _, g := range later.unconfirmed {
		if inserted[g.Sig.ID] {
			continue
		}
		if g.First, g.Err = s.duplicate(ctx, tx, g.Sig, later.keys[g]); g.Err != nil && !errors.Is(g.Err, letter.ErrDuplicate) {
			return g.Err
		}
		recorded = slices.DeleteFunc(recorded, func(r *Signing) bool { return r == g })
	}
	if err := s.insertMessages(ctx, tx, recorded); err != nil {
		return err
	}
	if err := s.insertRows(ctx, tx, mailRows, later.mails); err != nil {
		return fmt.Errorf("store: throttle: %w", err)
	}
	if also != nil && len(recorded) > 0 {
		if err := also(tx, recorded); err != nil {
			return err
		}
	}
	// Last before the commit: on Postgres the tally's row stays locked
	// until then, and every confirmation of the letter waits for it. In one
	// order, so that two batches never wait on each other's tallies.
	for _, l := range slices.Sorted(maps.Keys(counted)) {
		if err := s.addTally(ctx, tx, l, tallyCounted, counted[l]); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: record: commit: %w", err)
	}
	return nil
}

// record writes one signature and its messages in tx (Record), all but
// its tally.
func (s *Store) record(ctx context.Context, tx *sql.Tx, g *Signing, lim Limits, later *batchRows) (*letter.Signature, error) {
	sig, msgs := g.Sig, g.Msgs
	now := time.Now().UTC()
	sig.CreatedAt = now
	if sig.OptIn {
		sig.OptInAt = now
	}
	key := letter.EmailKey(sig.Email)
	if sig.State == letter.SignatureUnconfirmed {
		if err := s.throttle(ctx, tx, sig.Letter, key, now, later); err != nil {
			return nil, err
		}
		key += "#" + sig.ID
	} else {
		sig.ConfirmedAt = now
		held, err := s.hold(ctx, tx, sig, lim.Ceiling, now)
		if err != nil {
			return nil, err
		}
		sig.State = letter.SignatureConfirmed
		if held {
			sig.State = letter.SignatureHeld
		}
	}
	if sig.State == letter.SignatureUnconfirmed {
		// Inserted with the batch's others (recordAll).
		later.sigs = append(append(later.sigs, key), signatureColumns.values(sig)...)
		later.unconfirmed = append(later.unconfirmed, g)
		if later.keys == nil {
			later.keys = map[*Signing]string{}
		}
		later.keys[g] = key
	} else {
		res, err := s.exec(ctx, tx, insertSignature, append([]any{key}, signatureColumns.values(sig)...)...)
		if err != nil {
			return nil, fmt.Errorf("store: record signature: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("store: record signature: %w", err)
		} else if n == 0 {
			return s.duplicate(ctx, tx, sig, key)
		}
	}
	// Its messages are inserted with the batch's (insertMessages): nothing
	// before that reads them.
	for i := range msgs {
		m := &msgs[i]
		m.SignatureID, m.CreatedAt, m.UpdatedAt = sig.ID, now, now
		if m.Kind == "" {
			m.Kind = letter.KindLetter
		}
		if m.State == "" {
			m.State = letter.StateQueued
		}
		// Past the ceiling, a letter given no state is held too.
		if sig.State == letter.SignatureHeld && m.State == letter.StateQueued {
			m.State = letter.StateHeld
		}
	}
	return sig, nil
}

// rowsInsert is a multi-row INSERT into a table, made once for each
// number of rows.
type rowsInsert struct {
	table  string
	names  string // the columns, comma-separated
	width  int    // how many
	suffix string // after the values
	made   sync.Map
}

// insert is the INSERT of n rows.
func (r *rowsInsert) insert(n int) string {
	if q, ok := r.made.Load(n); ok {
		return q.(string)
	}
	values := make([]string, n)
	for i := range values {
		values[i] = "(" + placeholders(1+i*r.width, r.width) + ")"
	}
	q := `INSERT INTO ` + r.table + ` (` + r.names + `) VALUES ` + strings.Join(values, ", ") + r.suffix
	r.made.Store(n, q)
	return q
}

var (
	messageRows = &rowsInsert{table: "messages", names: messageColumns.names(), width: len(messageColumns)}
	// As insertSignature, telling which were inserted.
	signatureRows = &rowsInsert{table: "signatures", names: "email_key, " + signatureColumns.names(),
		width: 1 + len(signatureColumns), suffix: " ON CONFLICT (letter_id, email_key) DO NOTHING RETURNING id"}
	// A confirmation mail sent: the throttle's count.
	mailRows = &rowsInsert{table: "confirm_mails", names: "letter_id, email_hash, sent_at", width: 3}
)

// messagesAtOnce bounds one INSERT's rows on Postgres (it takes 65,535
// parameters; SQLite 32,766).
const messagesAtOnce = 500

// sqliteRowsAtOnce bounds one multi-row INSERT on SQLite. Its statements
// are prepared once for 1, 2, 4 … sqliteRowsAtOnce rows (parsing a long
// INSERT costs more there than running a short one again), and n rows go
// in as few of them as n's binary digits: 14 messages in 3 statements.
const sqliteRowsAtOnce = 32

// RowsAtOnce is the size of the next multi-row INSERT on SQLite for n rows
// still to insert: the largest power of two ≤ n, at most most.
func RowsAtOnce(n, most int) int {
	k := 1
	for k*2 <= n && k*2 <= most {
		k *= 2
	}
	return k
}

// duplicate is the answer to sig, whose key (address) signed before:
// the first signature, given the repeat's opt-in if it had none, and
// letter.ErrDuplicate.
func (s *Store) duplicate(ctx context.Context, tx *sql.Tx, sig *letter.Signature, key string) (*letter.Signature, error) {
	first, err := s.signatureByEmail(ctx, tx, sig.Letter, key)
	if err != nil {
		return nil, err
	}
	if err := s.adoptOptIn(ctx, tx, first, sig); err != nil {
		return nil, err
	}
	return first, letter.ErrDuplicate
}

// insertSignatures inserts signature rows (email_key then
// signatureColumns, one after the other) many a statement, skipping any
// whose address already signed, and returns the ids of those inserted.
func (s *Store) insertSignatures(ctx context.Context, tx *sql.Tx, rows []any) (map[string]bool, error) {
	inserted := map[string]bool{}
	err := s.eachRows(signatureRows, rows, func(q string, args []any) error {
		r, err := s.query(ctx, tx, q, args...)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			inserted[id] = true
		}
		return r.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("store: record signatures: %w", err)
	}
	return inserted, nil
}

// insertMessages inserts the messages of the signatures recorded in a
// batch (insertRows).
func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, recorded []*Signing) error {
	var rows []any
	for _, g := range recorded {
		for i := range g.Msgs {
			rows = append(rows, messageColumns.values(&g.Msgs[i])...)
		}
	}
	if err := s.insertRows(ctx, tx, messageRows, rows); err != nil {
		return fmt.Errorf("store: record messages: %w", err)
	}
	return nil
}

// insertRows inserts rows (r.width values each, one after the other) many
// a statement: on Postgres each statement is a round trip to the server;
// on SQLite each costs its own run of the statement's program, cursors and
// driver calls (there in the prepared sizes, sqliteRowsAtOnce).
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, r *rowsInsert, rows []any) error {
	return s.eachRows(r, rows, func(q string, args []any) error {
		_, err := s.exec(ctx, tx, q, args...)
		return err
	})
}

// eachRows runs do with r's INSERT of as many rows at a time as
// insertRows says, and their values.
func (s *Store) eachRows(r *rowsInsert, rows []any, do func(q string, args []any) error) error {
	n := len(rows) / r.width
	most := messagesAtOnce
	if s.prepared != nil {
		most = sqliteRowsAtOnce
	}
	for n > 0 {
		k := min(n, most)
		if s.prepared != nil {
			k = RowsAtOnce(n, most)
		}
		if err := do(r.insert(k), rows[:k*r.width]); err != nil {
			return err
		}
		rows, n = rows[k*r.width:], n-k
	}
	return nil
}

// batchRows are rows a batch inserts together after its loop over the
// signatures: the confirmation mails it counts for the throttle, with
// which (letter, address) they are for, and its unconfirmed signatures.
type batchRows struct {
	mails []any
	seen  map[[2]string]bool
	// An unconfirmed signature's key is its own (address#id): none is a
	// duplicate of another's, and none counts against the ceiling, so
	// nothing read in the loop depends on their rows.
	unconfirmed []*Signing
	keys        map[*Signing]string
	sigs        []any
}

// throttle refuses another confirmation mail for (letter, address) within
// mailInterval of the last, or beyond mailsPerDay a day, and otherwise
// counts this one.
func (s *Store) throttle(ctx context.Context, tx *sql.Tx, letterID, key string, now time.Time, mails *batchRows) error {
	sum := sha256.Sum256([]byte(key))
	hash := hex.EncodeToString(sum[:])
	// One already counted in this batch was sent within mailInterval: the
	// answer the database would give once its row is inserted.
	if mails.seen[[2]string{letterID, hash}] {
		return letter.ErrThrottled
	}
	if s.postgres {
		// Two attempts at once in one name take turns, so both cannot pass.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, letterID+" "+hash); err != nil {
			return fmt.Errorf("store: throttle: %w", err)
		}
	}
	rows, err := s.query(ctx, tx, selectMails, letterID, hash, now.Add(-24*time.Hour))
	if err != nil {
		return fmt.Errorf("store: throttle: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&at); err != nil {
			return fmt.Errorf("store: throttle: %w", err)
		}
		if n++; n >= mailsPerDay || now.Sub(at) < mailInterval {
			return letter.ErrThrottled
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: throttle: %w", err)
	}
	if mails.seen == nil {
		mails.seen = map[[2]string]bool{}
	}
	mails.seen[[2]string{letterID, hash}] = true
	mails.mails = append(mails.mails, letterID, hash, now)
	return nil
}

// hold reports whether a signature being confirmed waits for an
// organizer: an edited letter to review (its Hold, set when signed), or
// the campaign past its ceiling (then Hold says so).
func (s *Store) hold(ctx context.Context, tx *sql.Tx, sig *letter.Signature, ceiling int, now time.Time) (bool, error) {
	if sig.Hold == letter.HoldReview {
		return true, nil
	}
	held, err := s.pastCeiling(ctx, tx, ceiling, now)
	if held {
		sig.Hold = letter.HoldCeiling
	}
	return held, err
}

// pastCeiling reports whether ceiling signatures have had their letters
// queued in the last minute.
func (s *Store) pastCeiling(ctx context.Context, tx *sql.Tx, ceiling int, now time.Time) (bool, error) {
	if ceiling <= 0 {
		return false, nil
	}
	var n int
	err := s.queryRow(ctx, tx, countRecent, now.Add(-time.Minute), ceiling).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: ceiling: %w", err)
	}
	return n >= ceiling, nil
}

// Pending returns an unconfirmed or confirmed signature by its token's
// hash, with its letters (to targets) in target order. An unconfirmed one
// past ttl is letter.ErrNotFound, as if it were gone.
func (s *Store) Pending(ctx context.Context, tokenHash string, ttl time.Duration) (*letter.Signature, []letter.Message, error) {
	sig, err := scan(s.db.QueryRowContext(ctx, selectByToken, tokenHash), signatureColumns)
	if err != nil {
		return nil, nil, err
	}
	if expired(sig, ttl, time.Now()) {
		return nil, nil, letter.ErrNotFound
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+messageColumns.names()+` FROM messages
		WHERE signature_id = $1 AND kind = 'letter' ORDER BY target_index`, sig.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("store: pending: %w", err)
	}
	msgs, err := collectMessages(rows)
	return sig, msgs, err
}

func expired(sig *letter.Signature, ttl time.Duration, now time.Time) bool {
	if ttl <= 0 {
		ttl = letter.DefaultConfirmTTL
	}
	return sig.State == letter.SignatureUnconfirmed && now.Sub(sig.CreatedAt) > ttl
}

// Confirm confirms the signature whose token hashes to tokenHash: its
// letters are queued (or held, past the ceiling) and also runs with the
// ids of the messages queued, in the same transaction. It returns the
// signature, or:
//   - letter.ErrNotFound for an unknown or expired token;
//   - letter.ErrConfirmed, with the signature, when it was confirmed before;
//   - letter.ErrDuplicate, with that signature, when another attempt in the
//     same name was confirmed first; this attempt's opt-in, if that one had
//     none, is recorded on it (adoptOptIn). Nothing is queued for these.
func (s *Store) Confirm(ctx context.Context, tokenHash string, lim Limits, also func(tx Tx, queued []string) error) (*letter.Signature, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: confirm: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	lock := ""
	if s.postgres {
		lock = " FOR UPDATE"
	}
	sig, err := scan(s.queryRow(ctx, tx, selectByToken+lock, tokenHash), signatureColumns)
	if err != nil {
		return nil, err
	}
	if sig.State != letter.SignatureUnconfirmed {
		return sig, letter.ErrConfirmed
	}
	if expired(sig, lim.ConfirmTTL, now) {
		return nil, letter.ErrNotFound
	}
	key := letter.EmailKey(sig.Email)
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, sig.Letter+" "+key); err != nil {
			return nil, fmt.Errorf("store: confirm: %w", err)
		}
	}
	if first, err := s.signatureByEmail(ctx, tx, sig.Letter, key); err == nil {
		if err := s.adoptOptIn(ctx, tx, first, sig); err != nil {
			return nil, err
		}
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("store: confirm: commit: %w", err)
		}
		return first, letter.ErrDuplicate
	} else if !errors.Is(err, letter.ErrNotFound) {
		return nil, err
	}
	held, err := s.hold(ctx, tx, sig, lim.Ceiling, now)
	if err != nil {
		return nil, err
	}
	sig.State, sig.ConfirmedAt = letter.SignatureConfirmed, now
	next := letter.StateQueued
	if held {
		sig.State, next = letter.SignatureHeld, letter.StateHeld
	}
	if _, err := tx.ExecContext(ctx, `UPDATE signatures SET sig_state = $1, confirmed_at = $2, email_key = $3, hold = $4 WHERE id = $5`,
		sig.State, now, key, sig.Hold, sig.ID); err != nil {
		return nil, fmt.Errorf("store: confirm: %w", err)
	}
	queued, err := s.moveMessages(ctx, tx, sig.ID, letter.StateUnconfirmed, next, now)
	if err != nil {
		return nil, err
	}
	if also != nil && len(queued) > 0 {
		if err := also(tx, queued); err != nil {
			return nil, err
		}
	}
	if sig.State == letter.SignatureConfirmed { // last: see Record
		if err := s.addTally(ctx, tx, sig.Letter, tallyCounted, 1); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: confirm: commit: %w", err)
	}
	return sig, nil
}

// moveMessages moves a signature's messages from one state to another and
// returns the ids of those that are now queued.
func (s *Store) moveMessages(ctx context.Context, tx *sql.Tx, signatureID, from, to string, now time.Time) ([]string, error) {
	rows, err := s.query(ctx, tx, updateMessageStates, to, now, signatureID, from)
	if err != nil {
		return nil, fmt.Errorf("store: move messages: %w", err)
	}
	defer rows.Close()
	type moved struct {
		id    string
		index int
	}
	var all []moved
	for rows.Next() {
		var m moved
		if err := rows.Scan(&m.id, &m.index); err != nil {
			return nil, fmt.Errorf("store: move messages: %w", err)
		}
		all = append(all, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: move messages: %w", err)
	}
	if to != letter.StateQueued {
		return nil, nil
	}
	// The letters first, the signer's copy last.
	slices.SortFunc(all, func(a, b moved) int {
		if (a.index < 0) != (b.index < 0) {
			return cmp.Compare(b.index, a.index)
		}
		return cmp.Compare(a.index, b.index)
	})
	ids := make([]string, len(all))
	for i, m := range all {
		ids[i] = m.id
	}
	return ids, nil
}

// Release queues the letters of up to limit signatures of a letter held
// by the ceiling (every letter when letterID is empty), oldest first,
// running also with the ids of the messages queued in the same
// transaction. It returns how many signatures it released. Letters held
// for review wait for an organizer's decision (ReleaseSignatures).
func (s *Store) Release(ctx context.Context, letterID string, limit int, also func(tx Tx, queued []string) error) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM signatures WHERE sig_state = 'held' AND hold <> 'review' AND ($1 = '' OR letter_id = $1)
		ORDER BY created_at LIMIT $2`, letterID, limit)
	if err != nil {
		return 0, fmt.Errorf("store: release: %w", err)
	}
	ids, err := collectIDs(rows)
	if err != nil {
		return 0, fmt.Errorf("store: release: %w", err)
	}
	// As an organizer's release: each only if it is still held when its
	// turn comes (an organizer may have released or rejected it since).
	return s.ReleaseSignatures(ctx, ids, also)
}

// Expire deletes the signatures still unconfirmed after ttl, with their
// messages: their personal data is gone, and only the count of them is
// kept (the tally "expired" of each letter). It returns how many.
func (s *Store) Expire(ctx context.Context, ttl time.Duration) (int, error) {
	if ttl <= 0 {
		ttl = letter.DefaultConfirmTTL
	}
	return s.expireBefore(ctx, time.Now().UTC().Add(-ttl))
}

// expireBefore is Expire of the signatures unconfirmed since before.
func (s *Store) expireBefore(ctx context.Context, before time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: expire: %w", err)
	}
	defer tx.Rollback()
	// The rows are locked as they are chosen (Postgres), so a confirmation
	// at the same moment waits, then finds its signature gone: it can never
	// be confirmed while its letters are being deleted.
	lock := ""
	if s.postgres {
		lock = " FOR UPDATE"
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, letter_id FROM signatures
		WHERE sig_state = 'unconfirmed' AND created_at < $1`+lock, before)
	if err != nil {
		return 0, fmt.Errorf("store: expire: %w", err)
	}
	counts := map[string]int{}
	var ids []any
	for rows.Next() {
		var id, letterID string
		if err := rows.Scan(&id, &letterID); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: expire: %w", err)
		}
		counts[letterID]++
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: expire: %w", err)
	}
	// The throttle needs a day of confirmation mails, no more.
	if _, err := tx.ExecContext(ctx, `DELETE FROM confirm_mails WHERE sent_at < $1`, time.Now().UTC().Add(-24*time.Hour)); err != nil {
		return 0, fmt.Errorf("store: expire: %w", err)
	}
	if len(counts) == 0 {
		return 0, tx.Commit()
	}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		in := placeholders(1, len(chunk))
		for _, stmt := range []string{
			`DELETE FROM messages WHERE signature_id IN (` + in + `)`,
			`DELETE FROM signatures WHERE id IN (` + in + `)`,
		} {
			if _, err := tx.ExecContext(ctx, stmt, chunk...); err != nil {
				return 0, fmt.Errorf("store: expire: %w", err)
			}
		}
	}
	total := 0
	for id, n := range counts {
		total += n
		if _, err := tx.ExecContext(ctx, `INSERT INTO tallies (letter_id, name, n) VALUES ($1, 'expired', $2)
			ON CONFLICT (letter_id, name) DO UPDATE SET n = tallies.n + excluded.n`, id, n); err != nil {
			return 0, fmt.Errorf("store: expire: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: expire: commit: %w", err)
	}
	return total, nil
}

// placeholders are $first, …, $(first+n-1), comma-separated.
func placeholders(first, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("$%d", first+i)
	}
	return strings.Join(p, ", ")
}

// upsertTally adds to a letter's tally, once a batch of signatures.
const upsertTally = `INSERT INTO tallies (letter_id, name, n) VALUES ($1, $2, $3)
	ON CONFLICT (letter_id, name) DO UPDATE SET n = tallies.n + excluded.n`

// tallyCounted is the tally of a letter's signatures that became
// confirmed: their letters are sent or on their way (Count).
const tallyCounted = "counted"

// addTally adds n to a letter's tally in tx.
func (s *Store) addTally(ctx context.Context, tx *sql.Tx, letterID, name string, n int) error {
	if _, err := s.exec(ctx, tx, upsertTally, letterID, name, n); err != nil {
		return fmt.Errorf("store: tally %s: %w", name, err)
	}
	return nil
}

// Count is the public count of a letter: its signatures whose letters
// were sent or are on their way (confirmed, not held), from the tally
// kept as each is confirmed, not by counting rows.
func (s *Store) Count(ctx context.Context, letterID string) (int, error) {
	return s.Tally(ctx, letterID, tallyCounted)
}

// Tally returns a letter's count by name ("expired"), zero when none.
func (s *Store) Tally(ctx context.Context, letterID, name string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT n FROM tallies WHERE letter_id = $1 AND name = $2`, letterID, name).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: tally: %w", err)
	}
	return n, nil
}

// SignatureStates counts signatures by state (unconfirmed, confirmed,
// held), with "expired" from the tallies.
func (s *Store) SignatureStates(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	rows, err := s.db.QueryContext(ctx, `SELECT sig_state, COUNT(*) FROM signatures GROUP BY sig_state
		UNION ALL SELECT 'expired', COALESCE(SUM(n), 0) FROM tallies WHERE name = 'expired'`)
	if err != nil {
		return nil, fmt.Errorf("store: signature states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("store: signature states: %w", err)
		}
		counts[state] += n
	}
	return counts, rows.Err()
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
func (c columns[T]) placeholders(first int) string { return placeholders(first, len(c)) }

// of are pointers to v's fields in column order: Scan fills them, and
// database/sql reads through them for an insert.
func (c columns[T]) of(v *T) []any {
	ptrs := make([]any, len(c))
	for i, col := range c {
		ptrs[i] = col.field(v)
	}
	return ptrs
}

// values are v's fields in column order for an insert: the values
// themselves where database/sql takes them as they are, sparing it a
// reflection on each pointer (the sign path inserts some sixty a
// signature).
func (c columns[T]) values(v *T) []any {
	vals := c.of(v)
	for i, p := range vals {
		switch p := p.(type) {
		case *string:
			vals[i] = *p
		case *bool:
			vals[i] = *p
		case *int:
			vals[i] = int64(*p)
		case *time.Time:
			vals[i] = *p
		}
	}
	return vals
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
	// The address's state: Signature.State is the signature's (sig_state).
	{"state", func(g *letter.Signature) any { return &g.Signer.State }},
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
	{"sig_state", func(g *letter.Signature) any { return &g.State }},
	{"edited", func(g *letter.Signature) any { return &g.Edited }},
	{"hold", func(g *letter.Signature) any { return &g.Hold }},
	{"token_hash", func(g *letter.Signature) any { return &g.TokenHash }},
	{"confirmed_at", func(g *letter.Signature) any { return nullTime{&g.ConfirmedAt} }},
	{"opt_in_at", func(g *letter.Signature) any { return nullTime{&g.OptInAt} }},
	{"opt_in_text", func(g *letter.Signature) any { return &g.OptInText }},
	{"opt_in_lang", func(g *letter.Signature) any { return &g.OptInLang }},
	{"lang", func(g *letter.Signature) any { return &g.Lang }},
	{"purged_at", func(g *letter.Signature) any { return nullTime{&g.PurgedAt} }},
}

// nullTime is a time column that may be NULL: the zero time, both ways.
type nullTime struct{ t *time.Time }

func (n nullTime) Scan(v any) error {
	var nt sql.NullTime
	if err := nt.Scan(v); err != nil {
		return err
	}
	*n.t = nt.Time
	return nil
}

func (n nullTime) Value() (driver.Value, error) {
	if n.t.IsZero() {
		return nil, nil
	}
	return *n.t, nil
}

// messageColumns are the messages table's.
var messageColumns = columns[letter.Message]{
	{"id", func(m *letter.Message) any { return &m.ID }},
	{"signature_id", func(m *letter.Message) any { return &m.SignatureID }},
	{"kind", func(m *letter.Message) any { return &m.Kind }},
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

// MarkAttempt records a failed attempt that will be retried. It changes
// only a message still queued: one the service's webhooks meanwhile said
// failed (an attempt that timed out after the service took it) stays so,
// and is not sent again.
func (s *Store) MarkAttempt(ctx context.Context, id, reason string) error {
	return s.mark(ctx, id, letter.StateQueued, "", reason)
}

// mark leaves alone a message recorded as sent, or as delivered or
// complained by the service's webhooks, which can arrive before a
// sender's own record of the send; back to queued, only a queued one.
func (s *Store) mark(ctx context.Context, id, state, providerID, reason string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE messages
		SET state = $1, provider_id = CASE WHEN $2 = '' THEN provider_id ELSE $2 END, error = $3,
		    attempts = attempts + 1, updated_at = $4
		WHERE id = $5 AND state NOT IN ('sent', 'delivered', 'complained') AND ($1 <> 'queued' OR state = 'queued')`,
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

// Counts returns the number of letters to targets in each state (emails
// to signers are not counted).
func (s *Store) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM messages WHERE kind = 'letter' GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{letter.StateQueued: 0, letter.StateSent: 0, letter.StateFailed: 0,
		letter.StateDelivered: 0, letter.StateComplained: 0}
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

// SentVia counts the letters to targets recorded as sent whose provider id
// starts with prefix (letters the local outbox kept, say).
func (s *Store) SentVia(ctx context.Context, prefix string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE kind = 'letter' AND state = $1 AND provider_id LIKE $2`,
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

package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler/letter"
	"campaignkit/handler/queue"
	"campaignkit/handler/store/sqlite"
)

// ceilingResult is what the database alone committed.
type ceilingResult struct {
	rps      float64
	p99      time.Duration // of one batch's transaction
	batch    int
	way      string
	rowsEach string
	written  int64 // bytes the process wrote a signature (0: unknown)
}

// ceiling commits the rows the intake commits for each signature straight
// to SQLite, the fastest way this program found: batch signatures a
// transaction (group-committed as the intake's are), one multi-row INSERT
// per table, prepared once, on the schema `campaign serve` makes (same
// tables, indexes and River's), one connection, WAL, synchronous=NORMAL.
// Nothing is checked or read: no duplicate, throttle or ceiling query, no
// HTTP; the rows are merged by another goroutine, ahead of the writer.
//
// Confirmation off, a signature is a confirmed signature, its two letters
// and their two River jobs; on, an unconfirmed signature, its two letters
// waiting, the email that asks to confirm, its job and the throttle's row.
// Either way the letter's public count is bumped once a transaction.
func ceiling(ctx context.Context, d time.Duration, batch int, confirm bool) (ceilingResult, error) {
	res := ceilingResult{batch: batch, way: "multi-row INSERTs prepared once"}
	dir, err := os.MkdirTemp("", "bench-ceiling-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return res, err
	}
	defer st.Close()
	if err := queue.Migrate(ctx, st); err != nil {
		return res, err
	}
	db := st.DB()

	letters, err := letter.Load(os.DirFS("handler/testdata/site"))
	if err != nil {
		return res, err
	}
	l := letters["family-separation"]
	how := letter.Sending{From: mail.Address{Address: "letters@mg.example"}, MessageIDDomain: "mg.example",
		SiteURL: "https://example.org", TokenKey: []byte("bench")}

	sigCols := []string{"id", "letter_id", "email_key", "first_name", "last_name", "email", "address", "city", "state", "zip",
		"phone", "opt_in", "source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "subject", "body",
		"created_at", "sig_state", "token_hash", "confirmed_at", "opt_in_at", "opt_in_text", "opt_in_lang", "purged_at"}
	msgCols := []string{"id", "signature_id", "kind", "target_index", "target_name", "target_email", "to_addr", "from_addr",
		"reply_to", "subject", "text", "tag", "state", "provider_id", "error", "attempts", "created_at", "updated_at"}
	jobCols := []string{"args", "created_at", "kind", "max_attempts", "metadata", "priority", "queue", "scheduled_at",
		"state", "tags", "unique_key", "unique_states"}
	jobVals := "(jsonb(?), ?, ?, ?, jsonb(?), ?, ?, ?, ?, jsonb(?), ?, ?)"

	// One signature's rows: the messages and jobs per signature depend on
	// confirmation.
	msgsEach, jobsEach := 2, 2
	if confirm {
		msgsEach, jobsEach = 3, 1
	}
	res.rowsEach = fmt.Sprintf("1 signature + %d messages + %d jobs", msgsEach, jobsEach)
	if confirm {
		res.rowsEach += " + 1 throttle row"
	}
	prepare := func(table string, cols []string, values string, rows int) (*sql.Stmt, error) {
		if values == "" {
			values = "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		}
		all := strings.TrimSuffix(strings.Repeat(values+", ", rows), ", ")
		return db.PrepareContext(ctx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES "+all)
	}
	insSig, err := prepare("signatures", sigCols, "", batch)
	if err != nil {
		return res, err
	}
	insMsg, err := prepare("messages", msgCols, "", batch*msgsEach)
	if err != nil {
		return res, err
	}
	insJob, err := prepare("river_job", jobCols, jobVals, batch*jobsEach)
	if err != nil {
		return res, err
	}
	insMail, err := prepare("confirm_mails", []string{"letter_id", "email_hash", "sent_at"}, "", batch)
	if err != nil {
		return res, err
	}
	tally, err := db.PrepareContext(ctx, `INSERT INTO tallies (letter_id, name, n) VALUES (?, 'counted', ?)
		ON CONFLICT (letter_id, name) DO UPDATE SET n = tallies.n + excluded.n`)
	if err != nil {
		return res, err
	}

	// Each batch's values are made by another goroutine while the batch
	// before commits: the writer only writes.
	sign := func(i int) (*letter.Signature, []letter.Message) {
		s := &letter.Signer{Letter: l.ID, FirstName: "Load", LastName: fmt.Sprintf("Signer %d", i), Email: fmt.Sprintf("signer%d@example.org", i),
			Address: fmt.Sprintf("%d Main St", i), City: "Springfield", State: "IL", Zip: "62701", Subject: l.Subject, Body: l.Body}
		if confirm {
			return letter.SignToConfirm(l, s, how)
		}
		return letter.Sign(l, s, how)
	}
	type args struct{ sig, msgs, jobs, mails []any }
	batches := make(chan args, 4)
	prodCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer close(batches)
		for i := 0; ; {
			a := args{make([]any, 0, batch*len(sigCols)), make([]any, 0, batch*msgsEach*len(msgCols)),
				make([]any, 0, batch*jobsEach*len(jobCols)), make([]any, 0, batch*3)}
			now := time.Now().UTC()
			at := now.Format("2006-01-02 15:04:05.999999999")
			for range batch {
				sig, msgs := sign(i)
				i++
				key, confirmedAt := letter.EmailKey(sig.Email), any(nil)
				if confirm {
					key += "#" + sig.ID
				} else {
					sig.State, confirmedAt = letter.SignatureConfirmed, now
				}
				a.sig = append(a.sig, sig.ID, sig.Letter, key, sig.FirstName, sig.LastName, sig.Email, sig.Address, sig.City,
					sig.Signer.State, sig.Zip, sig.Phone, sig.OptIn, sig.Source, "", "", "", "", "", sig.Subject, sig.Body,
					now, sig.State, sig.TokenHash, confirmedAt, nil, "", "", nil)
				for _, m := range msgs {
					a.msgs = append(a.msgs, m.ID, sig.ID, m.Kind, m.TargetIndex, m.TargetName, m.TargetEmail, m.To, m.From,
						m.ReplyTo, m.Subject, m.Text, m.Tag, m.State, "", "", 0, now, now)
					if m.State != letter.StateQueued {
						continue
					}
					jobArgs := fmt.Sprintf(`{"message_id":%q}`, m.ID)
					// As the queue inserts them (queue.DeliverArgs, and the
					// confirmation email first).
					opts := queue.DeliverArgs{}.InsertOpts()
					priority := opts.Priority
					if m.Kind == letter.KindConfirm {
						priority = 1
					}
					var unique, uniqueStates any
					if opts.UniqueOpts.ByArgs {
						sum := sha256.Sum256([]byte("&kind=deliver_message&args=" + jobArgs))
						// 245: River's default unique states (all but cancelled and discarded).
						unique, uniqueStates = sum[:], 245
					}
					a.jobs = append(a.jobs, jobArgs, at, "deliver_message", 1500, "{}", priority, queue.QueueName, at,
						"available", "[]", unique, uniqueStates)
				}
				hash := sha256.Sum256([]byte(letter.EmailKey(sig.Email)))
				a.mails = append(a.mails, sig.Letter, fmt.Sprintf("%x", hash), now)
			}
			select {
			case batches <- a:
			case <-prodCtx.Done():
				return
			}
		}
	}()
	<-time.After(100 * time.Millisecond) // let the producer get ahead

	var lat []time.Duration
	n := 0
	w0 := written()
	start := time.Now()
	for time.Since(start) < d {
		a := <-batches
		t0 := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return res, err
		}
		for _, ins := range []struct {
			stmt *sql.Stmt
			args []any
			skip bool
		}{{insSig, a.sig, false}, {insMsg, a.msgs, false}, {insJob, a.jobs, false}, {insMail, a.mails, !confirm}} {
			if ins.skip {
				continue
			}
			if _, err := tx.StmtContext(ctx, ins.stmt).ExecContext(ctx, ins.args...); err != nil {
				tx.Rollback()
				return res, err
			}
		}
		if !confirm {
			if _, err := tx.StmtContext(ctx, tally).ExecContext(ctx, l.ID, batch); err != nil {
				tx.Rollback()
				return res, err
			}
		}
		if err := tx.Commit(); err != nil {
			return res, err
		}
		lat = append(lat, time.Since(t0))
		n += batch
	}
	res.rps = float64(n) / time.Since(start).Seconds()
	res.written = (written() - w0) / int64(max(n, 1))
	res.p99 = loadtest.Percentile(lat, 99)
	return res, nil
}

package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
)

// pace runs three `campaign worker` processes on one Postgres queue with a
// backlog of about d's worth of letters at R, against a stand-in Mailgun
// that answers 429 above R a second, each process set to
// CAMPAIGN_SEND_RATE = R: the campaign's rate, which they must share.
// server names a Postgres server; the run makes its own database there and
// drops it after.
func pace(server string, rate, processes int, d time.Duration) error {
	if server == "" {
		fmt.Println("pace: skipped (it needs Postgres: -database-url)")
		return nil
	}
	ctx := context.Background()
	databaseURL, drop, err := scratchDatabase(server)
	if err != nil {
		return err
	}
	defer drop()
	tmp, err := os.MkdirTemp("", "bench-pace-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "campaign")
	build := exec.Command("go", "build", "-o", bin, "./cmd/campaign")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	letters, err := letter.Load(os.DirFS("handler/testdata/site"))
	if err != nil {
		return err
	}
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{RateLimit: rate})
	env := map[string]string{"DATABASE_URL": databaseURL, "MAILGUN_API_KEY": mg.APIKey,
		"MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase(), "CAMPAIGN_SEND_TIMEOUT": "10s",
		"CAMPAIGN_SEND_RATE": fmt.Sprint(rate), "CAMPAIGN_WORKERS": "16", "CAMPAIGN_MAX_SIGN_RATE": "0",
		"CAMPAIGN_CONFIRM": "off", "CAMPAIGN_DATA_DIR": filepath.Join(tmp, "data")}

	// The backlog, written by an insert-only process before the workers start.
	cfg, parts, err := campaign(ctx, env, 0)
	if err != nil {
		return err
	}
	defer parts.Close()
	sending := cfg.Sending()
	signatures := max(1, int(float64(rate)*d.Seconds())/2)
	var mu sync.Mutex
	var ids []string
	var fillErr error
	fillStart := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := &letter.Signer{Letter: "family-separation", FirstName: "F", LastName: "L", Email: loadtest.Email(i),
					Address: "A", City: "C", State: "IL", Zip: "62701"}
				sig, msgs := letter.Sign(letters["family-separation"], s, sending)
				_, err := parts.Queue.Record(ctx, sig, msgs)
				mu.Lock()
				fillErr = errors.Join(fillErr, err)
				for _, m := range msgs {
					ids = append(ids, m.ID)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range signatures {
		next <- i
	}
	close(next)
	wg.Wait()
	if fillErr != nil {
		return fillErr
	}
	fillTime := time.Since(fillStart)

	o := loadtest.Options{Binary: bin, Root: root, DataDir: env["CAMPAIGN_DATA_DIR"]}
	for k, v := range env {
		o.Env = append(o.Env, k+"="+v)
	}
	start := time.Now()
	var workers []*loadtest.Process
	defer func() {
		for _, w := range workers {
			w.Stop()
		}
	}()
	for range processes {
		w, err := loadtest.StartWorker(o)
		if err != nil {
			return err
		}
		workers = append(workers, w)
	}
	deadline := start.Add(3*d + time.Minute)
	for {
		counts, err := parts.Store.Counts(ctx)
		if err != nil {
			return err
		}
		if counts[letter.StateQueued] == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pace: %d letters still queued after %v", counts[letter.StateQueued], time.Since(start).Round(time.Second))
		}
		time.Sleep(20 * time.Millisecond)
	}
	drained := time.Since(start)
	for _, w := range workers {
		w.Stop()
	}
	workers = nil
	byProcess, err := jobsByProcess(ctx, parts.Store.DB())
	if err != nil {
		return err
	}
	// The processes have closed their connections: their statistics are in
	// once their server processes exit.
	time.Sleep(time.Second)
	var reservations int
	if err := parts.Store.DB().QueryRowContext(ctx, `SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'send_pace'`).Scan(&reservations); err != nil {
		return err
	}

	calls, statuses := mg.Calls()
	var first, last time.Time
	for _, c := range mg.Log() {
		if c.Status != 200 {
			continue
		}
		if first.IsZero() {
			first = c.At
		}
		last = c.At
	}
	msgs := mg.Messages()
	arrived := map[string]int{}
	for _, m := range msgs {
		arrived[strings.Trim(m.Get("h:Message-Id"), "<>")]++
	}
	lost, doubled := 0, 0
	for _, id := range ids {
		if arrived[id] == 0 {
			lost++
		}
	}
	for _, n := range arrived {
		doubled += n - 1
	}
	span := last.Sub(first)
	perSec := float64(len(msgs)-1) / span.Seconds()
	fmt.Printf("pace (%d `campaign worker` processes × 16 workers on one Postgres queue, CAMPAIGN_SEND_RATE = %d each, stand-in limit R = %d/s)\n", processes, rate, rate)
	fmt.Printf("  backlog:            %d letters, written in %v\n", len(ids), fillTime.Round(time.Millisecond))
	fmt.Printf("  drained in:         %v from the first process's start (first to last send: %v)\n", drained.Round(time.Millisecond), span.Round(time.Millisecond))
	fmt.Printf("  rate:               %.1f messages/s = %.1f %% of R   (goal ≥ 90 %%)\n", perSec, 100*perSec/float64(rate))
	fmt.Printf("  answered 429:       %d of %d calls = %.2f %%   (goal < 1 %%)   %v\n", statuses[429], calls, 100*float64(statuses[429])/float64(calls), statuses)
	fmt.Printf("  lost, doubled:      %d, %d   (goal 0, 0)\n", lost, doubled)
	fmt.Printf("  jobs by process:    %v\n", byProcess)
	fmt.Printf("  reservations:       %d updates of the pace row = %.2f a message\n", reservations, float64(reservations)/float64(len(msgs)))
	return nil
}

// jobsByProcess counts the completed delivery jobs by the process (River
// client) that last worked each, largest first.
func jobsByProcess(ctx context.Context, db *sql.DB) ([]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT COUNT(*) FROM river_job
		WHERE state = 'completed' AND kind = 'deliver_message'
		GROUP BY attempted_by[array_length(attempted_by, 1)] ORDER BY 1 DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var n []int
	for rows.Next() {
		var c int
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		n = append(n, c)
	}
	return n, rows.Err()
}

// scratchDatabase creates an empty database on the server and returns its
// URL and a function that drops it.
func scratchDatabase(server string) (string, func(), error) {
	admin, err := sql.Open("pgx", server)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "campaign_bench_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		return "", nil, fmt.Errorf("create a database for the run: %w", err)
	}
	drop := func() {
		if admin, err := sql.Open("pgx", server); err == nil {
			admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			admin.Close()
		}
	}
	u, err := url.Parse(server)
	if err != nil {
		drop()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler/mailgun/mailguntest"
)

// viralOptions shape the compressed day.
type viralOptions struct {
	hour    time.Duration // real time that plays one hour of the day
	peak    float64       // signatures a second at the peak
	rate    int           // the Mailgun plan's messages a second (R)
	confirm float64       // share of signers who open the email and confirm
}

// viralShape is the day's curve as a share of the peak at hour h: quiet,
// then the campaign is shared and grows fifty-fold in two hours, holds
// its peak for two, and fades, halving every two and a half hours, to the
// quiet of the start.
func viralShape(h float64) float64 {
	const quiet = 0.02
	switch {
	case h < 1:
		return quiet
	case h < 3:
		return quiet * math.Pow(1/quiet, (h-1)/2)
	case h < 5:
		return 1
	default:
		return max(quiet, math.Pow(0.5, (h-5)/2.5))
	}
}

// viralRow is what one hour of the day measured.
type viralRow struct {
	posted, accepted, failed int
	lat                      []time.Duration // of the answer to a signature
	confirmed                int
	mailWait                 []time.Duration // from the answer to the confirmation email's arrival
}

// viral plays the curve against the real `campaign serve` (its defaults:
// SQLite, confirmation by email, 16 workers), with Mailgun's stand-in
// answering 429 above R messages a second and the campaign's
// CAMPAIGN_SEND_RATE at R. Supporters arrive at the curve's rate whatever
// the answers (an open loop); a share of them confirm from the email,
// after a few minutes of the day. It prints each hour of the day, then how
// long the letters took to drain after the last signature.
func viral(o viralOptions) error {
	tmp, err := os.MkdirTemp("", "bench-viral-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := buildCampaign(tmp)
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	mg := mailguntest.New()
	defer mg.Close()
	// A call to Mailgun takes some time; above R it answers 429.
	mg.SetBehaviour(mailguntest.Behaviour{RateLimit: o.rate, Delay: 20 * time.Millisecond})
	data := filepath.Join(tmp, "data")
	opts := loadtest.Options{
		Binary: bin, Root: root, DataDir: data, Public: filepath.Join(tmp, "public"),
		Env: []string{"MAILGUN_API_KEY=" + mg.APIKey, "MAILGUN_DOMAIN=mg.example", "MAILGUN_API_BASE=" + mg.APIBase(),
			fmt.Sprintf("CAMPAIGN_SEND_RATE=%d", o.rate), "CAMPAIGN_SITE_URL=https://campaign.example",
			// Every post comes from one address here, and the campaign's
			// ceiling (600 a minute) would hold nearly every letter: an
			// organizer expecting a viral day raises it.
			"CAMPAIGN_SIGN_RATE=1000000000", "CAMPAIGN_MAX_SIGN_RATE=0"},
	}
	p, err := loadtest.Start(opts)
	if err != nil {
		return err
	}
	defer p.Stop()
	// The queue's depth, read from the server's database beside it (WAL
	// lets a reader in while it writes).
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "campaign.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	queued := func() int {
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM messages WHERE state = 'queued'`).Scan(&n)
		return n
	}

	client := loadtest.Client()
	var mu sync.Mutex
	rows := make([]viralRow, 24)
	hourOf := func(start time.Time) int { return min(23, int(time.Since(start)/o.hour)) }
	signers := map[string]time.Time{} // accepted, by email: when
	confirmers := map[string]bool{}   // confirmed, by email

	// Supporters confirm from the email a few minutes of the day after it
	// arrives (here 3 to 30).
	start := time.Now()
	var clicks sync.WaitGroup
	stopClicker := make(chan struct{})
	clickerDone := make(chan struct{})
	link := regexp.MustCompile(`/api/confirm/([A-Za-z0-9_-]+)`)
	go func() {
		defer close(clickerDone)
		seen := 0
		for {
			msgs := mg.Messages()
			for _, m := range msgs[seen:] {
				to, err := mail.ParseAddress(m.Get("to"))
				if err != nil || !strings.HasSuffix(to.Address, "@example.org") {
					continue // a letter to an official
				}
				mu.Lock()
				if at, ok := signers[to.Address]; ok {
					h := hourOf(start)
					rows[h].mailWait = append(rows[h].mailWait, time.Since(at))
				}
				mu.Unlock()
				token := link.FindStringSubmatch(m.Get("text"))
				if token == nil || rand.Float64() >= o.confirm {
					continue
				}
				delay := time.Duration((3 + 27*rand.Float64()) / 60 * float64(o.hour))
				clicks.Go(func() {
					time.Sleep(delay)
					req, _ := http.NewRequest(http.MethodPost, p.URL+"/api/confirm/"+token[1], nil)
					resp, err := client.Do(req)
					if err != nil {
						return
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusSeeOther {
						mu.Lock()
						rows[hourOf(start)].confirmed++
						confirmers[to.Address] = true
						mu.Unlock()
					}
				})
			}
			seen = len(msgs)
			select {
			case <-stopClicker:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	// The day: arrivals at the curve's rate, each post on its own.
	day := 24 * o.hour
	fmt.Printf("viral day (one hour of the day plays in %v, peak %.0f signatures/s, Mailgun plan R = %d messages/s, %.0f %% confirm; `campaign serve` on SQLite, 16 workers)\n",
		o.hour, o.peak, o.rate, 100*o.confirm)
	fmt.Printf("  %-5s %8s %10s %8s %6s %11s %12s %7s %7s %6s  %s\n", "hour", "target/s", "accepted/s", "p99", "failed",
		"confirmed/s", "queued (end)", "sent/s", "letters", "429s", "wait of the confirmation emails arriving: p50, p99")
	var posts sync.WaitGroup
	inflight := make(chan struct{}, 4096)
	next, printed := 0, 0
	sentLetters, sentConfirms, last429 := 0, 0, 0
	printRow := func(h int) {
		mu.Lock()
		r := rows[h]
		mu.Unlock()
		letters, confirms := 0, 0
		for _, m := range mg.Messages() {
			if strings.Contains(m.Get("to"), "@example.org") {
				confirms++
			} else {
				letters++
			}
		}
		_, statuses := mg.Calls()
		s := o.hour.Seconds()
		fmt.Printf("  %02d:00 %8.0f %10.0f %8v %6d %11.0f %12d %7.0f %7d %6d  %v, %v\n", h, o.peak*viralShape(float64(h)+0.5),
			float64(r.accepted)/s, loadtest.Percentile(r.lat, 99).Round(time.Millisecond), r.failed, float64(r.confirmed)/s, queued(),
			float64(letters-sentLetters+confirms-sentConfirms)/s, letters-sentLetters, statuses[http.StatusTooManyRequests]-last429,
			loadtest.Percentile(r.mailWait, 50).Round(100*time.Millisecond), loadtest.Percentile(r.mailWait, 99).Round(100*time.Millisecond))
		sentLetters, sentConfirms, last429 = letters, confirms, statuses[http.StatusTooManyRequests]
	}
	due := 0.0
	tick := time.NewTicker(2 * time.Millisecond)
	lastTick := start
	for now := range tick.C {
		elapsed := now.Sub(start)
		if elapsed >= day {
			break
		}
		for ; printed < int(elapsed/o.hour); printed++ {
			printRow(printed)
		}
		due += o.peak * viralShape(float64(elapsed)/float64(o.hour)) * now.Sub(lastTick).Seconds()
		lastTick = now
		for ; due >= 1; due-- {
			i := next
			next++
			h := int(elapsed / o.hour)
			select {
			case inflight <- struct{}{}:
			default:
				mu.Lock()
				rows[h].posted++
				rows[h].failed++ // the client's own limit: the server is far behind
				mu.Unlock()
				continue
			}
			posts.Go(func() {
				defer func() { <-inflight }()
				loadtest.Post(context.Background(), client, p.URL+"/api/sign", []int{i}, 1, func(r loadtest.Result) {
					mu.Lock()
					defer mu.Unlock()
					rows[h].posted++
					if r.Status == http.StatusSeeOther {
						rows[h].accepted++
						rows[h].lat = append(rows[h].lat, r.Latency)
						signers[loadtest.Email(i)] = time.Now()
					} else {
						rows[h].failed++
					}
				})
			})
		}
	}
	tick.Stop()
	posts.Wait()
	for ; printed < 24; printed++ {
		printRow(printed)
	}
	end := time.Now()

	// The tail: the last emails, the last confirmations, the last letters.
	deadline := end.Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		if queued() == 0 && time.Since(end) > o.hour/2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stopClicker)
	<-clickerDone
	clicks.Wait()
	for time.Now().Before(deadline) && queued() > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(end)

	var letters []mailguntest.Received
	confirms := 0
	for _, m := range mg.Messages() {
		if strings.Contains(m.Get("to"), "@example.org") {
			confirms++
		} else {
			letters = append(letters, m)
		}
	}
	mu.Lock()
	accepted, confirmed := len(signers), len(confirmers)
	d := loadtest.Count(letters, confirmers, 2)
	mu.Unlock()
	calls, statuses := mg.Calls()
	db.Close()
	p.Stop() // SQLite folds its log into the database as it closes
	size := dirSize(data)
	fmt.Printf("  the day: %d signatures accepted, %d confirmation emails sent, %d confirmed; letters expected %d, arrived %d, lost %d, duplicates %d, stray %d\n",
		accepted, confirms, confirmed, d.Expected, d.Arrived, d.Lost, d.Duplicates, d.Stray)
	fmt.Printf("  drained %v after the last signature (%.1f hours of the day); Mailgun: %d calls %v, %.0f messages/s over the run = %.0f %% of R\n",
		drained.Round(time.Second), drained.Hours()/o.hour.Hours(), calls, statuses,
		float64(len(letters)+confirms)/time.Since(start).Seconds(), 100*float64(len(letters)+confirms)/time.Since(start).Seconds()/float64(o.rate))
	fmt.Printf("  data folder: %d MB, %.1f KB a signature\n", size>>20, float64(size)/1024/float64(max(1, accepted)))
	if d.Lost != 0 || d.Stray != 0 {
		return fmt.Errorf("%d letters lost, %d stray", d.Lost, d.Stray)
	}
	return nil
}

// buildCampaign builds the campaign binary into dir.
func buildCampaign(dir string) (string, error) {
	bin := filepath.Join(dir, "campaign")
	build := exec.Command("go", "build", "-o", bin, "./cmd/campaign")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	return bin, build.Run()
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

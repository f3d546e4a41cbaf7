// Command bench measures the campaign's intake, delivery and crash figures
// on this machine and prints them (see BENCHMARKS.md):
//
//	go run ./bench                  intake, drain, crash, flood, reload and letters
//	go run ./bench -only intake     one of intake, drain, crash, flood, pace, reload, letters, viral
//	go run ./bench -only pace -database-url postgres://…   three processes, one pace
//	go run ./bench -only viral      the viral day (only when asked for)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler"
	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/sqlite"
)

func main() {
	// The in-process handler and the ceiling collect garbage as `campaign
	// serve` does.
	config.LongRunningGC(os.Getenv)
	only := flag.String("only", "", "run one benchmark: intake, drain, crash, flood, pace, reload, letters or viral")
	edits := flag.Int("reload-edits", 10, "reload: edits of the letter under campaign serve")
	manyN := flag.Int("letters", 1000, "letters: letters in the site built")
	manyRounds := flag.Int("letters-rounds", 3, "letters: builds of that site")
	floodFor := flag.Duration("flood-duration", 10*time.Second, "how long each attack of the flood run posts")
	duration := flag.Duration("intake-duration", 10*time.Second, "how long each intake run posts")
	concurrency := flag.Int("concurrency", 32, "concurrent clients for intake")
	rate := flag.Int("rate", 200, "the stand-in Mailgun's limit R, messages a second (drain, pace)")
	paceFor := flag.Duration("pace-duration", 25*time.Second, "the pace run's backlog, in sending time at R")
	backlog := flag.Int("backlog", 10000, "letters in the drain backlog")
	crashN := flag.Int("crash-signatures", 2000, "signatures in the crash run")
	rounds := flag.Int("rounds", 3, "intake: rounds of ceiling then intake, for each confirmation setting")
	profile := flag.String("cpuprofile", "", "intake: write a CPU profile of the first intake run to this file (with confirmation: to this file.confirm)")
	viralHour := flag.Duration("viral-hour", 10*time.Second, "viral: real time that plays one hour of the day")
	viralPeak := flag.Float64("viral-peak", 400, "viral: signatures a second at the peak")
	viralConfirm := flag.Float64("viral-confirm", 0.8, "viral: share of signers who confirm")
	databaseURL := flag.String("database-url", "", "intake: run on Postgres instead of SQLite, in a throwaway database made on this database's server for each run; pace: its server")
	flag.Parse()

	fmt.Printf("machine: %s/%s, %d CPUs, %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	run := func(name string, fn func() error) {
		if *only != "" && *only != name {
			return
		}
		if err := fn(); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", name, err)
			os.Exit(1)
		}
		fmt.Println()
	}
	run("intake", func() error { return intake(*duration, *concurrency, *rounds, *databaseURL, *profile) })
	run("drain", func() error { return drain(*rate, *backlog) })
	run("crash", func() error { return crash(*crashN) })
	run("flood", func() error { return flood(*floodFor, *concurrency) })
	run("pace", func() error { return pace(*databaseURL, *rate, 3, *paceFor) })
	run("reload", func() error { return reload(*edits) })
	run("letters", func() error { return manyLetters(*manyN, *manyRounds) })
	if *only == "viral" { // minutes long: only when asked for
		run("viral", func() error {
			return viral(viralOptions{hour: *viralHour, peak: *viralPeak, rate: *rate, confirm: *viralConfirm})
		})
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

type loadResult struct {
	accepted int
	failed   int
	rps      float64
	p50, p99 time.Duration
	batch    float64       // signatures a transaction, on average
	busy     float64       // share of the time a transaction was committing
	written  int64         // bytes the process wrote a signature (0: unknown)
	cpu      time.Duration // this process's CPU a signature (handler, database client, load)
	pgCPU    time.Duration // the Postgres backends' CPU a signature (0: unknown)
}

// load posts distinct signatures to url for d with c clients, each on a
// kept-alive connection of its own (loadtest.Conn).
func load(url string, d time.Duration, c int, firstIndex int) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	res := loadResult{}
	var next atomic.Int64
	next.Store(int64(firstIndex) - 1)
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conn *loadtest.Conn
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			var mine []time.Duration
			accepted, failed := 0, 0
			for ctx.Err() == nil {
				r := loadtest.PostOne(ctx, &conn, url, int(next.Add(1)))
				if r.Status == http.StatusSeeOther {
					accepted++
					mine = append(mine, r.Latency)
				} else {
					failed++
				}
			}
			mu.Lock()
			res.accepted += accepted
			res.failed += failed
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.rps = float64(res.accepted) / time.Since(start).Seconds()
	res.p50, res.p99 = loadtest.Percentile(lat, 50), loadtest.Percentile(lat, 99)
	return res
}

// campaign opens the campaign's parts as `campaign serve` does, from env.
func campaign(ctx context.Context, env map[string]string, workers int) (*config.Config, *config.Parts, error) {
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return nil, nil, err
	}
	parts, err := cfg.Open(ctx, config.Program{Workers: workers, SQLite: sqlite.Open}, quiet())
	return cfg, parts, err
}

// intake measures the real sign handler, committing each signature with
// its messages and delivery jobs, against the ceiling: the same rows
// committed straight to SQLite (see ceiling), in the same run, alternating
// rounds so that both see the same machine. It does so with confirmation
// off (letters queued at once) and on (the default: an unconfirmed
// signature and the email that asks to confirm). A bare handler that
// answers 303 at once shows what HTTP alone costs here.
func intake(d time.Duration, c, rounds int, databaseURL, profile string) error {
	ctx := context.Background()
	database := "SQLite WAL"
	if databaseURL != "" {
		database = "Postgres"
	}
	fmt.Printf("intake (%d clients, %v a run, %s; ceiling: SQLite, %d signatures a transaction)\n", c, d, database, c)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/thanks/", http.StatusSeeOther)
	}))
	load(bare.URL+"/api/sign", time.Second, c, 0) // warm up
	b := load(bare.URL+"/api/sign", d, c, 0)
	bare.Close()
	fmt.Printf("  bare 303 handler:       %6.0f req/s  p50 %-9v p99 %v\n", b.rps, b.p50.Round(time.Microsecond), b.p99.Round(time.Microsecond))

	next := 1_000_000
	for _, confirm := range []bool{false, true} {
		mode := "confirmation off (letters queued at once)"
		if confirm {
			mode = "confirmation on (the default: signature unconfirmed, confirmation email queued)"
		}
		fmt.Printf("  %s\n", mode)
		var ratios []float64
		var lastBatch float64
		for round := range rounds {
			ceil, err := ceiling(ctx, d, c, confirm)
			if err != nil {
				return err
			}
			// The first intake run of each setting is profiled, alone.
			stopProfile := func() {}
			if profile != "" && round == 0 {
				name := profile
				if confirm {
					name += ".confirm"
				}
				f, err := os.Create(name)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
			}
			r, stored, err := intakeRun(ctx, d, c, confirm, databaseURL, next)
			stopProfile()
			if err != nil {
				return err
			}
			next += 1_000_000
			lastBatch = r.batch
			ratio := 100 * r.rps / ceil.rps
			ratios = append(ratios, ratio)
			fmt.Printf("    round %d: ceiling %6.0f sig/s  (%s; p99 %v a transaction; %d KB written a signature)\n",
				round+1, ceil.rps, ceil.rowsEach, ceil.p99.Round(time.Microsecond), ceil.written>>10)
			fmt.Printf("             intake  %6.0f sig/s  p50 %-9v p99 %-9v  = %.1f %% of the ceiling\n",
				r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), ratio)
			fmt.Printf("                     failed %d, stored %d; %.1f signatures a transaction, committing %.0f %% of the time; %d KB written a signature\n",
				r.failed, stored, r.batch, 100*r.busy, r.written>>10)
			fmt.Printf("                     CPU a signature: %v in this process (handler, database client, load generator)", r.cpu.Round(time.Microsecond))
			if r.pgCPU > 0 {
				fmt.Printf(", %v in Postgres's backends", r.pgCPU.Round(time.Microsecond))
			}
			fmt.Println()
		}
		slices.Sort(ratios)
		fmt.Printf("    median: %.1f %% of the ceiling (goal ≥ 75 %%, p99 ≤ 50 ms)\n", ratios[len(ratios)/2])
		// What the same rows cost in batches as small as the intake's: the
		// part of the gap that is the batches' size, not the HTTP.
		small := max(1, int(lastBatch+0.5))
		ceil, err := ceiling(ctx, d, small, confirm)
		if err != nil {
			return err
		}
		fmt.Printf("    the ceiling in batches of %d (the intake's): %.0f sig/s (%d KB written a signature)\n", small, ceil.rps, ceil.written>>10)
	}
	return nil
}

// intakeRun posts to the real sign handler for d (after a second's warm
// up) on a fresh database (SQLite, or Postgres on databaseURL's server),
// and counts what it stored.
func intakeRun(ctx context.Context, d time.Duration, c int, confirm bool, databaseURL string, first int) (loadResult, int, error) {
	dir, err := os.MkdirTemp("", "bench-intake-")
	if err != nil {
		return loadResult{}, 0, err
	}
	defer os.RemoveAll(dir)
	letters, err := letter.Load(os.DirFS("handler/testdata/site"))
	if err != nil {
		return loadResult{}, 0, err
	}
	dbName := ""
	if databaseURL != "" {
		u, name, drop, err := throwaway(ctx, databaseURL, "bench_intake_")
		if err != nil {
			return loadResult{}, 0, err
		}
		defer drop()
		databaseURL, dbName = u, name
	}
	env := map[string]string{"CAMPAIGN_DATA_DIR": dir, "DATABASE_URL": databaseURL,
		"CAMPAIGN_SIGN_RATE": "1000000000", "CAMPAIGN_MAX_SIGN_RATE": "0", "CAMPAIGN_CONFIRM": "off"}
	if confirm {
		env["CAMPAIGN_CONFIRM"], env["CAMPAIGN_SITE_URL"] = "", "https://example.org" // the default
	}
	// Insert-only (no workers): this measures taking signatures, not sending them.
	cfg, parts, err := campaign(ctx, env, 0)
	if err != nil {
		return loadResult{}, 0, err
	}
	defer parts.Close()
	before, err := parts.Store.SignatureCount(ctx)
	if err != nil {
		return loadResult{}, 0, err
	}
	real := httptest.NewServer(handler.New(cfg.Handler(letters, parts.Recorder, parts.Confirmer, quiet())))
	defer real.Close()
	load(real.URL+"/api/sign", time.Second, c, first)
	b0, s0, busy0 := parts.Queue.Batches()
	w0, cpu0 := written(), selfCPU()
	var pg0 map[int]time.Duration
	if dbName != "" {
		pg0 = postgresCPU(dbName)
	}
	r := load(real.URL+"/api/sign", d, c, first+100_000)
	b1, s1, busy1 := parts.Queue.Batches()
	r.cpu = (selfCPU() - cpu0) / time.Duration(max(1, s1-s0))
	if dbName != "" {
		r.pgCPU = cpuSince(pg0, postgresCPU(dbName)) / time.Duration(max(1, s1-s0))
	}
	r.written = (written() - w0) / max(1, s1-s0)
	r.batch = float64(s1-s0) / float64(max(1, b1-b0))
	r.busy = float64(busy1-busy0) / float64(d)
	n, err := parts.Store.SignatureCount(ctx)
	return r, n - before, err
}

// drain fills a backlog of letters, then lets the workers send them to a
// stand-in that answers 429 above rate a second.
func drain(rate, backlog int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bench-drain-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	letters, err := letter.Load(os.DirFS("handler/testdata/site"))
	if err != nil {
		return err
	}
	mg := mailguntest.New()
	defer mg.Close()
	mg.SetBehaviour(mailguntest.Behaviour{RateLimit: rate})
	cfg, parts, err := campaign(ctx, map[string]string{"CAMPAIGN_DATA_DIR": dir, "MAILGUN_API_KEY": mg.APIKey,
		"MAILGUN_DOMAIN": "mg.example", "MAILGUN_API_BASE": mg.APIBase(), "CAMPAIGN_SEND_TIMEOUT": "10s",
		"CAMPAIGN_SEND_RATE": fmt.Sprint(rate), "CAMPAIGN_WORKERS": "16", "CAMPAIGN_MAX_SIGN_RATE": "0"}, 16)
	if err != nil {
		return err
	}
	defer parts.Close()
	sending := cfg.Sending()
	fillStart := time.Now()
	for i := 0; i < backlog/2; i++ {
		s := &letter.Signer{Letter: "family-separation", FirstName: "F", LastName: "L", Email: loadtest.Email(i),
			Address: "A", City: "C", State: "IL", Zip: "62701"}
		sig, msgs := letter.Sign(letters["family-separation"], s, sending)
		if _, err := parts.Queue.Record(ctx, sig, msgs); err != nil {
			return err
		}
	}
	fillTime := time.Since(fillStart)

	start := time.Now()
	if err := parts.Queue.Start(ctx); err != nil {
		return err
	}
	for {
		counts, err := parts.Store.Counts(ctx)
		if err != nil {
			return err
		}
		if counts[letter.StateQueued] == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	parts.Close()
	calls, statuses := mg.Calls()
	sent := len(mg.Messages())
	perSec := float64(sent) / elapsed.Seconds()
	fmt.Printf("drain (backlog %d letters, stand-in limit R = %d/s, CAMPAIGN_SEND_RATE = %d, 16 workers, SQLite)\n", backlog, rate, rate)
	fmt.Printf("  backlog written in: %v\n", fillTime.Round(time.Millisecond))
	fmt.Printf("  drained in:         %v\n", elapsed.Round(time.Millisecond))
	fmt.Printf("  rate:               %.1f messages/s = %.1f %% of R   (goal ≥ 90 %%)\n", perSec, 100*perSec/float64(rate))
	fmt.Printf("  calls:              %d (%v)\n", calls, statuses)
	return nil
}

// crash runs the crash test at scale against the real binary.
func crash(n int) error {
	tmp, err := os.MkdirTemp("", "bench-crash-")
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
	mg.SetBehaviour(mailguntest.Behaviour{Delay: 20 * time.Millisecond})
	o := loadtest.Options{
		Binary: bin, Root: root, DataDir: filepath.Join(tmp, "data"), Public: filepath.Join(tmp, "public"),
		Env: []string{"MAILGUN_API_KEY=" + mg.APIKey, "MAILGUN_DOMAIN=mg.example", "MAILGUN_API_BASE=" + mg.APIBase(),
			"CAMPAIGN_SEND_TIMEOUT=2s", "CAMPAIGN_WORKERS=8", "CAMPAIGN_SIGN_RATE=1000000",
			// The crash run is about the queue: letters go out unconfirmed.
			"CAMPAIGN_CONFIRM=off", "CAMPAIGN_MAX_SIGN_RATE=0"},
	}
	res, err := loadtest.CrashRun(o, mg, n, n/3, 16, 5*time.Minute)
	fmt.Printf("crash (SIGKILL after %d accepted, restart on the same SQLite data, 8 workers)\n", n/3)
	fmt.Printf("  %s\n", res)
	return err
}

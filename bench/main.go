// Command bench measures the campaign's intake, delivery and crash figures
// on this machine and prints them (see BENCHMARKS.md):
//
//	go run ./bench                  all three
//	go run ./bench -only intake     one of intake, drain, crash, flood, pace
//	go run ./bench -only pace -database-url postgres://…   three processes, one pace
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
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler"
	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/sqlite"
)

func main() {
	only := flag.String("only", "", "run one benchmark: intake, drain, crash, flood or pace")
	floodFor := flag.Duration("flood-duration", 10*time.Second, "how long each attack of the flood run posts")
	duration := flag.Duration("intake-duration", 10*time.Second, "how long each intake run posts")
	concurrency := flag.Int("concurrency", 32, "concurrent clients for intake")
	rate := flag.Int("rate", 200, "the stand-in Mailgun's limit R, messages a second (drain, pace)")
	paceFor := flag.Duration("pace-duration", 25*time.Second, "the pace run's backlog, in sending time at R")
	backlog := flag.Int("backlog", 10000, "letters in the drain backlog")
	crashN := flag.Int("crash-signatures", 2000, "signatures in the crash run")
	databaseURL := flag.String("database-url", "", "run intake on this Postgres database instead of SQLite (it must be empty); pace makes its own database on its server")
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
	run("intake", func() error { return intake(*duration, *concurrency, *databaseURL) })
	run("drain", func() error { return drain(*rate, *backlog) })
	run("crash", func() error { return crash(*crashN) })
	run("flood", func() error { return flood(*floodFor, *concurrency) })
	run("pace", func() error { return pace(*databaseURL, *rate, 3, *paceFor) })
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

type loadResult struct {
	accepted int
	failed   int
	rps      float64
	p50, p99 time.Duration
}

// load posts distinct signatures to url for d with c clients.
func load(url string, d time.Duration, c int, firstIndex int) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	res := loadResult{}
	next := firstIndex
	indexes := make(chan int)
	go func() {
		defer close(indexes)
		for ctx.Err() == nil {
			select {
			case indexes <- next:
				next++
			case <-ctx.Done():
			}
		}
	}()
	client := loadtest.Client()
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range indexes {
				var r loadtest.Result
				loadtest.Post(context.Background(), client, url, []int{i}, 1, func(x loadtest.Result) { r = x })
				mu.Lock()
				if r.Status == http.StatusSeeOther {
					res.accepted++
					lat = append(lat, r.Latency)
				} else {
					res.failed++
				}
				mu.Unlock()
			}
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

// intake compares the real handler, committing each signature with its
// delivery jobs to SQLite, with a bare handler that answers 303 at once.
func intake(d time.Duration, c int, databaseURL string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bench-intake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	letters, err := letter.Load(os.DirFS("handler/testdata/site"))
	if err != nil {
		return err
	}
	database := "SQLite WAL"
	if databaseURL != "" {
		database = "Postgres"
	}
	// Insert-only (no workers): this measures taking signatures, not sending them.
	cfg, parts, err := campaign(ctx, map[string]string{"CAMPAIGN_DATA_DIR": dir, "DATABASE_URL": databaseURL,
		"CAMPAIGN_SIGN_RATE": "1000000000", "CAMPAIGN_MAX_SIGN_RATE": "0", "CAMPAIGN_CONFIRM": "off"}, 0)
	if err != nil {
		return err
	}
	defer parts.Close()
	real := httptest.NewServer(handler.New(cfg.Handler(letters, parts.Recorder, parts.Confirmer, quiet())))
	defer real.Close()
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/thanks/", http.StatusSeeOther)
	}))
	defer bare.Close()

	load(bare.URL+"/api/sign", time.Second, c, 0) // warm up both
	load(real.URL+"/api/sign", time.Second, c, 1_000_000)
	b := load(bare.URL+"/api/sign", d, c, 2_000_000)
	r := load(real.URL+"/api/sign", d, c, 3_000_000)
	n, err := parts.Store.SignatureCount(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("intake (%d clients, %v each, %s)\n", c, d, database)
	fmt.Printf("  bare 303 handler:   %8.0f req/s   p50 %-9v p99 %v\n", b.rps, b.p50.Round(time.Microsecond), b.p99.Round(time.Microsecond))
	fmt.Printf("  durable sign:       %8.0f sig/s   p50 %-9v p99 %v   (failed %d)\n", r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.failed)
	fmt.Printf("  ratio:              %8.1f %%        (goal ≥ 40 %%)\n", 100*r.rps/b.rps)
	fmt.Printf("  signatures stored:  %8d\n", n)
	return nil
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

package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"campaignkit/handler/mailgun/mailguntest"
)

// Form is signature i's form post: a distinct signer each.
func Form(i int) url.Values {
	return url.Values{
		"letter": {"family-separation"}, "first_name": {"Load"}, "last_name": {fmt.Sprintf("Signer %d", i)},
		"email": {Email(i)}, "address": {fmt.Sprintf("%d Main St", i)}, "city": {"Springfield"},
		"state": {"IL"}, "zip": {"62701"},
	}
}

// Email is signature i's address.
func Email(i int) string { return fmt.Sprintf("signer%d@example.org", i) }

// Result is the outcome of one post.
type Result struct {
	Index   int
	Status  int // 0 when the request failed (connection refused, reset…)
	Latency time.Duration
}

// Client posts without following redirects, with enough idle connections
// for the concurrency used here.
func Client() *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256},
	}
}

// Post posts the form of each index to target with the given concurrency
// and reports every result. It stops early when ctx is cancelled.
func Post(ctx context.Context, client *http.Client, target string, indexes []int, concurrency int, report func(Result)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				report(postOne(ctx, client, target, i))
			}
		}()
	}
	for _, i := range indexes {
		select {
		case work <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
}

func postOne(ctx context.Context, client *http.Client, target string, i int) Result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(Form(i).Encode()))
	if err != nil {
		return Result{Index: i}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return Result{Index: i, Latency: time.Since(start)}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return Result{Index: i, Status: resp.StatusCode, Latency: time.Since(start)}
}

// Delivery counts what reached the stand-in for a set of accepted signers.
type Delivery struct {
	Expected   int // accepted signatures × targets
	Arrived    int // distinct (signer, target) pairs that arrived
	Lost       int // expected pairs that never arrived
	Duplicates int // arrivals beyond the first of the same Message-Id
	Stray      int // arrivals for signers never told "accepted"
}

// Count compares the stand-in's messages with the accepted signers.
func Count(msgs []mailguntest.Received, accepted map[string]bool, targets int) Delivery {
	d := Delivery{Expected: len(accepted) * targets}
	pairs := map[string]bool{}
	ids := map[string]int{}
	for _, m := range msgs {
		ids[m.Get("h:Message-Id")]++
		a, err := mail.ParseAddress(m.Get("h:Reply-To"))
		if err != nil || !accepted[a.Address] {
			d.Stray++
			continue
		}
		pairs[a.Address+"|"+m.Get("to")] = true
	}
	for _, n := range ids {
		d.Duplicates += n - 1
	}
	d.Arrived = len(pairs)
	d.Lost = d.Expected - d.Arrived
	return d
}

// Percentile returns the p-th percentile (0..100) of the latencies.
func Percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(float64(len(s)-1) * p / 100)
	return s[k]
}

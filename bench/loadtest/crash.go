package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"campaignkit/handler/mailgun/mailguntest"
)

// CrashResult is what a crash run measured.
type CrashResult struct {
	Signatures int           // signatures posted (each retried after the crash until answered)
	Accepted   int           // answered 303 (the supporter was told "sent")
	Delivery   Delivery      // what reached the stand-in
	Drain      time.Duration // from the restart until every accepted letter arrived
}

func (r CrashResult) String() string {
	return fmt.Sprintf("signatures %d, accepted %d, letters expected %d, arrived %d, lost %d, duplicates %d, stray %d, drain after restart %v",
		r.Signatures, r.Accepted, r.Delivery.Expected, r.Delivery.Arrived, r.Delivery.Lost, r.Delivery.Duplicates,
		r.Delivery.Stray, r.Drain.Round(time.Millisecond))
}

// CrashRun posts n signatures to `campaign serve`, kills it with SIGKILL
// once killAfter are accepted and letters are being sent, restarts it on the
// same data, posts again every signature that got no answer (as a
// supporter would), and waits for the letters. The stand-in must be set to
// answer slowly enough that sends are in flight at the kill.
func CrashRun(o Options, mg *mailguntest.Server, n, killAfter, concurrency int, wait time.Duration) (CrashResult, error) {
	res := CrashResult{Signatures: n}
	accepted := map[string]bool{}
	var mu sync.Mutex
	var unanswered []int
	record := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		if r.Status == http.StatusSeeOther {
			accepted[Email(r.Index)] = true
		} else {
			unanswered = append(unanswered, r.Index)
		}
	}

	first, err := Start(o)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for {
			mu.Lock()
			n := len(accepted)
			mu.Unlock()
			if n >= killAfter && len(mg.Messages()) > 0 {
				first.Kill()
				return
			}
			if ctx.Err() != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	Post(context.Background(), Client(), first.URL+"/api/sign", all, concurrency, record)
	cancel()
	<-killed
	first.Kill()

	second, err := Start(o)
	if err != nil {
		return res, err
	}
	defer second.Stop()
	restart := time.Now()
	for attempt := 0; len(unanswered) > 0 && attempt < 5; attempt++ {
		retry := unanswered
		unanswered = nil
		Post(context.Background(), Client(), second.URL+"/api/sign", retry, concurrency, record)
	}
	res.Accepted = len(accepted)
	deadline := time.Now().Add(wait)
	for {
		res.Delivery = Count(mg.Messages(), accepted, 2)
		if res.Delivery.Lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.Drain = time.Since(restart)
	if len(unanswered) > 0 {
		return res, fmt.Errorf("%d signatures were never answered after the restart", len(unanswered))
	}
	return res, nil
}

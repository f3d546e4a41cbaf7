package queue_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// standIns starts n stand-ins, one per queue instance, so that the test
// can tell who sent what.
func standIns(t *testing.T, n int) []*mailguntest.Server {
	t.Helper()
	var mgs []*mailguntest.Server
	for range n {
		mg := mailguntest.New()
		t.Cleanup(mg.Close)
		mgs = append(mgs, mg)
	}
	return mgs
}

// instances fills one Postgres database with a backlog of signatures
// (two messages each), then starts a queue on it for each stand-in, each
// with its own pool of connections, as separate processes have. It
// returns their stores and the messages' ids.
func instances(t *testing.T, mgs []*mailguntest.Server, signatures int, opts queue.Options) ([]*store.Store, []string) {
	t.Helper()
	u := storetest.NewPostgresDatabase(t)
	ids := sign(t, start(t, storetest.OpenPostgres(t, u), mgs[0], queue.Options{}, 0), signatures, target)
	var sts []*store.Store
	for range mgs {
		sts = append(sts, storetest.OpenPostgres(t, u))
	}
	for i, st := range sts {
		start(t, st, mgs[i], opts, 0)
	}
	return sts, ids
}

// callTimes is every call the stand-ins answered, sorted; with only set,
// only those answered with that status.
func callTimes(mgs []*mailguntest.Server, only int) []time.Time {
	var at []time.Time
	for _, mg := range mgs {
		for _, c := range mg.Log() {
			if only == 0 || c.Status == only {
				at = append(at, c.At)
			}
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	return at
}

// assertEachArrivedOnceAcross checks that the stand-ins together got
// each message exactly once, and nothing else.
func assertEachArrivedOnceAcross(t *testing.T, mgs []*mailguntest.Server, ids []string) {
	t.Helper()
	arrived := map[string]int{}
	total := 0
	for _, mg := range mgs {
		for _, m := range mg.Messages() {
			arrived[strings.Trim(m.Get("h:Message-Id"), "<>")]++
			total++
		}
	}
	for _, id := range ids {
		if arrived[id] != 1 {
			t.Errorf("message %s arrived %d times, want once", id, arrived[id])
		}
	}
	if total != len(ids) {
		t.Errorf("%d messages arrived, want %d", total, len(ids))
	}
}

// On Postgres CAMPAIGN_SEND_RATE is the campaign's: three processes
// together send at it, not at three times it.
func TestSharedPaceIsTheCampaignsRate(t *testing.T) {
	const rate, workers = 20, 4
	mgs := standIns(t, 3)
	sts, ids := instances(t, mgs, 40, queue.Options{Workers: workers, SendRate: rate})
	if counts := waitCounts(t, sts[0], 60*time.Second); counts[letter.StateSent] != len(ids) {
		t.Fatalf("counts = %v, want all %d sent", counts, len(ids))
	}
	assertEachArrivedOnceAcross(t, mgs, ids)
	for i, mg := range mgs {
		if len(mg.Messages()) == 0 {
			t.Fatalf("instance %d sent nothing: the test proves nothing about sharing", i)
		}
	}
	calls := callTimes(mgs, 0)
	// 80 sends 1/19.6 s apart take 4 s; apart by each process's own pace,
	// 1.3 s. The bound is loose: only a lower one, and late sends (a busy
	// machine) only make it longer.
	elapsed := calls[len(calls)-1].Sub(calls[0])
	if want := time.Duration(0.8 * float64(len(calls)-1) / rate * float64(time.Second)); elapsed < want {
		t.Errorf("%d sends took %v, want at least %v at %d/s for the campaign", len(calls), elapsed, want, rate)
	}
	// No second holds many more than the rate: sends that a stalled
	// process sends late together are at most one per worker.
	most := 0
	for i, c := range calls {
		n, _ := slices.BinarySearchFunc(calls[i:], c.Add(time.Second), func(a, b time.Time) int { return a.Compare(b) })
		most = max(most, n)
	}
	if limit := rate + 3*workers; most > limit {
		t.Errorf("%d sends within one second, want at most %d (the rate %d plus one per worker)", most, limit, rate)
	}
	t.Logf("%d sends in %v; at most %d in one second", len(calls), elapsed.Round(time.Millisecond), most)
}

// A 429 answered to one process holds back the others too, for its
// Retry-After: with a rate, at their next reservation; without, within
// the quarter second at which they read the pause.
func TestSharedPaceA429PausesEveryProcess(t *testing.T) {
	for _, tt := range []struct {
		name      string
		rate      float64
		delay     time.Duration // each call's, so that sending lasts
		quietFrom time.Duration // after the 429, when the others are quiet
	}{
		{"at a rate", 50, 0, 300 * time.Millisecond},
		{"without a rate", 0, 50 * time.Millisecond, 600 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const workers = 4
			mgs := standIns(t, 3)
			mgs[0].SetBehaviour(mailguntest.Behaviour{Delay: tt.delay, Script: []mailguntest.Answer{{Status: http.StatusTooManyRequests, RetryAfter: "2"}}})
			for _, mg := range mgs[1:] {
				mg.SetBehaviour(mailguntest.Behaviour{Delay: tt.delay})
			}
			sts, ids := instances(t, mgs, 100, queue.Options{Workers: workers, SendRate: tt.rate, PollInterval: 20 * time.Millisecond})
			if counts := waitCounts(t, sts[0], 60*time.Second); counts[letter.StateSent] != len(ids) {
				t.Fatalf("counts = %v, want all %d sent", counts, len(ids))
			}
			assertEachArrivedOnceAcross(t, mgs, ids)
			limited := callTimes(mgs[:1], http.StatusTooManyRequests)
			if len(limited) != 1 {
				t.Fatalf("%d answers 429, want the one scripted", len(limited))
			}
			t0 := limited[0]
			// The others may still send what they had reserved or had under
			// way; from quietFrom after the 429 until near its end, nothing.
			// Sharing nothing, they would send dozens then.
			before, during, after := 0, 0, 0
			for _, c := range callTimes(mgs[1:], 0) {
				switch {
				case c.Before(t0):
					before++
				case c.After(t0.Add(tt.quietFrom)) && c.Before(t0.Add(1800*time.Millisecond)):
					during++
				case c.After(t0.Add(2 * time.Second)):
					after++
				}
			}
			if during > 2 {
				t.Errorf("the other processes sent %d messages during another's pause for a 429", during)
			}
			if after < 20 {
				t.Errorf("the other processes sent only %d messages after the pause: the test proves nothing", after)
			}
			t.Logf("by the others: %d sends before the 429, %d during its pause, %d after", before, during, after)
		})
	}
}

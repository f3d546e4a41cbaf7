package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler/mailgun/mailguntest"
)

// flood plays the attacks of issue 9 against the real `campaign serve`
// with its default settings, behind a (simulated) reverse proxy that
// passes each client's address in X-Forwarded-For, so one machine can
// speak for many addresses. Each attack posts for d with c clients and
// the run prints what was answered and what reached the stand-in Mailgun.
func flood(d time.Duration, c int) error {
	tmp, err := os.MkdirTemp("", "bench-flood-")
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
	p, err := loadtest.Start(loadtest.Options{
		Binary: bin, Root: root, DataDir: filepath.Join(tmp, "data"), Public: filepath.Join(tmp, "public"),
		Env: []string{"MAILGUN_API_KEY=" + mg.APIKey, "MAILGUN_DOMAIN=mg.example", "MAILGUN_API_BASE=" + mg.APIBase(),
			"CAMPAIGN_CLIENT_IP_HEADER=X-Forwarded-For"},
	})
	if err != nil {
		return err
	}
	defer p.Stop()

	var n atomic.Int64
	attacks := []struct {
		name string
		req  func(i int64) (form string, header http.Header)
	}{
		{"one address, a new name each time", func(i int64) (string, http.Header) {
			return loadtest.Form(int(i)).Encode(), http.Header{"X-Forwarded-For": {"198.51.100.7"}}
		}},
		{"a new IPv4 address and name each time", func(i int64) (string, http.Header) {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			return loadtest.Form(int(i)).Encode(), http.Header{"X-Forwarded-For": {a.String()}}
		}},
		{"a new IPv6 address in one /64 each time", func(i int64) (string, http.Header) {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
			return loadtest.Form(int(i)).Encode(), http.Header{"X-Forwarded-For": {a.String()}}
		}},
		{"posted by another site's page (Origin)", func(i int64) (string, http.Header) {
			a := netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
			return loadtest.Form(int(i)).Encode(), http.Header{"X-Forwarded-For": {a.String()}, "Origin": {"https://attacker.example"}}
		}},
		{"one victim's address from a new IPv4 each time", func(i int64) (string, http.Header) {
			a := netip.AddrFrom4([4]byte{12, byte(i >> 16), byte(i >> 8), byte(i)})
			f := loadtest.Form(int(i))
			f.Set("email", "victim@example.org")
			return f.Encode(), http.Header{"X-Forwarded-For": {a.String()}}
		}},
	}
	client := loadtest.Client()
	fmt.Printf("flood (campaign serve, default settings behind a proxy that passes X-Forwarded-For; %v per attack, %d clients)\n", d, c)
	type outcome struct {
		name     string
		statuses map[int]int
		from, to int64 // the attack's signer indexes
	}
	var outcomes []outcome
	for _, a := range attacks {
		from := n.Load() + 1
		statuses := map[int]int{}
		var mu sync.Mutex
		ctx, cancel := context.WithTimeout(context.Background(), d)
		var wg sync.WaitGroup
		for range c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					form, header := a.req(n.Add(1))
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/api/sign", strings.NewReader(form))
					req.Header = header
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					resp, err := client.Do(req)
					if err != nil {
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		cancel()
		outcomes = append(outcomes, outcome{a.name, statuses, from, n.Load() + 1})
	}
	// Let the queue send all it will, then count what each attack caused.
	for last := -1; len(mg.Messages()) != last; time.Sleep(3 * time.Second) {
		last = len(mg.Messages())
	}
	owner := map[string]int{} // a signer's address → the attack that used it
	for k, o := range outcomes {
		for i := o.from; i < o.to; i++ {
			owner[loadtest.Email(int(i))] = k
		}
	}
	confirmations, letters := make([]int, len(outcomes)), 0
	victim := 0
	for _, m := range mg.Messages() {
		if m.Get("o:tag") != "confirm" {
			letters++
			continue
		}
		if strings.Contains(m.Get("to"), "victim@example.org") {
			victim++
			continue
		}
		if k, ok := owner[strings.Trim(m.Get("to"), "<>")]; ok {
			confirmations[k]++
		}
	}
	for k, o := range outcomes {
		total := 0
		var codes []string
		for code, v := range o.statuses {
			total += v
			codes = append(codes, fmt.Sprintf("%d×%d", v, code))
		}
		sort.Strings(codes)
		mails := confirmations[k]
		if strings.Contains(o.name, "victim") {
			mails = victim
		}
		fmt.Printf("  %-48s %6d posts (%s): %d confirmation emails\n", o.name+":", total, strings.Join(codes, ", "), mails)
	}
	fmt.Printf("  letters to officials, all attacks together: %d (none was confirmed)\n", letters)
	return nil
}

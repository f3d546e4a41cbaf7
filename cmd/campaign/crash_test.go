package main

import (
	"path/filepath"
	"testing"
	"time"

	"campaignkit/bench/loadtest"
	"campaignkit/handler/mailgun/mailguntest"
)

// TestCrashLosesNoAcceptedLetter kills `campaign serve` with SIGKILL while
// it takes signatures and sends letters, restarts it on the same data, and
// checks that every letter of every accepted signature arrives. The only
// duplicates allowed are sends in flight at the kill (same Message-Id).
func TestCrashLosesNoAcceptedLetter(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	mg := mailguntest.New()
	defer mg.Close()
	// Slow answers keep sends in flight when the process dies.
	mg.SetBehaviour(mailguntest.Behaviour{Delay: 20 * time.Millisecond})
	const workers = 4
	opts := loadtest.Options{
		Binary: binary, Root: repoRoot(t), DataDir: t.TempDir(), Public: filepath.Join(t.TempDir(), "public"),
		Env: append(mailgunEnv(mg), "CAMPAIGN_SEND_TIMEOUT=1s", "CAMPAIGN_WORKERS=4", "CAMPAIGN_SIGN_RATE=1000000", noConfirm, "CAMPAIGN_MAX_SIGN_RATE=0"),
	}
	res, err := loadtest.CrashRun(opts, mg, 300, 100, 8, 60*time.Second)
	t.Log(res)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted < 100 {
		t.Fatalf("only %d signatures accepted: the run did not load the server", res.Accepted)
	}
	if res.Delivery.Lost != 0 {
		t.Errorf("%d letters of accepted signatures were lost", res.Delivery.Lost)
	}
	if res.Delivery.Stray != 0 {
		t.Errorf("%d letters went out for signatures never accepted", res.Delivery.Stray)
	}
	if res.Delivery.Duplicates > workers {
		t.Errorf("%d duplicates: more than the %d sends that can be in flight at the kill", res.Delivery.Duplicates, workers)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler/mailgun/mailguntest"
	"campaignkit/handler/store/storetest"
)

// TestBuiltFunctionUnderLambdaEmulator builds the function exactly as
// Netlify does (after `campaign build`, as netlify.toml's build command),
// runs it under AWS's Lambda runtime interface emulator, and posts a
// signature that must reach the stand-in Mailgun.
func TestBuiltFunctionUnderLambdaEmulator(t *testing.T) {
	rie := os.Getenv("CAMPAIGN_RIE")
	if rie == "" {
		rie, _ = exec.LookPath("aws-lambda-rie")
	}
	if rie == "" {
		t.Skip("aws-lambda-rie not found: set CAMPAIGN_RIE (bash .ci/run installs it from the Go module proxy)")
	}
	root, _ := filepath.Abs("../../..")
	tmp := t.TempDir()
	run := func(dir string, env []string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(root, nil, "go", "run", "./cmd/campaign", "build", "-public", filepath.Join(tmp, "public"))
	bootstrap := filepath.Join(tmp, "bootstrap")
	run(".", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"},
		"go", "build", "-ldflags", "-s -w", "-tags", "lambda.norpc", "-o", bootstrap, ".")
	info, err := os.Stat(bootstrap)
	if err != nil {
		t.Fatal(err)
	}

	modes := map[string]func(t *testing.T) []string{
		"direct":   func(*testing.T) []string { return nil },
		"postgres": func(t *testing.T) []string { return []string{"DATABASE_URL=" + storetest.NewPostgresDatabase(t)} },
	}
	for _, mode := range []string{"direct", "postgres"} {
		t.Run(mode, func(t *testing.T) {
			emulate(t, rie, bootstrap, info.Size(), modes[mode](t))
		})
	}
}

// emulate runs the bootstrap under the emulator with env, posts two
// signatures and reports the cold start.
func emulate(t *testing.T, rie, bootstrap string, size int64, env []string) {
	mg := mailguntest.New()
	defer mg.Close()
	addr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bootstrap)
	cmd.Env = append(os.Environ(), "MAILGUN_API_KEY="+mg.APIKey, "MAILGUN_DOMAIN=mg.example", "MAILGUN_API_BASE="+mg.APIBase(),
		"LOG_LEVEL=error")
	cmd.Env = append(cmd.Env, env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	ev, err := os.ReadFile("testdata/form.json")
	if err != nil {
		t.Fatal(err)
	}
	invoke := func() (events.APIGatewayProxyResponse, time.Duration) {
		t.Helper()
		url := "http://" + addr + "/2015-03-31/functions/function/invocations"
		var resp *http.Response
		var err error
		start := time.Now()
		for time.Since(started) < 30*time.Second { // the emulator may not listen yet
			if resp, err = http.Post(url, "application/json", bytes.NewReader(ev)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
			start = time.Now()
		}
		if err != nil {
			t.Fatalf("invoke: %v\n%s", err, logs.String())
		}
		defer resp.Body.Close()
		took := time.Since(start)
		var out events.APIGatewayProxyResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("decode: %v\n%s", err, logs.String())
		}
		return out, took
	}
	first, firstCall := invoke()
	cold := time.Since(started)
	if first.StatusCode != http.StatusSeeOther || header(first, "Location") != "/thanks/" {
		t.Fatalf("first call: %d %v %s\n%s", first.StatusCode, first.MultiValueHeaders, first.Body, logs.String())
	}
	if n := len(mg.WaitFor(2, 10*time.Second)); n != 2 {
		t.Fatalf("stand-in got %d letters, want 2", n)
	}
	ev, _ = os.ReadFile("testdata/json.json")
	second, warm := invoke()
	if second.StatusCode != http.StatusOK {
		t.Fatalf("second call: %d %s", second.StatusCode, second.Body)
	}
	t.Logf("function binary %.1f MB; cold start (emulator start to first answer, incl. init) %v, of which the first call %v; warm call %v",
		float64(size)/(1<<20), cold.Round(time.Millisecond), firstCall.Round(time.Millisecond), warm.Round(time.Millisecond))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

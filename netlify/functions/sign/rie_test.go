package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"campaignkit/handler/mailgun/mailguntest"
)

// maxFunctionBytes bounds the sign function as Netlify builds it: 13.1 MiB
// today, of which a bare function with only pgx, River's insert and the
// Lambda runtime takes 11.5 MiB. SQLite, which it never opens, added 7 MiB.
const maxFunctionBytes = 14 << 20

// buildLikeNetlify builds the function in dir exactly as Netlify does.
func buildLikeNetlify(t *testing.T, dir string) (path string, size int64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-ldflags", "-s -w", "-tags", "lambda.norpc", "-o", path, ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, info.Size()
}

// TestFunctionLinksOnlyWhatItUses: the sign function never opens SQLite,
// so neither the driver nor River's SQLite driver is linked in.
func TestFunctionLinksOnlyWhatItUses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function: skipped with -short")
	}
	bootstrap, size := buildLikeNetlify(t, ".")
	out, err := exec.Command("go", "version", "-m", bootstrap).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	for _, mod := range []string{"modernc.org/sqlite", "riversqlite", "gohugoio"} {
		if strings.Contains(string(out), mod) {
			t.Errorf("the function links %s, which it never uses", mod)
		}
	}
	if size > maxFunctionBytes {
		t.Errorf("the function is %.1f MB, more than %.1f MB", float64(size)/(1<<20), float64(maxFunctionBytes)/(1<<20))
	}
	t.Logf("sign function as Netlify builds it: %d bytes (%.1f MB)", size, float64(size)/(1<<20))
}

// TestBuiltFunctionUnderLambdaEmulator builds the function exactly as
// Netlify does (after `campaign build`, as netlify.toml's build command),
// runs it under AWS's Lambda runtime interface emulator, and posts a
// signature that must reach the stand-in Mailgun. The build goes to a
// copy of the function, so the working tree is left as it was.
func TestBuiltFunctionUnderLambdaEmulator(t *testing.T) {
	rie := os.Getenv("CAMPAIGN_RIE")
	if rie == "" {
		rie, _ = exec.LookPath("aws-lambda-rie")
	}
	if rie == "" {
		t.Skip("aws-lambda-rie not found: set CAMPAIGN_RIE (bash .ci/run installs it from the Go module proxy)")
	}
	root, _ := filepath.Abs("../../..")
	// Inside the module (so its imports resolve); "_" keeps it out of ./...
	copyDir, err := os.MkdirTemp("..", "_sign-build-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(copyDir) })
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(copyDir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	absCopy, _ := filepath.Abs(copyDir)
	build := exec.Command("go", "run", "./cmd/campaign", "build", "-public", filepath.Join(t.TempDir(), "public"), "-function", absCopy)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("campaign build: %v\n%s", err, out)
	}
	bootstrap, size := buildLikeNetlify(t, copyDir)

	modes := map[string]func(t *testing.T) []string{
		"direct":   func(*testing.T) []string { return nil },
		"postgres": func(t *testing.T) []string { return []string{"DATABASE_URL=" + migratedDatabase(t)} },
	}
	for _, mode := range []string{"direct", "postgres"} {
		t.Run(mode, func(t *testing.T) {
			emulate(t, rie, bootstrap, size, modes[mode](t))
		})
	}
}

// emulate runs the bootstrap under the emulator with env, posts two
// signatures and reports the cold start.
func emulate(t *testing.T, rie, bootstrap string, size int64, env []string) {
	mg := mailguntest.New()
	defer mg.Close()
	env = append([]string{"MAILGUN_API_KEY=" + mg.APIKey, "MAILGUN_DOMAIN=mg.example", "MAILGUN_API_BASE=" + mg.APIBase(),
		"LOG_LEVEL=error", "CAMPAIGN_CONFIRM=off"}, env...)
	addr, logs, started := startEmulator(t, rie, bootstrap, env)

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
			t.Fatalf("invoke: %v\n%s", err, logs)
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

// startEmulator runs the bootstrap under the emulator on free ports. A
// port found free may be taken before the emulator binds it: then the
// emulator exits, and it is started again on other ports.
func startEmulator(t *testing.T, rie, bootstrap string, env []string) (addr string, logs *bytes.Buffer, started time.Time) {
	t.Helper()
	for try := 1; ; try++ {
		addr, apiAddr := freeAddr(t), freeAddr(t)
		cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bootstrap)
		cmd.Env = append(os.Environ(), env...)
		logs = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		started = time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() { cmd.Process.Kill(); <-exited })
		for {
			select {
			case err := <-exited:
				exited <- err // for the cleanup
				if try == 3 {
					t.Fatalf("the emulator exited three times: %v\n%s", err, logs)
				}
			case <-time.After(20 * time.Millisecond):
				if c, err := net.Dial("tcp", addr); err == nil {
					c.Close()
					return addr, logs, started
				}
				continue
			}
			break
		}
	}
}

// freeAddr is an address no one listens on at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

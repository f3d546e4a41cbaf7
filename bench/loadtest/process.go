// Package loadtest drives the real campaign binary for the crash test and
// the benchmarks: it starts and kills `campaign serve`, posts signatures
// under load, and counts what reached the stand-in Mailgun.
package loadtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running `campaign serve` (or `campaign worker`).
type Process struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs strings.Builder
}

// Options say how to start one.
type Options struct {
	Binary  string   // the campaign binary
	Root    string   // the repository (where site/ is)
	DataDir string   // CAMPAIGN_DATA_DIR
	Public  string   // where the site is built
	Env     []string // more environment, NAME=value
	// Watch leaves serve's live reload on (its default); off, serve runs
	// as on a server that nobody edits.
	Watch bool
}

var serving = regexp.MustCompile(`msg=serving url=(http://\S+)`)

// Start runs `campaign serve` on a free port and waits until it serves.
func Start(o Options) (*Process, error) {
	return launch(o, []string{"serve", "-addr", "127.0.0.1:0", "-public", o.Public, "-watch=" + strconv.FormatBool(o.Watch)}, serving)
}

// launch runs the binary with args and waits until a line of its log
// matches ready; the line's first submatch, if any, is the process's URL.
func launch(o Options, args []string, ready *regexp.Regexp) (*Process, error) {
	name := "campaign " + args[0]
	cmd := exec.Command(o.Binary, args...)
	cmd.Dir = o.Root
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CAMPAIGN_DATA_DIR=" + o.DataDir}, o.Env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := ready.FindStringSubmatch(line); m != nil {
				urlc <- append(m, "")[1]
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	select {
	case p.URL = <-urlc:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before it was ready:\n%s", name, p.Logs())
	case <-time.After(120 * time.Second):
		cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("%s did not start:\n%s", name, p.Logs())
	}
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Logs is what the process wrote to standard error so far.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Stop ends the process gracefully (SIGTERM) and waits for it.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(30 * time.Second):
		p.Kill()
		return errors.New("campaign did not stop on SIGTERM")
	}
}

// Kill ends the process at once with SIGKILL, as a crash would.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

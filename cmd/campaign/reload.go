package main

// Live reload for `campaign serve`: watch the project's content/, layouts/
// and site/, rebuild the site into a fresh folder after an edit, and,
// only when it built and its letters pass the handler's checks, swap it in
// with its letters and tell open pages to reload. A broken edit keeps the
// last good site and letters live and is shown in the terminal and on the
// page. The reload script and its endpoint are added by serve to pages
// answered to this machine only; `campaign build` never writes them.

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"campaignkit/handler"
	"campaignkit/handler/outbox"
)

// reloadPath is where the reload script and its events are served, under
// serve only.
const reloadPath = "/__campaign/"

//go:embed reload.js
var reloadJS []byte

// siteDir is the folder serve serves the site from. swap replaces its
// content whole; files are opened under its read lock, so no request sees
// the folder missing between swap's two renames (an open file survives
// them).
type siteDir struct {
	mu   sync.RWMutex
	path string
}

func (d *siteDir) Open(name string) (fs.File, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return os.DirFS(d.path).Open(name)
}

// swap puts the site built in next in the served folder's place and
// removes the one it replaces.
func (d *siteDir) swap(next string) error {
	prev := d.path + ".prev"
	if err := os.RemoveAll(prev); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	d.mu.Lock()
	err := os.Rename(d.path, prev)
	if err == nil {
		if err = os.Rename(next, d.path); err != nil {
			err = errors.Join(err, os.Rename(prev, d.path))
		}
	}
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("serve: swap in the rebuilt site: %w", err)
	}
	return os.RemoveAll(prev)
}

// liveReload rebuilds the site after edits and tells open pages.
type liveReload struct {
	root, site string // the project, and its Hugo project (site/)
	siteKey    string // TURNSTILE_SITE_KEY, built into the form as at start
	dir        *siteDir
	letters    *handler.LiveLetters
	log        *slog.Logger
	term       io.Writer // where a broken edit's error is printed, plainly

	started string // when serve started, naming its builds apart from a restarted serve's

	mu      sync.Mutex
	gen     string // the current build's name: started and a count
	n       int
	broken  string // the last rebuild's error; "" when it built
	waiting map[chan struct{}]struct{}
	closed  bool
}

func newLiveReload(site string, dir *siteDir, letters *handler.LiveLetters, siteKey string, log *slog.Logger, term io.Writer) *liveReload {
	if abs, err := filepath.Abs(site); err == nil {
		site = abs // Hugo's errors name files by absolute path: shown relative to the project
	}
	r := &liveReload{root: filepath.Dir(site), site: site, siteKey: siteKey, dir: dir, letters: letters,
		log: log, term: term, waiting: map[chan struct{}]struct{}{}}
	r.started = strconv.FormatInt(time.Now().UnixNano(), 36)
	r.gen = r.started + "-0"
	return r
}

// rebuild builds the site into a fresh folder beside the served one and
// checks its letters as `campaign build` does; only then does it swap
// the folder and the letters. changed names what was edited, for the log.
func (r *liveReload) rebuild(changed []string) {
	start := time.Now()
	next := r.dir.path + ".next"
	err := os.RemoveAll(next)
	if err == nil {
		// The same checks as campaign build: an editor's mistake shows
		// here, with its file and line, before it could deploy.
		err = checkCampaign(r.site, false).err()
	}
	if err == nil {
		err = r.build(next)
	}
	if err == nil {
		letters, lerr := loadLetters(next)
		if err = lerr; err == nil {
			// The letters first: a supporter who reads the new page sends
			// the new letter.
			old := r.letters.Load()
			r.letters.Store(letters)
			if err = r.dir.swap(next); err != nil {
				// The old site stays: so do the letters it shows.
				r.letters.Store(old)
			}
		}
	}
	if err != nil {
		os.RemoveAll(next)
		msg := strings.ReplaceAll(err.Error(), r.root+string(filepath.Separator), "")
		r.mu.Lock()
		same := msg == r.broken
		r.broken = msg
		r.mu.Unlock()
		if same {
			fmt.Fprintf(r.term, "\ncampaign serve: still not rebuilt (the same error as above); the last good site and letters stay live.\n\n")
		} else {
			fmt.Fprintf(r.term, "\ncampaign serve: your edit did not build; the last good site and letters stay live. Fix it and save again:\n%s\n\n", msg)
		}
		r.notify()
		return
	}
	r.mu.Lock()
	r.n++
	r.gen = r.started + "-" + strconv.Itoa(r.n)
	wasBroken := r.broken != ""
	r.broken = ""
	r.mu.Unlock()
	if wasBroken {
		fmt.Fprintf(r.term, "\ncampaign serve: fixed: the site and letters are rebuilt.\n\n")
	}
	r.log.Info("rebuilt the site and letters", "changed", relPaths(r.root, changed), "took", time.Since(start).Round(time.Millisecond).String())
	r.notify()
}

func relPaths(root string, paths []string) string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if rel, err := filepath.Rel(root, p); err == nil {
			p = rel
		}
		if !seen[p] && len(out) < 5 {
			out = append(out, p)
		}
		seen[p] = true
	}
	if len(seen) > len(out) {
		out = append(out, fmt.Sprintf("and %d more", len(seen)-len(out)))
	}
	return strings.Join(out, ", ")
}

// notify wakes every open page's event stream.
func (r *liveReload) notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.waiting {
		select {
		case c <- struct{}{}:
		default: // already woken
		}
	}
}

// close ends every event stream, so that the server can shut down.
func (r *liveReload) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for c := range r.waiting {
		close(c)
	}
	r.waiting = map[chan struct{}]struct{}{}
}

func (r *liveReload) state() (gen, broken string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen, r.broken
}

// scriptTag is what serve puts into each page it answers this machine:
// the script, with the build the page came from.
func (r *liveReload) scriptTag() string {
	gen, _ := r.state()
	return `<script src=` + reloadPath + `reload.js data-gen=` + gen + ` defer></script>`
}

// ServeHTTP answers /__campaign/reload.js and /__campaign/events (the
// rebuilds, as Server-Sent Events: hello with the current build, then
// reload or broken), to this machine only.
func (r *liveReload) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !outbox.Local(req) {
		http.NotFound(w, req)
		return
	}
	switch req.URL.Path {
	case reloadPath + "reload.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(reloadJS)
	case reloadPath + "events":
		r.events(w, req)
	default:
		http.NotFound(w, req)
	}
}

func (r *liveReload) events(w http.ResponseWriter, req *http.Request) {
	rc := http.NewResponseController(w)
	// The stream outlives the server's write timeout.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		http.Error(w, "no event stream here", http.StatusInternalServerError)
		return
	}
	wake := make(chan struct{}, 1)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	r.waiting[wake] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, wake)
		r.mu.Unlock()
	}()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	gen, broken := r.state()
	fmt.Fprintf(w, "retry: 500\nevent: hello\ndata: %s\n\n", gen)
	sentBroken := ""
	for {
		if broken != "" && broken != sentBroken {
			msg, _ := json.Marshal(broken)
			fmt.Fprintf(w, "event: broken\ndata: %s\n\n", msg)
		}
		sentBroken = broken
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case _, open := <-wake:
			if !open {
				return
			}
		case <-req.Context().Done():
			return
		}
		var now string
		now, broken = r.state()
		if now != gen {
			fmt.Fprintf(w, "event: reload\ndata: %s\n\n", now)
			rc.Flush()
			return // the page reloads and connects again
		}
	}
}

// watchDirs are the folders of the project an edit can change: content/,
// layouts/ and site/ (site/hugo.toml mounts the first two).
func (r *liveReload) watchDirs() []string {
	var dirs []string
	for _, d := range []string{filepath.Join(r.root, "content"), filepath.Join(r.root, "layouts"), r.site} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// ignored reports whether a path changes nothing an editor made: what
// Hugo writes into site/ as it builds (its lock, its resource cache), and
// editors' swap, backup and lock files.
func (r *liveReload) ignored(path string) bool {
	if path == filepath.Join(r.site, "resources") || strings.HasPrefix(path, filepath.Join(r.site, "resources")+string(filepath.Separator)) {
		return true
	}
	name := filepath.Base(path)
	switch {
	case name == ".hugo_build.lock", name == ".git", name == "node_modules", name == ".DS_Store", name == "4913": // vim's write test
		return true
	case strings.HasSuffix(name, "~"), strings.HasSuffix(name, ".swp"), strings.HasSuffix(name, ".swx"),
		strings.HasPrefix(name, ".#"), strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"):
		return true
	}
	return false
}

// Debounce: a save is often several events (an editor writes a temporary
// file and renames it over the old one), and a tool may write many files.
// Rebuild once the folders are quiet for settle, or at the latest maxWait
// after the first event.
const (
	settle  = 30 * time.Millisecond
	maxWait = 300 * time.Millisecond
)

// watcher watches the project's folders, before serve says it serves:
// no edit made once it does is missed.
func (r *liveReload) watcher() (*fsnotify.Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("serve: watch: %w", err)
	}
	for _, d := range r.watchDirs() {
		r.add(w, d)
	}
	return w, nil
}

// add watches a folder and those below it: fsnotify watches one level.
func (r *liveReload) add(w *fsnotify.Watcher, root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if r.ignored(p) {
			return filepath.SkipDir
		}
		if err := w.Add(p); err != nil {
			r.log.Warn("live reload does not see this folder", "folder", p, "error", err.Error())
		}
		return nil
	})
}

// watch rebuilds after each burst of edits until done is closed, and
// closes w.
func (r *liveReload) watch(w *fsnotify.Watcher, done <-chan struct{}) {
	defer w.Close()
	var (
		changed []string
		first   time.Time
		timer   = time.NewTimer(time.Hour)
	)
	timer.Stop()
	for {
		select {
		case <-done:
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || r.ignored(ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				// A new folder: watch it, and what may already be in it.
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					r.add(w, ev.Name)
				}
			}
			if len(changed) == 0 {
				first = time.Now()
			}
			changed = append(changed, ev.Name)
			timer.Reset(min(settle, maxWait-time.Since(first)))
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			r.log.Warn("live reload: watching the project", "error", err.Error())
		case <-timer.C:
			r.rebuild(changed)
			changed = nil
		}
	}
}

// rebuildCommand is the hidden command serve's rebuilds run as.
const rebuildCommand = "internal-rebuild"

// build runs Hugo on the site into public in a child process of this same
// binary, as campaign build would: each in-process Hugo build keeps a few
// MB that the pinned Hugo never frees, which a long editing session would
// pile up (hundreds of MB after a hundred saves); a child's memory goes
// with it, for some 30 ms more a rebuild.
func (r *liveReload) build(public string) error {
	exe, err := os.Executable()
	if err != nil {
		return buildSite(r.site, public, "", r.siteKey, true)
	}
	cmd := exec.Command(exe, rebuildCommand, r.site, public, r.siteKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // Hugo's table of pages goes to stdout: not wanted on each save
	if err := cmd.Run(); err != nil {
		// The child's last words are its error, as campaign build prints it.
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("build: %w", err)
		}
		return errors.New(strings.ReplaceAll(msg, "campaign: ", ""))
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/outbox"
	"campaignkit/handler/store/sqlite"
)

// program is what campaign's commands need: on one machine, SQLite when
// DATABASE_URL is unset.
func program(workers int) config.Program {
	return config.Program{Workers: workers, SQLite: sqlite.Open}
}

// serveOptions say what serve serves: the site built from Site into
// Public, and, with Watch, rebuilt after each edit (live reload; errors
// printed plainly to Term).
type serveOptions struct {
	Addr, Site, Public string
	Watch              bool
	WatchGiven         bool // -watch was on the command line
	Term               io.Writer
}

func serve(ctx context.Context, cfg *config.Config, o serveOptions, log *slog.Logger) error {
	addr, public := o.Addr, o.Public
	letters, err := loadLetters(public)
	if err != nil {
		return err
	}
	config.WarnPlaceholders(letters, log)
	// The letters the handler merges, replaced whole after each rebuild.
	live := handler.NewLiveLetters(letters)
	dir := &siteDir{path: public}
	var reload *liveReload
	if o.Watch {
		reload = newLiveReload(o.Site, dir, live, cfg.TurnstileSiteKey, log, o.Term)
	}

	parts, err := cfg.Open(ctx, program(cfg.Workers), log)
	if err != nil {
		return err
	}
	defer parts.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if cfg.SiteURL == "" {
		cfg.SiteURL = localURL(ln.Addr().(*net.TCPAddr))
		if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
			log.Warn("CAMPAIGN_SITE_URL is not set: confirmation links point at "+cfg.SiteURL+"; set it to the site's public address", "addr", ln.Addr().String())
		}
	}
	if reload != nil && !o.WatchGiven && !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		// A server others reach is not an editor's desk: a git pull there
		// should not swap the letters mid-campaign unless asked (-watch).
		log.Info("live reload is off on an address others reach (-watch turns it on)", "addr", ln.Addr().String())
		reload = nil
	}
	box := parts.Outbox
	if box != nil {
		// The outbox shows supporters' names and addresses: only to this
		// machine.
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			log.Warn("the local outbox page is served only on a loopback address; letters are kept in the data folder", "addr", ln.Addr().String())
			box = nil
		}
	}
	settings := cfg.Handler(letters, parts.Recorder, parts.Confirmer, log)
	settings.Live = live
	settings.Events = parts.Events
	settings.Counter = parts.Counter
	settings.Admin = cfg.Admin(letters, func() (*config.Parts, error) { return parts, nil }, log)
	srv := &http.Server{
		Handler:           routesWithReload(handler.New(settings), staticFrom(dir, pageCSP(cfg.TurnstileSiteKey), reload), box, func() string { return anyStylesheet(live.Load()) }, reload),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	if err := parts.Queue.Start(ctx); err != nil {
		return err
	}
	if reload != nil {
		// Event streams stay open: end them, or Shutdown would wait.
		srv.RegisterOnShutdown(reload.close)
		if w, err := reload.watcher(); err != nil {
			log.Error("live reload is off", "error", err.Error())
		} else {
			done := make(chan struct{})
			defer close(done)
			go reload.watch(w, done)
			log.Info("live reload: edits to content/, layouts/ and site/ rebuild the site and letters (-watch=false turns it off)")
		}
	}
	mode := "mailgun"
	if parts.Outbox != nil {
		mode = "local outbox (nothing is sent; see /outbox/)"
	}
	log.Info("serving", "url", "http://"+ln.Addr().String(), "delivery", mode, "sandbox", cfg.SandboxTo != "",
		"database", map[bool]string{true: "postgres", false: "sqlite"}[parts.Store.Postgres()])

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), config.ShutdownGrace)
	defer cancel()
	return errors.Join(srv.Shutdown(shutdownCtx), parts.Close())
}

// localURL is the address this server answers on, for the links of
// confirmation emails when CAMPAIGN_SITE_URL is unset.
func localURL(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() || a.IP.IsLoopback() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// routes is what `campaign serve` answers: the handler under /api/ and
// /admin/ (the organizer's room), the local outbox (box, when not nil)
// and the site. Every answer carries the security headers, ServeMux's
// own redirects included.
func routes(api, site http.Handler, box *outbox.Outbox, stylesheet string) http.Handler {
	return routesWithReload(api, site, box, func() string { return stylesheet }, nil)
}

// routesWithReload is routes, with live reload's script and events under
// /__campaign/ when reload is not nil; stylesheet is read at each request
// of the outbox (a rebuild may rename it).
func routesWithReload(api, site http.Handler, box *outbox.Outbox, stylesheet func() string, reload *liveReload) http.Handler {
	mux := http.NewServeMux()
	if reload != nil {
		mux.Handle(reloadPath, reload)
	}
	mux.Handle("/api/", api)
	mux.Handle("/admin/", api)
	if box != nil {
		// Anyone but this machine gets the site's own 404, as if there
		// were no outbox.
		private := func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !outbox.Local(r) {
					site.ServeHTTP(w, r)
					return
				}
				h.ServeHTTP(w, r)
			})
		}
		pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { box.Handler(stylesheet()).ServeHTTP(w, r) })
		mux.Handle("/outbox/", private(http.StripPrefix("/outbox/", pages)))
		// Else ServeMux would redirect anyone to /outbox/.
		mux.Handle("/outbox", private(http.RedirectHandler("/outbox/", http.StatusMovedPermanently)))
	}
	mux.Handle("/", site)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.SecurityHeaders(w.Header(), siteCSP)
		mux.ServeHTTP(w, r)
	})
}

// work runs only the delivery queue, for processes apart from the web.
func work(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	parts, err := cfg.Open(ctx, program(cfg.Workers), log)
	if err != nil {
		return err
	}
	defer parts.Close()
	if err := parts.Queue.Start(ctx); err != nil {
		return err
	}
	log.Info("working the delivery queue", "workers", cfg.Workers)
	<-ctx.Done()
	return parts.Close()
}

// status prints signatures and messages by delivery state.
func status(ctx context.Context, cfg *config.Config, w io.Writer, log *slog.Logger) error {
	parts, err := cfg.Open(ctx, program(0), log)
	if err != nil {
		return err
	}
	defer parts.Close()
	st := parts.Store
	sigs, err := st.SignatureCount(ctx)
	if err != nil {
		return err
	}
	counts, err := st.Counts(ctx)
	if err != nil {
		return err
	}
	// What the local outbox kept was not sent, whatever this machine's
	// configuration: its ids say so.
	kept, err := st.SentVia(ctx, outbox.IDPrefix)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "signatures %d\n", sigs)
	byState, err := st.SignatureStates(ctx)
	if err != nil {
		return err
	}
	for _, state := range []string{letter.SignatureUnconfirmed, letter.SignatureConfirmed, letter.SignatureHeld, letter.SignatureRejected, "expired"} {
		fmt.Fprintf(w, "signatures %-12s %d\n", state, byState[state])
	}
	purged, err := st.PurgedCount(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "signatures %-12s %d (personal data deleted; still counted above)\n", "purged", purged)
	if byState[letter.SignatureHeld] > 0 {
		fmt.Fprintln(w, "held letters wait for an organizer: `campaign release` sends those held past CAMPAIGN_MAX_SIGN_RATE; edited letters held for review are released or rejected on /admin/")
	}
	counts[letter.StateSent] -= kept
	if kept > 0 {
		counts["kept in outbox"] = kept
	}
	states := make([]string, 0, len(counts))
	for s := range counts {
		states = append(states, s)
	}
	sort.Strings(states)
	for _, s := range states {
		fmt.Fprintf(w, "messages %-14s %d\n", s, counts[s])
	}
	if kept > 0 {
		fmt.Fprintln(w, "letters kept in the local outbox were NOT sent (no MAILGUN_API_KEY when they were handled)")
	}
	if counts[letter.StateSent] > 0 && counts[letter.StateDelivered]+counts[letter.StateComplained] == 0 {
		fmt.Fprintln(w, "sent means Mailgun accepted a letter; which were delivered comes from Mailgun's webhooks (README: Mailgun's webhooks)")
	}
	failed, err := st.MessagesInState(ctx, letter.StateFailed, 20)
	if err != nil {
		return err
	}
	for _, m := range failed {
		fmt.Fprintf(w, "failed %s to %s: %s\n", m.ID, m.TargetEmail, m.Error)
	}
	complained, err := st.MessagesInState(ctx, letter.StateComplained, 20)
	if err != nil {
		return err
	}
	for _, m := range complained {
		fmt.Fprintf(w, "complained %s to %s (marked as spam)\n", m.ID, m.TargetEmail)
	}
	return nil
}

// release queues the letters held past the campaign's ceiling; a
// running serve or worker sends them at the sending rate.
func release(ctx context.Context, cfg *config.Config, letterID string, limit int, w io.Writer, log *slog.Logger) error {
	parts, err := cfg.Open(ctx, program(0), log)
	if err != nil {
		return err
	}
	defer parts.Close()
	n, err := parts.Queue.Release(ctx, letterID, limit)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "released %d signatures: their letters are queued and go out as `serve` or `worker` sends\n", n)
	return nil
}

// loadLetters reads the letters the build published, checked as the
// handler needs them.
func loadLetters(public string) (letter.Letters, error) {
	letters, err := letter.Load(os.DirFS(public))
	if err != nil {
		return nil, err
	}
	if err := handler.CheckLetters(letters); err != nil {
		return nil, err
	}
	return letters, nil
}

func anyStylesheet(letters letter.Letters) string {
	for _, l := range letters {
		return l.Stylesheet
	}
	return ""
}

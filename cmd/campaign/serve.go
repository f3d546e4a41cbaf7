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

func serve(ctx context.Context, cfg *config.Config, addr, public string, log *slog.Logger) error {
	letters, err := loadLetters(public)
	if err != nil {
		return err
	}
	config.WarnPlaceholders(letters, log)

	parts, err := cfg.Open(ctx, program(cfg.Workers), log)
	if err != nil {
		return err
	}
	defer parts.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", handler.New(cfg.Handler(letters, parts.Recorder, log)))
	if parts.Outbox != nil {
		// The outbox shows supporters' names and addresses: only to this
		// machine.
		if ip := ln.Addr().(*net.TCPAddr).IP; ip.IsLoopback() {
			mux.Handle("/outbox/", http.StripPrefix("/outbox/", parts.Outbox.Handler(anyStylesheet(letters))))
		} else {
			log.Warn("the local outbox page is served only on a loopback address; letters are kept in the data folder", "addr", ln.Addr().String())
		}
	}
	mux.Handle("/", staticSite(public, pageCSP(cfg.TurnstileSiteKey)))

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	if err := parts.Queue.Start(ctx); err != nil {
		return err
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
	failed, err := st.MessagesInState(ctx, letter.StateFailed, 20)
	if err != nil {
		return err
	}
	for _, m := range failed {
		fmt.Fprintf(w, "failed %s to %s: %s\n", m.ID, m.TargetEmail, m.Error)
	}
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

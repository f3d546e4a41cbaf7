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
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
)

func serve(ctx context.Context, cfg *config.Config, addr, public string, log *slog.Logger) error {
	letters, err := letter.Load(os.DirFS(public))
	if err != nil {
		return err
	}
	config.WarnPlaceholders(letters, log)

	st, err := cfg.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	d, box, err := cfg.Deliverer(st, log)
	if err != nil {
		return err
	}
	q, err := queue.New(st, d, cfg.QueueOptions(cfg.Workers, log))
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", handler.NewHandler(cfg.Handler(letters, q, log)))
	if box != nil {
		// The outbox shows supporters' names and addresses: only to this
		// machine.
		if ip := ln.Addr().(*net.TCPAddr).IP; ip.IsLoopback() {
			mux.Handle("/outbox/", http.StripPrefix("/outbox/", box.Handler(anyStylesheet(letters))))
		} else {
			log.Warn("the local outbox page is served only on a loopback address; letters are kept in the data folder", "addr", ln.Addr().String())
		}
	}
	mux.Handle("/", staticSite(public))

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	mode := "mailgun"
	if cfg.Outbox() {
		mode = "local outbox (nothing is sent; see /outbox/)"
	}
	log.Info("serving", "url", "http://"+ln.Addr().String(), "delivery", mode, "sandbox", cfg.SandboxTo != "",
		"database", map[bool]string{true: "postgres", false: "sqlite"}[st.Postgres()])

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if qerr := q.Stop(shutdownCtx); qerr != nil && !errors.Is(qerr, context.DeadlineExceeded) {
		err = errors.Join(err, qerr)
	}
	return err
}

// work runs only the delivery queue, for processes apart from the web.
func work(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	st, err := cfg.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	d, _, err := cfg.Deliverer(st, log)
	if err != nil {
		return err
	}
	q, err := queue.New(st, d, cfg.QueueOptions(cfg.Workers, log))
	if err != nil {
		return err
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	log.Info("working the delivery queue", "workers", cfg.Workers)
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return q.Stop(shutdownCtx)
}

// status prints signatures and messages by delivery state.
func status(ctx context.Context, cfg *config.Config, w io.Writer) error {
	st, err := cfg.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	sigs, err := st.SignatureCount(ctx)
	if err != nil {
		return err
	}
	counts, err := st.Counts(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "signatures %d\n", sigs)
	states := make([]string, 0, len(counts))
	for s := range counts {
		states = append(states, s)
	}
	sort.Strings(states)
	for _, s := range states {
		fmt.Fprintf(w, "messages %-7s %d\n", s, counts[s])
	}
	failed, err := st.MessagesInState(ctx, store.StateFailed, 20)
	if err != nil {
		return err
	}
	for _, m := range failed {
		fmt.Fprintf(w, "failed %s to %s: %s\n", m.ID, m.TargetEmail, m.Error)
	}
	return nil
}

func anyStylesheet(letters letter.Letters) string {
	for _, l := range letters {
		return l.Stylesheet
	}
	return ""
}

package config

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"campaignkit/handler"
	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun"
	"campaignkit/handler/outbox"
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/postgres"
	"campaignkit/handler/turnstile"
)

// Program says what a program needs of the campaign's parts.
type Program struct {
	// Workers is how many messages this process sends at once; zero for a
	// process that only records (the Netlify sign function) or reads.
	Workers int
	// TryInline sends each new message at once after its commit, within
	// this budget (queue.Options.TryInline): the Netlify sign function.
	TryInline time.Duration
	// PollInterval is how often workers look for jobs (default 1 s).
	PollInterval time.Duration
	// SQLite opens the local database when DATABASE_URL is unset. Programs
	// that never keep one leave it nil (the Netlify functions: linking
	// SQLite would double their size); they then send directly.
	SQLite func(ctx context.Context, dir string) (*store.Store, error)
}

// Parts are what a program runs, opened from the configuration.
type Parts struct {
	// Store and Queue are nil when there is no database (direct sending).
	Store *store.Store
	Queue *queue.Queue
	// Outbox is set when letters are kept locally (no Mailgun key).
	Outbox *outbox.Outbox
	Sender deliver.Sender
	// Recorder takes signatures: the queue, or a direct send.
	Recorder handler.Recorder

	closeOnce sync.Once
	closeErr  error
}

// Open opens the database named by the configuration (Postgres with
// DATABASE_URL, else SQLite in the data folder when the program links
// it), migrates it, and builds the sender and the delivery queue on it.
func (c *Config) Open(ctx context.Context, p Program, log *slog.Logger) (*Parts, error) {
	parts := &Parts{}
	if c.Outbox() {
		box, err := outbox.New(filepath.Join(c.DataDir, "outbox"))
		if err != nil {
			return nil, err
		}
		parts.Outbox, parts.Sender = box, box
	} else {
		parts.Sender = c.Mailgun()
	}
	var err error
	switch {
	case c.DatabaseURL != "":
		parts.Store, err = postgres.Open(ctx, c.DatabaseURL)
	case p.SQLite != nil:
		parts.Store, err = p.SQLite(ctx, c.DataDir)
	default:
		parts.Recorder = &deliver.Direct{Sender: parts.Sender, Budget: DirectBudget, Log: log}
		return parts, nil
	}
	if err != nil {
		return nil, err
	}
	if err := queue.Migrate(ctx, parts.Store); err != nil {
		parts.Store.Close()
		return nil, err
	}
	d := &deliver.Deliverer{Store: parts.Store, Sender: parts.Sender, Log: log}
	parts.Queue, err = queue.New(parts.Store, d, c.queueOptions(p, log))
	if err != nil {
		parts.Store.Close()
		return nil, err
	}
	parts.Recorder = parts.Queue
	return parts, nil
}

// Close stops the queue's workers, letting sends in flight finish within
// ShutdownGrace, and closes the database. Calling it again does nothing.
func (p *Parts) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.close() })
	return p.closeErr
}

func (p *Parts) close() error {
	var errs []error
	if p.Queue != nil {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		if err := p.Queue.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err)
		}
	}
	if p.Store != nil {
		errs = append(errs, p.Store.Close())
	}
	return errors.Join(errs...)
}

// Mailgun is the Mailgun sender the configuration names.
func (c *Config) Mailgun() *mailgun.Sender {
	return mailgun.New(mailgun.Account{
		Domain: c.MailgunDomain, APIKey: c.MailgunAPIKey, APIBase: c.MailgunAPIBase, Timeout: c.SendTimeout,
	})
}

func (c *Config) queueOptions(p Program, log *slog.Logger) queue.Options {
	return queue.Options{
		Workers:      p.Workers,
		SendRate:     c.SendRate,
		JobTimeout:   c.JobTimeout(),
		RescueAfter:  2 * c.JobTimeout(),
		TryInline:    p.TryInline,
		PollInterval: p.PollInterval,
		Log:          log,
	}
}

// Handler is the sign handler's settings, taking signatures through rec.
func (c *Config) Handler(letters letter.Letters, rec handler.Recorder, log *slog.Logger) handler.Settings {
	s := handler.Settings{
		Letters: letters, Recorder: rec, Log: log,
		Sending:       c.Sending(),
		RatePerMinute: c.SignRate, Burst: max(10, int(c.SignRate/2)), ClientIP: ClientIP(c.ClientIPHeader),
	}
	if c.Turnstile() {
		s.Verifier = turnstile.New(c.TurnstileSecretKey, c.TurnstileVerifyURL)
	}
	return s
}

// Sending is how the campaign addresses its letters.
func (c *Config) Sending() letter.Sending {
	return letter.Sending{From: c.From, MessageIDDomain: c.MessageIDDomain(), SandboxTo: c.SandboxTo}
}

// ClientIP names the client for rate limiting: the connection's address,
// or the last address a trusted reverse proxy put in header.
func ClientIP(header string) func(*http.Request) string {
	if header == "" {
		return handler.RemoteIP
	}
	return func(r *http.Request) string {
		v := r.Header.Get(header)
		if i := strings.LastIndex(v, ","); i >= 0 {
			v = v[i+1:]
		}
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
		return handler.RemoteIP(r)
	}
}

// WarnPlaceholders logs each target still at a stand-in .example address.
func WarnPlaceholders(letters letter.Letters, log *slog.Logger) {
	for _, l := range letters {
		for _, t := range l.Targets {
			if t.Placeholder() {
				log.Warn("target is still a placeholder address: set the real one in the letter's front matter",
					"letter", l.ID, "target", t.Name, "email", t.Email)
			}
		}
	}
}

package config

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
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
	// MaxConns bounds the Postgres pool when CAMPAIGN_DB_MAX_CONNS is
	// unset: FunctionMaxConns in a function; zero for
	// postgres.DefaultMaxConns.
	MaxConns int
	// NoMigrate is for programs started by the hundred (the functions):
	// Postgres's schema is only checked, never changed; `campaign
	// migrate`, run by the deploy's build, brings it up to date.
	NoMigrate bool
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
	// Confirmer takes signers' confirmations: the queue; nil without a
	// database.
	Confirmer handler.Confirmer
	// Events records Mailgun's delivery webhooks: the store; nil without
	// a database.
	Events handler.Events
	// Counter reads the public count: the store; nil without a database.
	Counter handler.Counter

	closeOnce sync.Once
	closeErr  error
}

// Open opens the database named by the configuration (Postgres with
// DATABASE_URL, else SQLite in the data folder when the program links
// it), migrates it (or checks it: Program.NoMigrate), and builds the
// sender and the delivery queue on it.
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
		parts.Store, err = c.openPostgres(ctx, p)
	case p.SQLite != nil:
		parts.Store, err = p.SQLite(ctx, c.DataDir)
	default:
		parts.Recorder = &deliver.Direct{Sender: parts.Sender, Budget: DirectBudget, Log: log}
		return parts, nil
	}
	if err != nil {
		return nil, err
	}
	if err := prepareQueue(ctx, p, parts.Store); err != nil {
		parts.Store.Close()
		return nil, err
	}
	key, err := c.TokenKey()
	if err != nil {
		parts.Store.Close()
		return nil, err
	}
	d := &deliver.Deliverer{Store: parts.Store, Sender: parts.Sender, TokenKey: key, Log: log}
	parts.Queue, err = queue.New(parts.Store, d, c.queueOptions(p, log))
	if err != nil {
		parts.Store.Close()
		return nil, err
	}
	parts.Recorder, parts.Confirmer = parts.Queue, parts.Queue
	parts.Events = parts.Store
	parts.Counter = parts.Store
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
		Limits:       store.Limits{Ceiling: c.MaxSignRate, ConfirmTTL: c.ConfirmTTL},
		Retention:    c.Retention,
		PollOnly:     c.pooled(),
		Log:          log,
	}
}

// Handler is the sign handler's settings, taking signatures through rec
// and confirmations through conf (nil without a database).
func (c *Config) Handler(letters letter.Letters, rec handler.Recorder, conf handler.Confirmer, log *slog.Logger) handler.Settings {
	sending := c.Sending()
	key, err := c.TokenKey()
	if err != nil {
		log.Error("no key for confirmation links: letters that need confirmation are refused", "error", err.Error())
	}
	sending.TokenKey = key
	if conf != nil && c.Confirm && sending.SiteURL == "" {
		log.Error("CAMPAIGN_SITE_URL is not set: letters that need confirmation are refused, since their links would lead nowhere")
	}
	s := handler.Settings{
		Letters: letters, Recorder: rec, Log: log,
		Confirm: c.Confirm, Confirmer: conf, AllowedOrigins: c.AllowedOrigins,
		Sending:       sending,
		RatePerMinute: c.SignRate, Burst: max(10, int(c.SignRate/2)), ClientIP: ClientIP(c.ClientIPHeader, c.TrustedProxies),
	}
	s.WebhookSigningKey = []byte(c.WebhookSigningKey)
	if c.Turnstile() {
		s.Verifier = turnstile.New(c.TurnstileSecretKey, c.TurnstileVerifyURL)
	}
	return s
}

// Sending is how the campaign addresses its letters.
func (c *Config) Sending() letter.Sending {
	return letter.Sending{From: c.From, MessageIDDomain: c.MessageIDDomain(), SandboxTo: c.SandboxTo,
		SiteURL: c.SiteURL, ConfirmTTL: c.ConfirmTTL}
}

// ClientIP finds the client's address for the per-client limit: the
// connection's, or, when the connection comes from one of trusted, the
// last entry of header (all its lines joined): the one that proxy added.
// Earlier entries are whatever the client claimed. A last entry that is
// not one IP address means the connection's address is used.
func ClientIP(header string, trusted []netip.Prefix) func(*http.Request) netip.Addr {
	if header == "" {
		return handler.RemoteIP
	}
	return func(r *http.Request) netip.Addr {
		peer := handler.RemoteIP(r)
		if !trustedPeer(peer, trusted) {
			return peer
		}
		v := strings.Join(r.Header.Values(header), ",")
		v = strings.TrimSpace(v[strings.LastIndex(v, ",")+1:])
		if addr, err := netip.ParseAddr(v); err == nil {
			return addr
		}
		return peer
	}
}

func trustedPeer(peer netip.Addr, trusted []netip.Prefix) bool {
	peer = peer.Unmap().WithZone("") // a zoned address matches no prefix
	for _, p := range trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
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

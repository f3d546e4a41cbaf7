package config

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"

	"campaignkit/handler"
	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
	"campaignkit/handler/mailgun"
	"campaignkit/handler/outbox"
	"campaignkit/handler/queue"
	"campaignkit/handler/store"
)

// OpenStore opens Postgres when DATABASE_URL is set, else SQLite in the
// data folder, with our tables and River's migrated.
func (c *Config) OpenStore(ctx context.Context) (*store.Store, error) {
	var st *store.Store
	var err error
	if c.DatabaseURL != "" {
		st, err = store.OpenPostgres(ctx, c.DatabaseURL)
	} else {
		st, err = store.OpenSQLite(ctx, c.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if err := queue.Migrate(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Deliverer sends through Mailgun, or keeps letters in the local outbox
// (returned too, for its page) when no key is set.
func (c *Config) Deliverer(st *store.Store, log *slog.Logger) (*deliver.Deliverer, *outbox.Outbox, error) {
	d := &deliver.Deliverer{Store: st, Log: log}
	if !c.Outbox() {
		d.Sender = c.Mailgun()
		return d, nil, nil
	}
	box, err := outbox.New(filepath.Join(c.DataDir, "outbox"))
	if err != nil {
		return nil, nil, err
	}
	d.Sender = box
	return d, box, nil
}

// Mailgun is the Mailgun sender the configuration names.
func (c *Config) Mailgun() *mailgun.Sender {
	return mailgun.New(mailgun.Config{
		Domain: c.MailgunDomain, APIKey: c.MailgunAPIKey, APIBase: c.MailgunAPIBase, Timeout: c.SendTimeout,
	})
}

// QueueOptions are the delivery queue's settings, with workers senders.
func (c *Config) QueueOptions(workers int, log *slog.Logger) queue.Options {
	return queue.Options{
		Workers:  workers,
		SendRate: c.SendRate,
		// An attempt is a send plus its record (deliver.RecordBudget); a job
		// is rescued from a dead process only well after any attempt ends.
		JobTimeout:  c.SendTimeout*3/2 + deliver.RecordBudget,
		RescueAfter: 2 * (c.SendTimeout*3/2 + deliver.RecordBudget),
		Log:         log,
	}
}

// Handler is the sign handler's configuration.
func (c *Config) Handler(letters letter.Letters, rec handler.Recorder, log *slog.Logger) handler.Config {
	return handler.Config{
		Letters: letters, Recorder: rec, From: c.From, MessageIDDomain: c.MessageIDDomain(), SandboxTo: c.SandboxTo, Log: log,
		RatePerMinute: c.SignRate, Burst: max(10, int(c.SignRate/2)), ClientIP: ClientIP(c.ClientIPHeader),
	}
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

// Package config reads the campaign's configuration from the environment,
// once, and builds the parts it names (store, sender, queue, handler
// settings) for the programs that run the handler: `campaign` and the
// Netlify functions.
package config

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultDataDir is the data folder when CAMPAIGN_DATA_DIR is unset.
const DefaultDataDir = ".campaign"

// Config is the configuration, read once from the environment (the same
// names on Netlify and on a server).
type Config struct {
	MailgunAPIKey     string
	MailgunDomain     string
	MailgunAPIBase    string
	WebhookSigningKey string
	From              mail.Address
	DataDir           string
	DatabaseURL       string
	AdminToken        string
	SandboxTo         string
	SendRate          float64
	SendTimeout       time.Duration
	Workers           int
	// SignRate is signatures a minute one client address may send.
	SignRate float64
	// ClientIPHeader names the header in which a reverse proxy passes the
	// client's address; empty means the connection's address.
	ClientIPHeader string
	// TurnstileSiteKey and TurnstileSecretKey turn on Cloudflare
	// Turnstile, both or neither; TurnstileVerifyURL replaces siteverify's
	// address (tests), empty for Cloudflare's.
	TurnstileSiteKey   string
	TurnstileSecretKey string
	TurnstileVerifyURL string
}

// Turnstile reports whether the form carries the Turnstile check.
func (c *Config) Turnstile() bool { return c.TurnstileSecretKey != "" }

// Outbox reports whether letters go to the local outbox instead of Mailgun.
func (c *Config) Outbox() bool { return c.MailgunAPIKey == "" }

// Load reads the configuration; every problem is reported at once.
func Load(getenv func(string) string) (*Config, error) {
	c := &Config{
		MailgunAPIKey:     getenv("MAILGUN_API_KEY"),
		MailgunDomain:     strings.TrimSpace(getenv("MAILGUN_DOMAIN")),
		MailgunAPIBase:    strings.TrimSpace(getenv("MAILGUN_API_BASE")),
		WebhookSigningKey: getenv("MAILGUN_WEBHOOK_SIGNING_KEY"),
		DataDir:           getenv("CAMPAIGN_DATA_DIR"),
		DatabaseURL:       getenv("DATABASE_URL"),
		AdminToken:        getenv("CAMPAIGN_ADMIN_TOKEN"),
		SandboxTo:         strings.TrimSpace(getenv("CAMPAIGN_SANDBOX_TO")),
		SendTimeout:       DefaultSendTimeout,
		SignRate:          20,
		ClientIPHeader:    strings.TrimSpace(getenv("CAMPAIGN_CLIENT_IP_HEADER")),
		Workers:           16,

		TurnstileSiteKey:   strings.TrimSpace(getenv("TURNSTILE_SITE_KEY")),
		TurnstileSecretKey: strings.TrimSpace(getenv("TURNSTILE_SECRET_KEY")),
		TurnstileVerifyURL: strings.TrimSpace(getenv("TURNSTILE_VERIFY_URL")),
	}
	var errs []error
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.MailgunAPIBase == "" {
		c.MailgunAPIBase = "https://api.mailgun.net/v3"
	}
	if c.MailgunAPIKey != "" && c.MailgunDomain == "" {
		errs = append(errs, errors.New("MAILGUN_DOMAIN must be set with MAILGUN_API_KEY"))
	}
	from := strings.TrimSpace(getenv("CAMPAIGN_FROM"))
	switch {
	case from != "":
		a, err := mail.ParseAddress(from)
		if err != nil {
			errs = append(errs, fmt.Errorf("CAMPAIGN_FROM %q is not an address: %w", from, err))
		} else {
			c.From = *a
		}
	case c.MailgunDomain != "":
		c.From = mail.Address{Address: "letters@" + c.MailgunDomain}
	default:
		// The local outbox: nothing is sent, so any well-formed address does.
		c.From = mail.Address{Address: "letters@campaign.example"}
	}
	if c.SandboxTo != "" {
		if a, err := mail.ParseAddress(c.SandboxTo); err != nil || a.Address != c.SandboxTo {
			errs = append(errs, fmt.Errorf("CAMPAIGN_SANDBOX_TO %q must be a plain address", c.SandboxTo))
		}
	}
	if v := getenv("CAMPAIGN_SEND_RATE"); v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || !(rate >= 0) || math.IsInf(rate, 0) { // !(>=) also refuses NaN
			errs = append(errs, fmt.Errorf("CAMPAIGN_SEND_RATE %q must be messages per second, like 10", v))
		}
		c.SendRate = rate
	}
	if v := getenv("CAMPAIGN_SEND_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("CAMPAIGN_SEND_TIMEOUT %q must be a duration, like 20s", v))
		}
		c.SendTimeout = d
	}
	if v := getenv("CAMPAIGN_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			errs = append(errs, fmt.Errorf("CAMPAIGN_WORKERS %q must be a number from 1 to 256", v))
		}
		c.Workers = n
	}
	if v := getenv("CAMPAIGN_SIGN_RATE"); v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || !(rate > 0) || math.IsInf(rate, 0) {
			errs = append(errs, fmt.Errorf("CAMPAIGN_SIGN_RATE %q must be signatures a minute per address, like 20", v))
		}
		c.SignRate = rate
	}
	// One key without the other is a page without the widget whose every
	// signature is refused, or a widget whose answer nobody checks.
	if (c.TurnstileSiteKey == "") != (c.TurnstileSecretKey == "") {
		errs = append(errs, errors.New("TURNSTILE_SITE_KEY and TURNSTILE_SECRET_KEY must be set together (or neither, for no Turnstile)"))
	}
	if v := c.TurnstileVerifyURL; v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("TURNSTILE_VERIFY_URL %q must be an http(s) address", v))
		}
	}
	return c, errors.Join(errs...)
}

// MessageIDDomain is the right-hand side of our Message-Ids.
func (c *Config) MessageIDDomain() string {
	if c.MailgunDomain != "" {
		return c.MailgunDomain
	}
	return c.From.Address[strings.LastIndex(c.From.Address, "@")+1:]
}

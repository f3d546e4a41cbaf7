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
	"net/netip"
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
	// TrustedProxies are the peers whose ClientIPHeader is believed
	// (CAMPAIGN_TRUSTED_PROXIES); by default loopback only.
	TrustedProxies []netip.Prefix
	// Secret keys the hashes kept in place of personal data (the clients
	// counted by the shared rate limit); from CAMPAIGN_SECRET.
	Secret []byte
}

// DefaultTrustedProxies are loopback: a reverse proxy on the same host.
var DefaultTrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

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
		TrustedProxies:    DefaultTrustedProxies,
		Secret:            []byte(getenv("CAMPAIGN_SECRET")),
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
	if v := strings.TrimSpace(getenv("CAMPAIGN_TRUSTED_PROXIES")); v != "" {
		proxies, err := parsePrefixes(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("CAMPAIGN_TRUSTED_PROXIES: %w", err))
		}
		c.TrustedProxies = proxies
	}
	return c, errors.Join(errs...)
}

// parsePrefixes reads a comma-separated list of CIDRs or single addresses.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		} else {
			errs = append(errs, fmt.Errorf("%q is neither a CIDR (like 10.0.0.0/8) nor an IP address", v))
		}
	}
	return out, errors.Join(errs...)
}

// MessageIDDomain is the right-hand side of our Message-Ids.
func (c *Config) MessageIDDomain() string {
	if c.MailgunDomain != "" {
		return c.MailgunDomain
	}
	return c.From.Address[strings.LastIndex(c.From.Address, "@")+1:]
}

// Package config reads the campaign's configuration from the environment,
// once, and builds the parts it names (store, sender, queue, handler
// settings) for the programs that run the handler: `campaign` and the
// Netlify functions.
package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"campaignkit/handler/admin"
	"campaignkit/handler/letter"
	"campaignkit/handler/store"
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
	// Confirm asks signers to confirm by email before their letters go out
	// (CAMPAIGN_CONFIRM, on unless "off"); ConfirmTTL is how long a link
	// works (CAMPAIGN_CONFIRM_TTL, default 7 days).
	Confirm    bool
	ConfirmTTL time.Duration
	// Retention is how long a signature's personal data is kept
	// (CAMPAIGN_RETENTION: days like 365d or a duration; default 365 days).
	Retention time.Duration
	// DBMaxConns bounds this process's Postgres pool
	// (CAMPAIGN_DB_MAX_CONNS); zero means the program's default.
	DBMaxConns int
	// MaxSignRate is the campaign-wide ceiling, signatures a minute whose
	// letters are queued; beyond it letters are held for an organizer
	// (CAMPAIGN_MAX_SIGN_RATE, default 600; 0 turns it off).
	MaxSignRate int
	// AllowedOrigins may post the form besides the site itself
	// (CAMPAIGN_ALLOWED_ORIGINS: comma-separated, for embeds).
	AllowedOrigins []string
	// SiteURL is the site's public address, for links in emails
	// (CAMPAIGN_SITE_URL; `serve` and the Netlify build know a default).
	SiteURL string
	// Secret keys confirmation links and the hashes kept in place of
	// personal data (CAMPAIGN_SECRET); see TokenKey.
	Secret string

	// TurnstileSiteKey and TurnstileSecretKey turn on Cloudflare
	// Turnstile, both or neither; TurnstileVerifyURL replaces siteverify's
	// address (tests), empty for Cloudflare's.
	TurnstileSiteKey   string
	TurnstileSecretKey string
	TurnstileVerifyURL string

	keyOnce sync.Once
	key     []byte
	keyErr  error
}

// DefaultTrustedProxies are loopback: a reverse proxy on the same host.
var DefaultTrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

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
		Confirm:           true,
		ConfirmTTL:        letter.DefaultConfirmTTL,
		Retention:         store.DefaultRetention,
		MaxSignRate:       600,
		SiteURL:           strings.TrimRight(strings.TrimSpace(getenv("CAMPAIGN_SITE_URL")), "/"),
		Secret:            getenv("CAMPAIGN_SECRET"),
		TrustedProxies:    DefaultTrustedProxies,

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
	switch v := strings.ToLower(strings.TrimSpace(getenv("CAMPAIGN_CONFIRM"))); v {
	// "email" is the design's name for the one way to confirm; "on" says the same.
	case "", "email", "on", "true", "yes", "1":
	case "off", "false", "no", "0":
		c.Confirm = false
	default:
		errs = append(errs, fmt.Errorf("CAMPAIGN_CONFIRM %q must be email (the signer confirms by email) or off", v))
	}
	if v := getenv("CAMPAIGN_CONFIRM_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Hour {
			errs = append(errs, fmt.Errorf("CAMPAIGN_CONFIRM_TTL %q must be a duration of an hour or more, like 168h", v))
		}
		c.ConfirmTTL = d
	}
	if err := c.loadRetention(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := c.loadDatabase(getenv); err != nil {
		errs = append(errs, err)
	}
	if v := getenv("CAMPAIGN_MAX_SIGN_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("CAMPAIGN_MAX_SIGN_RATE %q must be signatures a minute, like 600 (0: no ceiling)", v))
		}
		c.MaxSignRate = n
	}
	for _, o := range strings.Split(getenv("CAMPAIGN_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("CAMPAIGN_ALLOWED_ORIGINS: %q must be an origin, like https://partner.example", o))
			continue
		}
		c.AllowedOrigins = append(c.AllowedOrigins, strings.TrimRight(o, "/"))
	}
	if c.SiteURL != "" {
		if u, err := url.Parse(c.SiteURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("CAMPAIGN_SITE_URL %q must be the site's address, like https://letters.example.org", c.SiteURL))
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < admin.MinTokenLength {
		errs = append(errs, fmt.Errorf("CAMPAIGN_ADMIN_TOKEN must be at least %d characters (try: openssl rand -hex 32)", admin.MinTokenLength))
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		errs = append(errs, errors.New("CAMPAIGN_SECRET must be at least 32 characters (try: openssl rand -hex 32)"))
	}
	if v := strings.TrimSpace(getenv("CAMPAIGN_TRUSTED_PROXIES")); v != "" {
		proxies, err := parsePrefixes(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("CAMPAIGN_TRUSTED_PROXIES: %w", err))
		}
		c.TrustedProxies = proxies
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

// TokenKey is the key of confirmation links: CAMPAIGN_SECRET; else one
// derived from MAILGUN_API_KEY, which every process that sends already
// shares (rotating that key then voids the links not yet used); else, in
// local mode, a random key kept in the data folder.
func (c *Config) TokenKey() ([]byte, error) {
	c.keyOnce.Do(func() {
		switch {
		case c.Secret != "":
			c.key = []byte(c.Secret)
		case c.MailgunAPIKey != "":
			mac := hmac.New(sha256.New, []byte(c.MailgunAPIKey))
			mac.Write([]byte("campaignkit confirmation links"))
			c.key = mac.Sum(nil)
		default:
			c.key, c.keyErr = keyFile(filepath.Join(c.DataDir, "secret"))
		}
	})
	return c.key, c.keyErr
}

// keyFile reads the key kept at path, making it on first use. The key is
// written whole to a temporary file and linked into place, so no process
// ever reads half a key, and of two processes starting together one's key
// wins and the other reads it.
func keyFile(path string) ([]byte, error) {
	if key, err := os.ReadFile(path); err == nil && len(key) >= 32 {
		return key, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("config: key: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	key := []byte(hex.EncodeToString(raw))
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("config: key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("config: key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("config: key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if existing, rerr := os.ReadFile(path); rerr == nil && len(existing) >= 32 {
			return existing, nil
		}
		return nil, fmt.Errorf("config: key: %w (remove %s if it is empty)", err, path)
	}
	return key, nil
}

// MessageIDDomain is the right-hand side of our Message-Ids.
func (c *Config) MessageIDDomain() string {
	if c.MailgunDomain != "" {
		return c.MailgunDomain
	}
	return c.From.Address[strings.LastIndex(c.From.Address, "@")+1:]
}

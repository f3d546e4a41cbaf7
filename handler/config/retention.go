package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxAge keeps a number of days from overflowing a time.Duration.
const maxAge = 100 * 365 * 24 * time.Hour

// ParseAge reads an age as CAMPAIGN_RETENTION and `campaign purge
// --older-than` take it: days ("365d") or a Go duration ("8760h",
// "90m"), more than zero.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || time.Duration(n) > maxAge/(24*time.Hour) || strings.Trim(days, "0123456789") != "" {
			return 0, fmt.Errorf("%q must be a number of days, like 365d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 || d > maxAge {
			return 0, fmt.Errorf("%q must be days, like 365d, or a duration, like 720h", s)
		}
	}
	return d, nil
}

// loadRetention reads CAMPAIGN_RETENTION into c.Retention: no shorter
// than CAMPAIGN_CONFIRM_TTL, so that a confirmation link works its life.
func (c *Config) loadRetention(getenv func(string) string) error {
	v := getenv("CAMPAIGN_RETENTION")
	if v == "" {
		return nil
	}
	d, err := ParseAge(v)
	if err != nil {
		return fmt.Errorf("CAMPAIGN_RETENTION: %w", err)
	}
	if d < c.ConfirmTTL {
		return fmt.Errorf("CAMPAIGN_RETENTION %q must be no shorter than CAMPAIGN_CONFIRM_TTL (%s)", v, c.ConfirmTTL)
	}
	c.Retention = d
	return nil
}

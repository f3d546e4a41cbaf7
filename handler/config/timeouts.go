package config

import (
	"time"

	"campaignkit/handler/deliver"
)

// Every time limit of the campaign, in one place. One call to Mailgun
// lasts at most SendTimeout (CAMPAIGN_SEND_TIMEOUT); everything else is
// derived from it or from Netlify's own limits.
const (
	// DefaultSendTimeout bounds one call to Mailgun.
	DefaultSendTimeout = 20 * time.Second
	// ShutdownGrace is how long a stopping process lets sends in flight
	// (and requests) finish.
	ShutdownGrace = 30 * time.Second

	// FunctionLimit is Netlify's limit on one synchronous function call
	// (the sign function); ScheduledLimit on a scheduled run (deliver).
	FunctionLimit  = 10 * time.Second
	ScheduledLimit = 30 * time.Second
	// InlineBudget is how long the sign function spends sending after the
	// commit, within FunctionLimit, leaving room for the record and the answer.
	InlineBudget = 5 * time.Second
	// DirectBudget bounds a direct send (a function without a database):
	// every message and retry, within FunctionLimit, so that a hanging
	// Mailgun still lets the supporter be told the letter was not sent.
	DirectBudget = 7 * time.Second
	// OpenBudget bounds opening the database in a function: an unreachable
	// host must not hold a supporter past FunctionLimit.
	OpenBudget = 4 * time.Second
	// ScheduledSendTimeout caps one call to Mailgun in a scheduled run, so
	// that an attempt (JobTimeout) fits ScheduledLimit with room to spare.
	ScheduledSendTimeout = 8 * time.Second
)

// JobTimeout bounds one attempt: a send (with slack) plus recording its
// outcome. A job is rescued from a dead process only well after this.
func (c *Config) JobTimeout() time.Duration {
	return c.SendTimeout*3/2 + deliver.RecordBudget
}

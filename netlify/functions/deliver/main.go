// Command deliver is the scheduled Netlify function (every minute) that
// works the delivery queue in Postgres: letters whose first send, made by
// the sign function, failed or was cut short. It works for Netlify's
// scheduler only: no URL reaches it.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"

	"campaignkit/handler/config"
	"campaignkit/handler/store"
	"campaignkit/netlify/lambda"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	awslambda.Start(func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return handle(ctx, ev, os.Getenv, log), nil
	})
}

// handle runs the queue for the scheduler and answers anything else 404,
// without reading the configuration or opening the database. Netlify does
// not route URLs to scheduled functions; this holds should one get through
// (a direct call, netlify dev), so that no visitor can set the pace of
// sending.
func handle(ctx context.Context, ev events.APIGatewayProxyRequest, getenv func(string) string, log *slog.Logger) events.APIGatewayProxyResponse {
	if !scheduled(ev) {
		// Logged: should Netlify change its invocation, runs stop here.
		log.Warn("deliver: refused a call that is not Netlify's scheduler", "method", ev.HTTPMethod, "path", ev.Path)
		return lambda.Text(http.StatusNotFound, "Not found.")
	}
	return run(ctx, getenv, log)
}

// scheduled reports whether ev is Netlify's scheduled invocation: a POST
// whose JSON body names the next run, {"next_run": "<RFC 3339 time>"}, as
// Netlify's scheduler and netlify dev send it.
func scheduled(ev events.APIGatewayProxyRequest) bool {
	if ev.HTTPMethod != http.MethodPost {
		return false
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return false
		}
	}
	var b struct {
		NextRun string `json:"next_run"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return false
	}
	_, err := time.Parse(time.RFC3339, b.NextRun)
	return err == nil
}

func run(ctx context.Context, getenv func(string) string, log *slog.Logger) events.APIGatewayProxyResponse {
	start := time.Now()
	cfg, err := config.Load(getenv)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		return lambda.Text(500, "configuration error")
	}
	// A scheduled run has ScheduledLimit. Each attempt lasts at most its
	// JobTimeout (ScheduledSendTimeout × 1.5 + the record budget = 15 s), so
	// no job starts later than that (and a margin) before the deadline.
	cfg.SendTimeout = min(cfg.SendTimeout, config.ScheduledSendTimeout)
	if cfg.DatabaseURL == "" || cfg.Outbox() {
		// Without a database the sign function sends inline: no queue here.
		return lambda.Text(200, "no queue (DATABASE_URL or MAILGUN_API_KEY unset)")
	}
	// The deploy's build migrated the database; a run only checks.
	parts, err := cfg.Open(ctx, config.Program{Workers: cfg.Workers, MaxConns: config.FunctionMaxConns, NoMigrate: true}, log)
	if errors.Is(err, store.ErrOldSchema) {
		log.Error("database schema older than this deploy: run `campaign migrate` (or redeploy with DATABASE_URL set for builds); nothing is sent until then",
			"error", err.Error())
		return lambda.Text(503, "database schema older than this deploy: run campaign migrate")
	}
	if err != nil {
		log.Error("database", "error", err.Error())
		return lambda.Text(500, "database unavailable")
	}
	defer parts.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = start.Add(config.ScheduledLimit)
	}
	budget := time.Until(deadline) - cfg.JobTimeout() - 2*time.Second
	if budget <= 0 {
		log.Warn("no time left for a delivery run", "left", time.Until(deadline).String())
		return lambda.Text(200, "no time")
	}
	// River's periodic jobs wait for a leader election that a short run
	// may not finish: unconfirmed signatures past their link's life are
	// deleted here, every run (a cheap indexed query).
	expired, err := parts.Store.Expire(ctx, cfg.ConfirmTTL)
	if err != nil {
		log.Error("expiring unconfirmed signatures", "error", err.Error())
	}
	// Likewise retention (CAMPAIGN_RETENTION): an indexed query that finds
	// nothing on most runs.
	purged, err := parts.Store.Purge(ctx, time.Now().Add(-cfg.Retention))
	if err != nil {
		log.Error("retention", "error", err.Error())
	}
	left, err := parts.Queue.WorkFor(ctx, budget)
	if err != nil {
		log.Error("queue", "error", err.Error())
	}
	log.Info("delivery run", "ready_left", left, "expired", expired, "purged", purged.Signatures)
	return lambda.Text(200, "ok")
}

// Command deliver is the scheduled Netlify function (every minute) that
// works the delivery queue in Postgres: letters whose first send, made by
// the sign function, failed or was cut short.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"

	"campaignkit/handler/config"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	awslambda.Start(func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return run(ctx, os.Getenv, log), nil
	})
}

func run(ctx context.Context, getenv func(string) string, log *slog.Logger) events.APIGatewayProxyResponse {
	start := time.Now()
	cfg, err := config.Load(getenv)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		return events.APIGatewayProxyResponse{StatusCode: 500, Body: "configuration error"}
	}
	// A scheduled run has ScheduledLimit. Each attempt lasts at most its
	// JobTimeout (ScheduledSendTimeout × 1.5 + the record budget = 15 s), so
	// no job starts later than that (and a margin) before the deadline.
	cfg.SendTimeout = min(cfg.SendTimeout, config.ScheduledSendTimeout)
	if cfg.DatabaseURL == "" || cfg.Outbox() {
		// Without a database the sign function sends inline: no queue here.
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "no queue (DATABASE_URL or MAILGUN_API_KEY unset)"}
	}
	parts, err := cfg.Open(ctx, config.Program{Workers: cfg.Workers}, log)
	if err != nil {
		log.Error("database", "error", err.Error())
		return events.APIGatewayProxyResponse{StatusCode: 500, Body: "database unavailable"}
	}
	defer parts.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = start.Add(config.ScheduledLimit)
	}
	budget := time.Until(deadline) - cfg.JobTimeout() - 2*time.Second
	if budget <= 0 {
		log.Warn("no time left for a delivery run", "left", time.Until(deadline).String())
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "no time"}
	}
	left, err := parts.Queue.WorkFor(ctx, budget)
	if err != nil {
		log.Error("queue", "error", err.Error())
	}
	log.Info("delivery run", "ready_left", left)
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: "ok"}
}

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
	"campaignkit/handler/queue"
)

// A scheduled function has 30 seconds. Each attempt lasts at most its
// JobTimeout (sendTimeout × 1.5 + the record budget = 15 s), so no job
// starts later than that (and a margin) before the deadline.
const (
	sendTimeout = 8 * time.Second
	runLimit    = 30 * time.Second
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
	cfg.SendTimeout = min(cfg.SendTimeout, sendTimeout)
	if cfg.DatabaseURL == "" || cfg.Outbox() {
		// Without a database the sign function sends inline: no queue here.
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "no queue (DATABASE_URL or MAILGUN_API_KEY unset)"}
	}
	st, err := cfg.OpenStore(ctx)
	if err != nil {
		log.Error("database", "error", err.Error())
		return events.APIGatewayProxyResponse{StatusCode: 500, Body: "database unavailable"}
	}
	defer st.Close()
	d, _, err := cfg.Deliverer(st, log)
	if err != nil {
		log.Error("deliverer", "error", err.Error())
		return events.APIGatewayProxyResponse{StatusCode: 500, Body: "deliverer unavailable"}
	}
	q, err := queue.New(st, d, cfg.QueueOptions(cfg.Workers, log))
	if err != nil {
		log.Error("queue", "error", err.Error())
		return events.APIGatewayProxyResponse{StatusCode: 500, Body: "queue unavailable"}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = start.Add(runLimit)
	}
	budget := time.Until(deadline) - cfg.QueueOptions(0, log).JobTimeout - 2*time.Second
	if budget <= 0 {
		log.Warn("no time left for a delivery run", "left", time.Until(deadline).String())
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "no time"}
	}
	left, err := q.WorkFor(ctx, budget)
	if err != nil {
		log.Error("queue", "error", err.Error())
	}
	log.Info("delivery run", "ready_left", left)
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: "ok"}
}

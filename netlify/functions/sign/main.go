// Command sign is the Netlify function behind POST /api/sign, the
// confirmation links, the public count, Mailgun's webhooks and the
// organizer's room (/admin/, /api/admin/): the same handler as `campaign
// serve`, over the letters this build published (embedded), recording to
// Postgres when DATABASE_URL is set.
package main

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"campaignkit/handler"
	"campaignkit/handler/config"
	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/netlify/buildinfo"
	"campaignkit/netlify/lambda"
)

// build holds the letters and deploy context `campaign build` left here.
//
// all: the other languages' letters are under letters/_translations
// (buildinfo.Translations), which a plain pattern leaves out.
//
//go:embed all:letters
var build embed.FS

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	h := newHandler(context.Background(), build, os.Getenv, log)
	awslambda.Start(lambda.Adapter{Handler: h, Paths: paths}.Invoke)
}

// paths maps the function's own URL, when it is called directly, to the
// handler's. Through netlify.toml's rewrites the event keeps the /api/ path.
var paths = map[string]string{
	"/.netlify/functions/sign":         "/api/sign",
	"/.netlify/functions/sign/confirm": "/api/confirm",
	"/.netlify/functions/sign/letters": "/api/letters",
	"/.netlify/functions/sign/mailgun": "/api/mailgun",
	"/.netlify/functions/sign/admin":   "/api/admin",
}

// newHandler wires the handler once per cold start. When something is
// missing it still answers, with a clear 503, rather than crash.
func newHandler(ctx context.Context, files fs.FS, getenv func(string) string, log *slog.Logger) http.Handler {
	letters, err := letter.Load(buildinfo.Site(files))
	if err == nil {
		err = handler.CheckLetters(letters)
	}
	if err != nil {
		log.Error("function built without letters: run `campaign build` before building the function", "error", err.Error())
		return unavailable("This campaign is being set up and cannot take letters yet.")
	}
	info, err := buildinfo.Read(files)
	if err != nil {
		log.Error("build info", "error", err.Error())
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		log.Error("configuration", "error", err.Error())
		return unavailable("This campaign is being set up and cannot take letters yet.")
	}
	if cfg.SiteURL == "" {
		cfg.SiteURL = info.URL
	}
	var rec handler.Recorder
	var conf handler.Confirmer
	var lazy *lazyRecorder
	switch {
	case info.Preview() && cfg.SandboxTo == "":
		log.Warn("deploy preview without CAMPAIGN_SANDBOX_TO: letters are refused", "context", info.Context)
		rec = refuse{"This is a preview of the campaign: letters are not delivered."}
		conf = rec.(handler.Confirmer)
	case cfg.Outbox():
		log.Error("MAILGUN_API_KEY is not set: letters are refused")
		rec = refuse{"Sending letters is not set up on this site yet."}
		conf = rec.(handler.Confirmer)
	default:
		// With DATABASE_URL: record with the delivery jobs in Postgres and
		// try the sends at once; the scheduled deliver function retries the
		// rest. Without: send now, with a few quick retries (see README).
		lazy = &lazyRecorder{open: func() (*config.Parts, error) {
			ctx, cancel := context.WithTimeout(ctx, config.OpenBudget)
			defer cancel()
			// The deploy's build migrated the database: a cold start only
			// checks, and keeps to a small pool (one request at a time).
			return cfg.Open(ctx, config.Program{TryInline: config.InlineBudget,
				MaxConns: config.FunctionMaxConns, NoMigrate: true}, log)
		}, log: log}
		lazy.get() // connect at cold start, not on the first supporter's time
		rec = lazy
		if cfg.DatabaseURL != "" {
			conf = lazy
		} else if cfg.Confirm {
			log.Error("letters that need confirmation are refused: confirming needs a database (DATABASE_URL), or set CAMPAIGN_CONFIRM=off (see README)")
		}
	}
	if info.Preview() {
		log.Info("deploy preview: every letter goes to the sandbox address", "context", info.Context)
	}
	hc := cfg.Handler(letters, rec, conf, log)
	if lazy != nil && cfg.DatabaseURL != "" {
		hc.Counter = lazy
	}
	hc.ClientIP = handler.RemoteIP // the adapter puts Netlify's client address there
	if lazy != nil && cfg.DatabaseURL != "" {
		hc.Events = lazy
	}
	hc.Admin = cfg.Admin(letters, func() (*config.Parts, error) {
		switch {
		case cfg.DatabaseURL == "":
			return nil, &letter.Unavailable{Reason: "The organizer's room needs the campaign's database: set DATABASE_URL in Netlify's environment variables, then redeploy."}
		case lazy == nil:
			return nil, &letter.Unavailable{Reason: "This deploy takes no letters (a preview without CAMPAIGN_SANDBOX_TO, or no MAILGUN_API_KEY), so its organizer's room is closed."}
		}
		if _, err := lazy.get(); err != nil {
			return nil, err
		}
		return lazy.opened(), nil
	}, log)
	switch {
	case lazy == nil: // letters are refused: nothing to limit
	case cfg.DatabaseURL == "":
		log.Info("no database: the per-client limit is kept by each function instance")
	case len(hc.Sending.TokenKey) < store.MinSecret:
		log.Warn("no key for the hashes of client addresses (CAMPAIGN_SECRET or MAILGUN_API_KEY): the per-client limit is kept by each function instance, not in the database")
	default:
		hc.Limiter = &sharedLimiter{rec: lazy, secret: hc.Sending.TokenKey, perMinute: hc.RatePerMinute, burst: hc.Burst}
	}
	return handler.New(hc)
}

// sharedLimiter keeps the per-client limit in the database, so that every
// instance of the function shares it. Until the recorder has opened the
// database, or when a check fails or is slow, it errs, and the handler
// limits in memory for that request.
type sharedLimiter struct {
	rec       *lazyRecorder
	secret    []byte
	perMinute float64
	burst     int

	mu  sync.Mutex
	lim *store.Limiter
}

// limitBudget bounds a check: a slow database must not hold up the answer.
const limitBudget = 2 * time.Second

func (s *sharedLimiter) Allow(ctx context.Context, client netip.Prefix) (bool, time.Duration, error) {
	lim, err := s.limiter()
	if err != nil {
		return false, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, limitBudget)
	defer cancel()
	return lim.Allow(ctx, client)
}

func (s *sharedLimiter) limiter() (*store.Limiter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lim != nil {
		return s.lim, nil
	}
	// Opening is the recorder's job: opening here too would double the
	// wait for every supporter while the database is down.
	parts := s.rec.opened()
	if parts == nil || parts.Store == nil {
		return nil, errors.New("the database is not open yet")
	}
	lim, err := store.NewLimiter(parts.Store, s.secret, s.perMinute, s.burst, nil)
	if err != nil {
		return nil, err
	}
	s.lim = lim
	return lim, nil
}

// lazyRecorder opens the database on first use and again after a failed
// open, so that a passing outage at cold start does not disable a warm
// function until Netlify recycles it.
type lazyRecorder struct {
	mu    sync.Mutex
	parts *config.Parts
	open  func() (*config.Parts, error)
	log   *slog.Logger
}

func (l *lazyRecorder) get() (handler.Recorder, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.parts == nil {
		parts, err := l.open()
		if errors.Is(err, store.ErrOldSchema) {
			// Tried again at each request: it works once migrated.
			l.log.Error("database schema older than this deploy: run `campaign migrate` (or redeploy with DATABASE_URL set for builds); letters are refused until then",
				"error", err.Error())
			return nil, err
		}
		if err != nil {
			l.log.Error("database", "error", err.Error())
			return nil, err
		}
		l.parts = parts
	}
	return l.parts.Recorder, nil
}

// opened is the parts once open, else nil; it never opens them.
func (l *lazyRecorder) opened() *config.Parts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parts
}

func (l *lazyRecorder) Record(ctx context.Context, sig *letter.Signature, msgs []letter.Message) (*letter.Signature, error) {
	rec, err := l.get()
	if err != nil {
		return nil, &letter.Unavailable{Reason: "Letters cannot be taken right now; please try again in a few minutes."}
	}
	return rec.Record(ctx, sig, msgs)
}

func (l *lazyRecorder) confirmer() (handler.Confirmer, error) {
	if _, err := l.get(); err != nil {
		return nil, &letter.Unavailable{Reason: "Letters cannot be confirmed right now; please open the link again in a few minutes."}
	}
	if l.parts.Confirmer == nil {
		return nil, &letter.Unavailable{Reason: "Letters cannot be confirmed on this site."}
	}
	return l.parts.Confirmer, nil
}

func (l *lazyRecorder) Pending(ctx context.Context, tokenHash string) (*letter.Signature, []letter.Message, error) {
	c, err := l.confirmer()
	if err != nil {
		return nil, nil, err
	}
	return c.Pending(ctx, tokenHash)
}

func (l *lazyRecorder) Confirm(ctx context.Context, tokenHash string) (*letter.Signature, error) {
	c, err := l.confirmer()
	if err != nil {
		return nil, err
	}
	return c.Confirm(ctx, tokenHash)
}

func (l *lazyRecorder) DeliveryEvent(ctx context.Context, tokenHash string, ev letter.DeliveryEvent) (bool, error) {
	if _, err := l.get(); err != nil {
		return false, &letter.Unavailable{Reason: "The database cannot be reached just now."}
	}
	return l.parts.Events.DeliveryEvent(ctx, tokenHash, ev)
}

// Count reads the public count once the database is open.
func (l *lazyRecorder) Count(ctx context.Context, letterID string) (int, error) {
	if _, err := l.get(); err != nil {
		return 0, err
	}
	if l.parts.Counter == nil {
		return 0, errors.New("no database to count in")
	}
	return l.parts.Counter.Count(ctx, letterID)
}

// refuse is the recorder of a function that must not send.
type refuse struct{ reason string }

func (r refuse) Record(context.Context, *letter.Signature, []letter.Message) (*letter.Signature, error) {
	return nil, &letter.Unavailable{Reason: r.reason}
}

func (r refuse) Pending(context.Context, string) (*letter.Signature, []letter.Message, error) {
	return nil, nil, &letter.Unavailable{Reason: r.reason}
}

func (r refuse) Confirm(context.Context, string) (*letter.Signature, error) {
	return nil, &letter.Unavailable{Reason: r.reason}
}

// unavailable answers every request with 503 and reason.
func unavailable(reason string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "300")
		http.Error(w, reason, http.StatusServiceUnavailable)
	})
}

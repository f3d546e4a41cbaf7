// Command campaign builds and runs the letter campaign: the Hugo site, the
// sign-and-send handler and the delivery queue.
//
//	campaign build    build the site into public/
//	campaign serve    build, then serve the site and the handler, and send;
//	                  rebuild and reload after each edit (-watch=false: not)
//	campaign worker   only send: work the delivery queue
//	campaign status   print signatures and messages by state
//	campaign release  send letters held past CAMPAIGN_MAX_SIGN_RATE
//	campaign purge    delete the personal data of older signatures now
//	campaign migrate  bring the database's schema up to date (once per deploy)
//	campaign export   write every signature as CSV
//	campaign new letter <id>  create content/letters/<id>.md to edit
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"campaignkit/handler/config"
	"campaignkit/netlify/buildinfo"
)

const usage = `usage: campaign <command> [flags]

commands:
  build    build the site (Hugo) into public/
  serve    build the site, then serve it and the handler on http://127.0.0.1:8080 and send letters;
           an edit to content/, layouts/ or site/ rebuilds it and reloads the page (-watch=false: not)
  worker   send letters: work the delivery queue, serve nothing
  status   print counts of signatures and messages by delivery state
  release  send the letters held because the campaign passed CAMPAIGN_MAX_SIGN_RATE
  purge    delete the personal data of signatures older than --older-than (default CAMPAIGN_RETENTION)
  migrate  bring the database's schema up to date (build runs it when DATABASE_URL is set)
  export   write every signature, with its letters' outcomes, as CSV (-o file)
  new      new letter <id>: create content/letters/<id>.md, every field explained

Run "campaign <command> -h" for a command's flags. Configuration comes from
the environment: see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "campaign:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case rebuildCommand: // serve's own child, not for people (reload.go)
		if len(args) != 3 {
			return fmt.Errorf("%s takes the site, the folder to build into and the Turnstile site key", rebuildCommand)
		}
		return buildSite(args[0], args[1], "", args[2], true)
	}
	fs := flag.NewFlagSet("campaign "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	site := fs.String("site", "site", "the Hugo project to build (default: the project's)")
	public := fs.String("public", "public", "where the built site goes (default: in the project)")
	var function, addr, letterID, olderThan, out *string
	var limit *int
	var migrateDB, watch *bool
	switch cmd {
	case "build":
		function = fs.String("function", "netlify/functions/sign", "the Netlify function that embeds the letters (\"\" for none)")
		migrateDB = fs.Bool("migrate", true, "with DATABASE_URL set, bring its schema up to date (campaign migrate)")
	case "serve":
		addr = fs.String("addr", "", "address to listen on (default 127.0.0.1:8080, or :$PORT when PORT is set)")
		watch = fs.Bool("watch", true, "rebuild the site and letters when content/, layouts/ or site/ change, and reload pages open on this machine")
	case "release":
		letterID = fs.String("letter", "", "release only this letter's held signatures (default: every letter's)")
		limit = fs.Int("n", 1_000_000, "release at most this many signatures, oldest first")
	case "purge":
		olderThan = fs.String("older-than", "", "purge signatures made longer ago than this: days (30d) or a duration (720h); default CAMPAIGN_RETENTION")
	case "export":
		out = fs.String("o", "", "write to this file (readable by you only) instead of standard output")
	case "worker", "status", "migrate", "new":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Paths not given are the project's, found from here upwards, so that a
	// command run from a subfolder uses the project's site and data.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	p := &project{}
	for name, path := range map[string]*string{"site": site, "public": public, "function": function} {
		if path != nil && *path != "" && !given[name] && (cmd == "build" || cmd == "serve" || cmd == "new") {
			root, err := p.root()
			if err != nil {
				return err
			}
			*path = filepath.Join(root, *path)
		}
	}
	if cmd != "build" && cmd != "new" && getenv("CAMPAIGN_DATA_DIR") == "" && getenv("DATABASE_URL") == "" {
		// The data is the project's: without one, say where we looked
		// rather than make an empty database here.
		if _, err := p.root(); err != nil {
			return err
		}
	}
	getenv = p.dataDir(getenv)
	switch cmd {
	case "build":
		deployContext := getenv("CONTEXT") // set by Netlify's build
		// Only the site key: the secret is the function's, at run time.
		siteKey := strings.TrimSpace(getenv("TURNSTILE_SITE_KEY"))
		// The count needs the function's database: shown when the build
		// sees DATABASE_URL too.
		count := getenv("DATABASE_URL") != ""
		// The editor's mistakes first, all of them, each with its file:
		// Netlify then refuses the deploy instead of a function that
		// refuses every supporter.
		check := checkCampaign(*site, deployContext == "production")
		for _, w := range check.warnings {
			fmt.Fprintln(stderr, "campaign: warning:", w)
		}
		if err := check.err(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
		// The public address, for share links and tags: as for the
		// function's confirmation links below.
		siteURL := cmp.Or(getenv("CAMPAIGN_SITE_URL"), getenv("URL"))
		if buildinfo.IsPreview(deployContext) && getenv("DEPLOY_PRIME_URL") != "" {
			siteURL = getenv("DEPLOY_PRIME_URL")
		}
		if err := siteSettings(getenv, siteURL); err != nil {
			return err
		}
		if err := buildSite(*site, *public, deployContext, siteKey, count); err != nil {
			return err
		}
		if err := writeHeaders(*public, pageCSP(siteKey)); err != nil {
			return err
		}
		// A site whose letters the handler would refuse must not deploy.
		if _, err := loadLetters(*public); err != nil {
			return fmt.Errorf("build: %w", nameLetterFiles(err))
		}
		// Once per deploy, before its functions meet the database: they
		// only check the schema (a cold start must not migrate).
		if *migrateDB && getenv("DATABASE_URL") != "" {
			if err := migrate(ctx, getenv, stdout); err != nil {
				return fmt.Errorf("build: %w", err)
			}
		}
		if *function == "" {
			return nil
		}
		// Netlify's build knows the deploy's address; its functions do not.
		siteURL = getenv("URL")
		if buildinfo.IsPreview(deployContext) && getenv("DEPLOY_PRIME_URL") != "" {
			siteURL = getenv("DEPLOY_PRIME_URL")
		}
		return prepareFunction(*public, *function, deployContext, siteURL)
	case "serve":
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		if *addr == "" {
			*addr = "127.0.0.1:8080"
			if port := getenv("PORT"); port != "" {
				*addr = ":" + port
			}
		}
		// Placeholder addresses are warned about once the letters load.
		if err := checkCampaign(*site, false).err(); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		if err := siteSettings(getenv, cfg.SiteURL); err != nil {
			return err
		}
		if err := buildSite(*site, *public, "", cfg.TurnstileSiteKey, true); err != nil {
			return err
		}
		// After the first build, which runs Hugo in this process.
		config.LongRunningGC(getenv)
		return serve(ctx, cfg, serveOptions{Addr: *addr, Site: *site, Public: *public, Watch: *watch, WatchGiven: given["watch"], Term: stderr}, log)
	case "worker":
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		config.LongRunningGC(getenv)
		return work(ctx, cfg, log)
	case "status":
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return status(ctx, cfg, stdout, log)
	case "release":
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return release(ctx, cfg, *letterID, *limit, stdout, log)
	case "purge":
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return purge(ctx, cfg, *olderThan, stdout, log)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "new":
		return newLetter(*site, fs.Args(), stdout)
	case "export":
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return export(ctx, cfg, *out, stdout, stderr, log)
	}
	return nil
}

// project is the campaign's project folder (the one holding
// site/hugo.toml), found from the working directory upwards when a command
// needs it.
type project struct {
	dir    string
	err    error
	looked bool
}

func (p *project) root() (string, error) {
	if p.looked {
		return p.dir, p.err
	}
	p.looked = true
	here, err := os.Getwd()
	if err != nil {
		p.err = err
		return "", err
	}
	var tried []string
	for dir := here; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "site", "hugo.toml")); err == nil {
			p.dir = dir
			return dir, nil
		}
		tried = append(tried, dir)
		if filepath.Dir(dir) == dir {
			p.err = fmt.Errorf("no campaign project here: looked for site/hugo.toml in %s; run campaign from the project's folder",
				strings.Join(tried, ", "))
			return "", p.err
		}
	}
}

// dataDir makes the default data folder (CAMPAIGN_DATA_DIR unset) the
// project's .campaign. Outside a project that is an error, unless the data
// lives in Postgres (a worker on a server without the site).
func (p *project) dataDir(getenv func(string) string) func(string) string {
	return func(key string) string {
		v := getenv(key)
		if key != "CAMPAIGN_DATA_DIR" || v != "" {
			return v
		}
		root, err := p.root()
		if err != nil {
			return ""
		}
		return filepath.Join(root, config.DefaultDataDir)
	}
}

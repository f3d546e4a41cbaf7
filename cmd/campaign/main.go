// Command campaign builds and runs the letter campaign: the Hugo site, the
// sign-and-send handler and the delivery queue.
//
//	campaign build    build the site into public/
//	campaign serve    build, then serve the site and the handler, and send
//	campaign worker   only send: work the delivery queue
//	campaign status   print signatures and messages by state
package main

import (
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
)

const usage = `usage: campaign <command> [flags]

commands:
  build    build the site (Hugo) into public/
  serve    build the site, then serve it and the handler on http://127.0.0.1:8080 and send letters
  worker   send letters: work the delivery queue, serve nothing
  status   print counts of signatures and messages by delivery state

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
	}
	if err := toProjectRoot(log); err != nil {
		return err
	}
	fs := flag.NewFlagSet("campaign "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	site := fs.String("site", "site", "the Hugo project to build")
	public := fs.String("public", "public", "where the built site goes")
	switch cmd {
	case "build":
		function := fs.String("function", "netlify/functions/sign", "the Netlify function that embeds the letters (\"\" for none)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		deployContext := getenv("CONTEXT") // set by Netlify's build
		if err := buildSite(*site, *public, deployContext); err != nil {
			return err
		}
		if *function == "" {
			return nil
		}
		return prepareFunction(*public, *function, deployContext)
	case "serve":
		addr := fs.String("addr", "", "address to listen on (default 127.0.0.1:8080, or :$PORT when PORT is set)")
		if err := fs.Parse(args); err != nil {
			return err
		}
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
		if err := buildSite(*site, *public, ""); err != nil {
			return err
		}
		return serve(ctx, cfg, *addr, *public, log)
	case "worker":
		if err := fs.Parse(args); err != nil {
			return err
		}
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return work(ctx, cfg, log)
	case "status":
		if err := fs.Parse(args); err != nil {
			return err
		}
		cfg, err := config.Load(getenv)
		if err != nil {
			return err
		}
		return status(ctx, cfg, stdout, log)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// toProjectRoot makes the campaign's project folder (the one holding
// site/hugo.toml) the working directory, looking upwards from here, so that
// a command run from a subfolder uses the project's site and data instead
// of making an empty database where it stands.
func toProjectRoot(log *slog.Logger) error {
	here, err := os.Getwd()
	if err != nil {
		return err
	}
	var looked []string
	for dir := here; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "site", "hugo.toml")); err == nil {
			if dir != here {
				log.Info("using the campaign project above this folder", "root", dir)
				return os.Chdir(dir)
			}
			return nil
		}
		looked = append(looked, dir)
		if filepath.Dir(dir) == dir {
			return fmt.Errorf("no campaign project here: looked for site/hugo.toml in %s; run campaign from the project's folder",
				strings.Join(looked, ", "))
		}
	}
}

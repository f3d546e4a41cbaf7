package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"campaignkit/handler/admin"
	"campaignkit/handler/config"
)

// export writes every signature as CSV (the organizer's download) to
// out, or to stdout when out is empty. The file holds personal data: it
// is made readable by its owner only, and appears whole or not at all.
// On a terminal, stderr shows a running count.
func export(ctx context.Context, cfg *config.Config, out string, stdout, stderr io.Writer, log *slog.Logger) error {
	parts, err := cfg.Open(ctx, program(0), log)
	if err != nil {
		return err
	}
	defer parts.Close()
	w := stdout
	var tmp *os.File
	if out != "" {
		tmp, err = os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer os.Remove(tmp.Name()) // after the rename, nothing is left
		defer tmp.Close()
		w = tmp
	}
	var progress func(int)
	if terminal(stderr) {
		progress = func(n int) { fmt.Fprintf(stderr, "\rexported %d signatures", n) }
	}
	rows := 0
	err = admin.WriteCSV(ctx, w, parts.Store, func(n int) {
		rows = n
		if progress != nil {
			progress(n)
		}
	})
	if progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(tmp.Name(), out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		fmt.Fprintf(stderr, "exported %d signatures to %s\n", rows, out)
	}
	return nil
}

// terminal reports whether w is a terminal (a character device), where
// a running count helps; golang.org/x/term would be a dependency for this.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

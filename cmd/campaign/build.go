package main

import (
	"fmt"
	"path/filepath"

	"github.com/gohugoio/hugo/commands"
)

// buildSite runs the pinned Hugo, in this process, on the site in siteDir
// and writes it to publicDir.
func buildSite(siteDir, publicDir string) error {
	src, err := filepath.Abs(siteDir)
	if err != nil {
		return err
	}
	dst, err := filepath.Abs(publicDir)
	if err != nil {
		return err
	}
	args := []string{"build", "--source", src, "--destination", dst, "--cleanDestinationDir", "--minify",
		"--logLevel", "warn", "--environment", "production"}
	if err := commands.Execute(args); err != nil {
		return fmt.Errorf("build: hugo: %w", err)
	}
	return nil
}

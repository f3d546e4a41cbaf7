package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/gohugoio/hugo/commands"

	"campaignkit/handler/letter"
)

// newLetter creates content/letters/<id>.md from the site's archetype
// (site/archetypes/letters.md, every front-matter field explained) with
// Hugo's own `new content`, run in this process as build runs Hugo.
func newLetter(siteDir string, args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "letter" {
		return errors.New("new: usage: campaign new letter <id>")
	}
	id := args[1]
	if !letter.ValidID(id) {
		return fmt.Errorf("new letter: %q cannot be a letter's id: %s", id, letter.IDRule)
	}
	src, err := filepath.Abs(siteDir)
	if err != nil {
		return err
	}
	c := &campaignCheck{root: filepath.Dir(src)}
	dir := filepath.Join(readMounts(c, src)["content"], "letters")
	// The id is the file's name, in any language (id.es.md too).
	existing, _ := filepath.Glob(filepath.Join(dir, id+".*md"))
	if len(existing) > 0 {
		// The default language's file (id.md) first: the one an editor knows.
		slices.SortFunc(existing, func(a, b string) int { return len(a) - len(b) })
		return fmt.Errorf("new letter: %s already exists: choose another id", c.name(existing[0], 0))
	}
	if err := commands.Execute([]string{"new", "content", "letters/" + id + ".md", "--source", src, "--logLevel", "warn"}); err != nil {
		return fmt.Errorf("new letter: hugo: %w", err)
	}
	file := filepath.Join(dir, id+".md")
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("new letter: hugo made no %s: %w", c.name(file, 0), err)
	}
	fmt.Fprintf(stdout, "created %s: write its targets and text there (each field is explained in it); its page will be /letters/%s/\n", c.name(file, 0), id)
	return nil
}

// Package buildinfo is what `campaign build` leaves for the Netlify
// functions to embed: the letters of the build and its deploy context.
package buildinfo

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"strings"
)

// Dir is the folder, in the site and in a function, that holds the letters.
const Dir = "letters"

// File is the build's description inside Dir.
const File = "build.json"

// Translations is the folder inside Dir that holds the site's other
// languages' letters by their paths in the site (es/letters/…): a
// function embeds Dir alone. No letter id starts with "_".
const Translations = "_translations"

// Site is the site's letters as letter.Load reads them, from a function's
// embedded files: Dir as it is, and every other path (another language's,
// es/letters/…) from Dir/Translations.
func Site(files fs.FS) fs.FS { return site{files} }

type site struct{ files fs.FS }

func (s site) Open(name string) (fs.File, error) {
	if name == Dir || strings.HasPrefix(name, Dir+"/") || !fs.ValidPath(name) {
		return s.files.Open(name)
	}
	return s.files.Open(path.Join(Dir, Translations, name))
}

// Info describes the build.
type Info struct {
	// Context is Netlify's CONTEXT at build time: production,
	// deploy-preview, branch-deploy, dev; empty outside Netlify.
	Context string `json:"context"`
	// URL is the deploy's address (Netlify's DEPLOY_PRIME_URL for a
	// preview, URL for production), for links in emails to signers:
	// Netlify gives these to builds, not to functions.
	URL string `json:"url"`
}

// Preview reports whether the build must not mail real officials.
func (i Info) Preview() bool { return IsPreview(i.Context) }

// IsPreview reports whether a deploy context is anything but production.
// Outside Netlify (no context) a build is not a preview.
func IsPreview(context string) bool { return context != "" && context != "production" }

// Read reads the build's description from the embedded files; a missing
// file means a build made outside Netlify.
func Read(files fs.FS) (Info, error) {
	var info Info
	raw, err := fs.ReadFile(files, path.Join(Dir, File))
	if errors.Is(err, fs.ErrNotExist) {
		return info, nil
	}
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(raw, &info)
}

package handler

import (
	"sync/atomic"

	"campaignkit/handler/letter"
)

// LiveLetters holds the letters a handler merges from, replaced whole when
// the site is rebuilt (`campaign serve` reloads them after an edit). A
// request reads one set and keeps it: it never sees a half-updated map,
// and the letter it merges is the one the page showed when it was read.
type LiveLetters struct {
	p atomic.Pointer[letter.Letters]
}

// NewLiveLetters holds letters until Store replaces them.
func NewLiveLetters(letters letter.Letters) *LiveLetters {
	l := &LiveLetters{}
	l.Store(letters)
	return l
}

// Load returns the current letters; callers must not change the map.
func (l *LiveLetters) Load() letter.Letters { return *l.p.Load() }

// Store replaces the letters with a new set, built and checked whole
// beforehand.
func (l *LiveLetters) Store(letters letter.Letters) { l.p.Store(&letters) }

package store

import (
	"slices"
	"strings"
)

// CountMigration is the migration that starts the public count, found by
// what it does rather than its number, which merges may change.
func CountMigration() string {
	i := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "'counted'") })
	return migrations[i]
}

// SetRetentionBatch makes Purge work n signatures per transaction until
// the test ends (restore), so tests see it go through several.
func SetRetentionBatch(n int) (restore func()) {
	old := retentionBatch
	retentionBatch = n
	return func() { retentionBatch = old }
}

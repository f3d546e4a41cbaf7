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

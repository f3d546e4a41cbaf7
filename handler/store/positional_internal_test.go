package store

import (
	"strings"
	"testing"
)

// Numbered parameters become plain ? only where that means the same.
func TestPositional(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{"INSERT INTO t (a, b) VALUES ($1, $2)", "INSERT INTO t (a, b) VALUES (?, ?)"},
		{"SELECT 1 WHERE a = $1 AND b > $2 LIMIT $3", "SELECT 1 WHERE a = ? AND b > ? LIMIT ?"},
		{"SELECT $2, $1", "SELECT $2, $1"},                   // out of order
		{"SELECT $1 WHERE a = $1", "SELECT $1 WHERE a = $1"}, // twice
		{"SELECT 1", "SELECT 1"},
		{"SELECT '$1', $1 WHERE a = 'it''s $2'", "SELECT '$1', ? WHERE a = 'it''s $2'"}, // literals are text
		{"SELECT 'open $1", "SELECT 'open $1"},                                          // unclosed: as it is
	} {
		if got := positional(c.q); got != c.want {
			t.Errorf("positional(%q) = %q, want %q", c.q, got, c.want)
		}
	}
	// 2 rows of 18 columns: $1 … $36, in order.
	got := positional(messageRows.insert(2))
	if n := 2 * len(messageColumns); strings.Count(got, "?") != n || strings.Contains(got, "$") {
		t.Errorf("positional(messageRows.insert(2)) = %q, want %d plain parameters", got, n)
	}
}

package letter

import (
	"testing"
	"time"
)

// Ids are 32 hex digits, sort in the order they were made (a millisecond
// apart), and differ when made in the same millisecond.
func TestNewIDSortsByTime(t *testing.T) {
	a := NewID()
	time.Sleep(2 * time.Millisecond)
	b, c := NewID(), NewID()
	if len(a) != 32 || len(b) != 32 {
		t.Fatalf("ids %q, %q: want 32 hex digits", a, b)
	}
	if a >= b {
		t.Errorf("%q made before %q sorts after it", a, b)
	}
	if b == c {
		t.Errorf("two ids alike: %q", b)
	}
}

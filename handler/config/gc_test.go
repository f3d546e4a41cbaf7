package config

import (
	"runtime/debug"
	"testing"
)

// serve and worker collect garbage at longRunningGC, unless GOGC says
// otherwise.
func TestLongRunningGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	LongRunningGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != longRunningGC {
		t.Errorf("GOGC unset: the target is %d, want %d", got, longRunningGC)
	}
	LongRunningGC(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: the target was changed to %d, want it left alone", got)
	}
}

package config

import "runtime/debug"

// longRunningGC is the garbage collector's target (GOGC) for `campaign
// serve` and `campaign worker`. Their live heap is about 10 MB; at Go's
// default (100) a peak of signatures collected it dozens of times a
// second, and on two cores each collection took one of them. At 400 the
// heap peaked near 36 MB instead of 18, and the bench's intake (handler
// and load in one process) took 17–19 % more signatures a second
// (BENCHMARKS.md).
const longRunningGC = 400

// LongRunningGC sets longRunningGC unless GOGC is set in the environment.
func LongRunningGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(longRunningGC)
	}
}

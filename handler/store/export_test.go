package store

// SetRetentionBatch makes Purge work n signatures per transaction until
// the test ends (restore), so tests see it go through several.
func SetRetentionBatch(n int) (restore func()) {
	old := retentionBatch
	retentionBatch = n
	return func() { retentionBatch = old }
}

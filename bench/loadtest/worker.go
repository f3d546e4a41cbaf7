package loadtest

import "regexp"

var working = regexp.MustCompile(`msg="working the delivery queue"`)

// StartWorker runs `campaign worker` (only the delivery queue) and waits
// until it works the queue.
func StartWorker(o Options) (*Process, error) {
	return launch(o, []string{"worker"}, working)
}

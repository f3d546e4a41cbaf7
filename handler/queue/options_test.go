package queue

import (
	"testing"
	"time"

	"campaignkit/handler/deliver"
)

func TestOptionDefaults(t *testing.T) {
	var o Options
	o.defaults()
	if o.MaxAttempts != 1500 || o.JobTimeout != time.Minute || o.RescueAfter != 2*time.Minute ||
		o.PollInterval != time.Second || o.Log == nil {
		t.Fatalf("zero options became %+v", o)
	}
	// Given values are kept.
	o = Options{MaxAttempts: 7, JobTimeout: 10 * time.Second, RescueAfter: 30 * time.Second, PollInterval: 100 * time.Millisecond}
	o.defaults()
	if o.MaxAttempts != 7 || o.JobTimeout != 10*time.Second || o.RescueAfter != 30*time.Second || o.PollInterval != 100*time.Millisecond {
		t.Fatalf("given options became %+v", o)
	}
	// Floors: an attempt always has room to record its send, and a job is
	// never rescued while its attempt may still be running.
	o = Options{JobTimeout: time.Millisecond, RescueAfter: time.Millisecond, PollInterval: time.Microsecond}
	o.defaults()
	if want := deliver.RecordBudget + time.Second; o.JobTimeout != want {
		t.Errorf("job timeout %v, want at least %v", o.JobTimeout, want)
	}
	if want := o.JobTimeout + deliver.RecordBudget + time.Second; o.RescueAfter != want {
		t.Errorf("rescue after %v, want at least %v", o.RescueAfter, want)
	}
	if o.PollInterval != 20*time.Millisecond {
		t.Errorf("poll interval %v, want the 20 ms floor", o.PollInterval)
	}
}

func TestPacerWithoutARateNeverWaits(t *testing.T) {
	if p := newPacer(0); p.interval != 0 {
		t.Fatalf("no rate: interval %v, want none", p.interval)
	}
	rate := 49.0
	if p := newPacer(rate); p.interval != time.Duration(float64(time.Second)/(rate*0.98)) {
		t.Fatalf("49/s: interval %v, want 2 %% below the limit", p.interval)
	}
}

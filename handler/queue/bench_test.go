package queue_test

import (
	"context"
	"fmt"
	"net/mail"
	"os"
	"syscall"
	"testing"
	"time"

	"campaignkit/handler/deliver"
	"campaignkit/handler/letter"
	"campaignkit/handler/queue"
	"campaignkit/handler/store/storetest"
)

// BenchmarkRecordBatch is the writer of the sign path alone on SQLite:
// batches of the campaign's own letter signed (store.RecordAll with the
// delivery jobs, as group commit runs them), no HTTP. It reports the CPU
// the process spent a signature (cpu-µs/sig, the checkpointer included),
// steadier than the time a signature when other work shares the cores:
//
//	go test ./handler/queue -run '^$' -bench RecordBatch -benchtime 20000x
func BenchmarkRecordBatch(b *testing.B) {
	letters, err := letter.Load(os.DirFS("../testdata/site"))
	if err != nil {
		b.Fatal(err)
	}
	l := letters["family-separation"]
	how := letter.Sending{From: mail.Address{Address: "letters@mg.example"}, MessageIDDomain: "mg.example",
		SiteURL: "https://example.org", TokenKey: []byte("bench")}
	for _, confirm := range []bool{false, true} {
		for _, size := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("confirm=%v/batch=%d", confirm, size), func(b *testing.B) {
				ctx := context.Background()
				st := storetest.OpenSQLite(b, b.TempDir())
				if err := queue.Migrate(ctx, st); err != nil {
					b.Fatal(err)
				}
				q, err := queue.New(st, &deliver.Deliverer{Store: st, Log: quiet()}, queue.Options{Log: quiet()})
				if err != nil {
					b.Fatal(err)
				}
				sigs := make([]*letter.Signature, b.N)
				msgs := make([][]letter.Message, b.N)
				for i := range b.N {
					s := &letter.Signer{Letter: l.ID, FirstName: "Load", LastName: fmt.Sprintf("Signer %d", i),
						Email: fmt.Sprintf("signer%d@example.org", i), Address: fmt.Sprintf("%d Main St", i), City: "Springfield",
						State: "IL", Zip: "62701", Subject: l.Subject, Body: l.Body}
					if confirm {
						sigs[i], msgs[i] = letter.SignToConfirm(l, s, how)
					} else {
						sigs[i], msgs[i] = letter.Sign(l, s, how)
					}
				}
				b.ResetTimer()
				cpu0 := cpu()
				for i := 0; i < b.N; i += size {
					j := min(i+size, b.N)
					for k, err := range q.RecordTogether(ctx, sigs[i:j], msgs[i:j]) {
						if err != nil {
							b.Fatalf("signature %d: %v", i+k, err)
						}
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(cpu()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/sig")
			})
		}
	}
}

// cpu is the CPU time this process has used.
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package queue_test

import (
	"context"
	"errors"
	"testing"

	"campaignkit/handler/queue"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// CheckSchema refuses River's tables until Migrate has run, and changes
// nothing itself.
func TestCheckSchemaWantsTheQueueMigrated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open() // the store's own tables, not River's
		for range 2 {
			if err := queue.CheckSchema(ctx, st); !errors.Is(err, store.ErrOldSchema) {
				t.Fatalf("before Migrate: %v, want ErrOldSchema", err)
			}
		}
		if err := queue.Migrate(ctx, st); err != nil {
			t.Fatal(err)
		}
		if err := queue.CheckSchema(ctx, st); err != nil {
			t.Fatalf("after Migrate: %v", err)
		}
	})
}

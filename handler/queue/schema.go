package queue

import (
	"context"
	"fmt"
	"strings"

	"github.com/riverqueue/river/rivermigrate"

	"campaignkit/handler/store"
)

// CheckSchema reports, without changing anything, whether River's tables
// are at least as new as this program's River needs (Migrate, run once
// per deploy, brings them there); when not, the error wraps
// store.ErrOldSchema.
func CheckSchema(ctx context.Context, st *store.Store) error {
	m, err := rivermigrate.New(st.QueueDriver(), &rivermigrate.Config{Logger: quiet()})
	if err != nil {
		return fmt.Errorf("queue: schema: %w", err)
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("queue: schema: %w", err)
	}
	if !res.OK {
		return fmt.Errorf("queue: %s: %w", strings.Join(res.Messages, "; "), store.ErrOldSchema)
	}
	return nil
}

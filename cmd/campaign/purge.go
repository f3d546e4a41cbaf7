package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"campaignkit/handler/config"
)

// purge deletes now what the retention would (store.Purge): the personal
// data of signatures older than olderThan, or CAMPAIGN_RETENTION.
func purge(ctx context.Context, cfg *config.Config, olderThan string, w io.Writer, log *slog.Logger) error {
	age := cfg.Retention
	if olderThan != "" {
		var err error
		if age, err = config.ParseAge(olderThan); err != nil {
			return fmt.Errorf("purge: --older-than %w", err)
		}
		// Younger attempts still have working confirmation links.
		if age < cfg.ConfirmTTL {
			return fmt.Errorf("purge: --older-than %s is shorter than CAMPAIGN_CONFIRM_TTL (%s): it would void confirmation links that still work", olderThan, cfg.ConfirmTTL)
		}
	}
	parts, err := cfg.Open(ctx, program(0), log)
	if err != nil {
		return err
	}
	defer parts.Close()
	before := time.Now().Add(-age)
	res, err := parts.Store.Purge(ctx, before)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "purged %d signatures made before %s: their personal data is deleted, their counts and delivery outcomes kept\n",
		res.Signatures, before.UTC().Format(time.RFC3339))
	if res.Expired > 0 {
		fmt.Fprintf(w, "deleted %d signatures never confirmed (counted as expired)\n", res.Expired)
	}
	if res.Kept > 0 {
		fmt.Fprintf(w, "kept %d signatures whose letters are held or still being sent: they need the data (see campaign status)\n", res.Kept)
	}
	return nil
}

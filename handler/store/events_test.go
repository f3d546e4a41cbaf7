package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// setState puts a message in a state as if it had got there.
func setState(t *testing.T, st *store.Store, id, state string) {
	t.Helper()
	if _, err := st.DB().Exec(`UPDATE messages SET state = $1, error = 'earlier' WHERE id = $2`, state, id); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveryEventMovesOnlyForward(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		tests := []struct {
			from, event string
			want        string
			moved       bool
		}{
			{letter.StateQueued, letter.StateDelivered, letter.StateDelivered, true},
			{letter.StateSent, letter.StateDelivered, letter.StateDelivered, true},
			{letter.StateFailed, letter.StateDelivered, letter.StateDelivered, true},
			{letter.StateComplained, letter.StateDelivered, letter.StateComplained, false},
			{letter.StateHeld, letter.StateDelivered, letter.StateHeld, false},
			{letter.StateUnconfirmed, letter.StateDelivered, letter.StateUnconfirmed, false},
			{letter.StateSent, letter.StateFailed, letter.StateFailed, true},
			{letter.StateDelivered, letter.StateFailed, letter.StateFailed, true},
			{letter.StateComplained, letter.StateFailed, letter.StateComplained, false},
			{letter.StateSent, letter.StateComplained, letter.StateComplained, true},
			{letter.StateDelivered, letter.StateComplained, letter.StateComplained, true},
			{letter.StateSent, "", letter.StateSent, false}, // a temporary failure
		}
		for i, tt := range tests {
			sig, msgs := signature("jane" + string(rune('a'+i)) + "@example.org")
			if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
				t.Fatal(err)
			}
			id := msgs[0].ID
			setState(t, st, id, tt.from)
			ev := letter.DeliveryEvent{MessageID: id, State: tt.event}
			if tt.event == letter.StateFailed {
				ev.Reason = "550 5.1.1 no such mailbox"
			}
			moved, err := st.DeliveryEvent(ctx, letter.HashToken(id), ev)
			if err != nil || moved != tt.moved {
				t.Errorf("%s on %s: moved %v, %v; want moved %v", tt.event, tt.from, moved, err, tt.moved)
			}
			m, err := st.Message(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantErr := "earlier"
			if tt.moved {
				wantErr = ev.Reason
			}
			if m.State != tt.want || m.Error != wantErr {
				t.Errorf("%s on %s: state %s (%q), want %s (%q)", tt.event, tt.from, m.State, m.Error, tt.want, wantErr)
			}
			// The other message of the signature is untouched.
			if other, _ := st.Message(ctx, msgs[1].ID); other.State != letter.StateQueued {
				t.Errorf("%s on %s moved the signature's other message to %s", tt.event, tt.from, other.State)
			}
		}
		counts, err := st.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[letter.StateDelivered] != 3 || counts[letter.StateComplained] != 4 {
			t.Errorf("counts = %v", counts)
		}
	})
}

func TestDeliveryEventTokensAreSingleUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		sig, msgs := signature("jane@example.org")
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		delivered := letter.DeliveryEvent{MessageID: msgs[0].ID, State: letter.StateDelivered}
		if moved, err := st.DeliveryEvent(ctx, "t1", delivered); !moved || err != nil {
			t.Fatalf("first: %v, %v", moved, err)
		}
		// A replay changes nothing, even one carrying another event.
		failed := letter.DeliveryEvent{MessageID: msgs[1].ID, State: letter.StateFailed, Reason: "forged"}
		if moved, err := st.DeliveryEvent(ctx, "t1", failed); moved || !errors.Is(err, letter.ErrReplayed) {
			t.Fatalf("replay: %v, %v", moved, err)
		}
		if m, _ := st.Message(ctx, msgs[1].ID); m.State != letter.StateQueued {
			t.Fatalf("a replay moved a message to %s", m.State)
		}
		// An unknown message: its token is kept all the same.
		unknown := letter.DeliveryEvent{MessageID: "nope@mg.example", State: letter.StateDelivered}
		if _, err := st.DeliveryEvent(ctx, "t2", unknown); !errors.Is(err, letter.ErrNotFound) {
			t.Fatalf("unknown message: %v", err)
		}
		if _, err := st.DeliveryEvent(ctx, "t2", unknown); !errors.Is(err, letter.ErrReplayed) {
			t.Fatalf("unknown message again: %v", err)
		}
		// A temporary failure too.
		if _, err := st.DeliveryEvent(ctx, "t3", letter.DeliveryEvent{MessageID: msgs[1].ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeliveryEvent(ctx, "t3", letter.DeliveryEvent{MessageID: msgs[1].ID}); !errors.Is(err, letter.ErrReplayed) {
			t.Fatalf("temporary failure again: %v", err)
		}

		// Many deliveries of one token at once: one is taken.
		var wg sync.WaitGroup
		var mu sync.Mutex
		taken := 0
		for range 8 {
			wg.Go(func() {
				_, err := st.DeliveryEvent(ctx, "t4", delivered)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					taken++
				case !errors.Is(err, letter.ErrReplayed):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if taken != 1 {
			t.Errorf("one token taken %d times", taken)
		}

		// Tokens are forgotten after TokenMemory: by then their timestamp
		// is stale.
		old := time.Now().Add(-store.TokenMemory - time.Minute).UnixMilli()
		if _, err := st.DB().Exec(`UPDATE webhook_tokens SET seen_at = $1 WHERE token_hash <> 't4'`, old); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeliveryEvent(ctx, "t5", letter.DeliveryEvent{MessageID: msgs[1].ID}); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := st.DB().QueryRow(`SELECT COUNT(*) FROM webhook_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("%d tokens kept, want t4 and t5", n)
		}
	})
}

// The webhook can tell of a delivery before the sender records its send:
// that record must not undo it.
func TestSenderRecordKeepsWhatTheWebhookSaid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		sig, msgs := signature("jane@example.org")
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		for i, state := range []string{letter.StateDelivered, letter.StateComplained} {
			if _, err := st.DeliveryEvent(ctx, state, letter.DeliveryEvent{MessageID: msgs[i].ID, State: state}); err != nil {
				t.Fatal(err)
			}
			if err := st.MarkSent(ctx, msgs[i].ID, "<mg-late>"); err != nil {
				t.Fatal(err)
			}
			if err := st.MarkAttempt(ctx, msgs[i].ID, "timeout"); err != nil {
				t.Fatal(err)
			}
			if m, _ := st.Message(ctx, msgs[i].ID); m.State != state {
				t.Errorf("%s, then the sender's record: %s", state, m.State)
			}
		}
		// An attempt that timed out after the service took the message,
		// which then bounced: the attempt's record does not queue it again.
		sig, msgs = signature("joe@example.org")
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeliveryEvent(ctx, letter.StateFailed, letter.DeliveryEvent{MessageID: msgs[0].ID, State: letter.StateFailed}); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkAttempt(ctx, msgs[0].ID, "timeout"); err != nil {
			t.Fatal(err)
		}
		if m, _ := st.Message(ctx, msgs[0].ID); m.State != letter.StateFailed {
			t.Errorf("failed by the webhook, then an attempt recorded: %s, want failed", m.State)
		}
	})
}

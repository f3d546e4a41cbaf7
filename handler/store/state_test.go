package store_test

import (
	"context"
	"testing"

	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// The signer's US state and the signature's state share a name in
// letter.Signature: each must reach its own column.
func TestRecordKeepsTheAddressState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		sig, msgs := signature("jane@example.org")
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		var state, sigState string
		if err := st.DB().QueryRowContext(ctx, `SELECT state, sig_state FROM signatures WHERE id = $1`, sig.ID).Scan(&state, &sigState); err != nil {
			t.Fatal(err)
		}
		if state != "IL" || sigState != "confirmed" {
			t.Errorf("state %q, sig_state %q; want IL, confirmed", state, sigState)
		}
	})
}

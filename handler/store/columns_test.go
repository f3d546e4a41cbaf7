package store_test

import (
	"context"
	"errors"
	"testing"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/storetest"
)

// The signer's US state is stored and read back as such: Signature's own
// State (unconfirmed, confirmed, held) shadows the Signer's.
func TestSignersStateIsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		st := open()
		sig, msgs := signature("jane@example.org")
		if _, err := st.Record(ctx, sig, msgs, store.Limits{}, nil); err != nil {
			t.Fatal(err)
		}
		var state, sigState string
		st.DB().QueryRow(`SELECT state, sig_state FROM signatures WHERE id = $1`, sig.ID).Scan(&state, &sigState)
		if state != "IL" || sigState != letter.SignatureConfirmed {
			t.Errorf("stored state %q, sig_state %q; want IL, confirmed", state, sigState)
		}
		again, msgs := signature("jane@example.org")
		first, err := st.Record(ctx, again, msgs, store.Limits{}, nil)
		if !errors.Is(err, letter.ErrDuplicate) || first.Signer.State != "IL" || first.State != letter.SignatureConfirmed {
			t.Errorf("read back: state %q, signature state %q, %v", first.Signer.State, first.State, err)
		}
	})
}

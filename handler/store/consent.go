package store

import (
	"context"
	"database/sql"
	"fmt"

	"campaignkit/handler/letter"
)

// adoptOptIn records on first, the address's signature, the opt-in of a
// repeat (its time, words and language) when the repeat opted in and first
// did not: the later consent is the signer's latest word. Callers pass
// only a repeat that speaks for the address: one recorded without
// confirmation (the letter needs none, as first did not), or one whose
// signer just confirmed it. An attempt still unconfirmed never reaches
// here, so whoever types an address cannot subscribe its owner.
func (s *Store) adoptOptIn(ctx context.Context, tx *sql.Tx, first, repeat *letter.Signature) error {
	if !repeat.OptIn || first.OptIn {
		return nil
	}
	// "AND NOT opt_in": of two repeats at once, the first to commit counts.
	res, err := tx.ExecContext(ctx, `UPDATE signatures SET opt_in = $1, opt_in_at = $2, opt_in_text = $3, opt_in_lang = $4
		WHERE id = $5 AND NOT opt_in`, true, nullTime{&repeat.OptInAt}, repeat.OptInText, repeat.OptInLang, first.ID)
	if err != nil {
		return fmt.Errorf("store: record opt-in: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		first.OptIn, first.OptInAt, first.OptInText, first.OptInLang = true, repeat.OptInAt, repeat.OptInText, repeat.OptInLang
	}
	return nil
}

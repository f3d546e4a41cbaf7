package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// Each statement a signature or a confirmation runs finds its rows
// through an index on SQLite: a scan, or the index on a message's state,
// would cost as much as the signatures or messages already there.
func TestSignAndConfirmStatementsUseTheirIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := New(ctx, db, false, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{insertSignature, messageRows.insert(1), messageRows.insert(32), selectMails, mailRows.insert(1), countRecent, selectByToken, updateMessageStates,
		`SELECT ` + signatureColumns.names() + ` FROM signatures WHERE letter_id = $1 AND email_key = $2`} {
		n := strings.Count(q, "$")
		args := make([]any, n)
		for i := range args {
			args[i] = "x"
		}
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if strings.Contains(all, "SCAN signatures") || strings.Contains(all, "SCAN messages") || strings.Contains(all, "messages_state") {
			t.Errorf("%s\n  plan: %s", q, all)
		}
	}
}

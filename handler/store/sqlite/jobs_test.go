package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

type plainArgs struct {
	N int `json:"n"`
}

func (plainArgs) Kind() string { return "plain" }

type uniqueArgs struct {
	ID string `json:"id" river:"unique"`
}

func (uniqueArgs) Kind() string { return "unique" }

func (uniqueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: "q", UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// insertBoth inserts params through River's own SQLite driver and through
// ours, each in a database of its own, and returns each one's river_job
// rows as text.
func insertBoth(t *testing.T, params []river.InsertManyParams) (theirs, ours [][]string) {
	t.Helper()
	ctx := context.Background()
	run := func(name string, wrap func(*sql.DB) riverdriver.Driver[*sql.Tx]) [][]string {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), name+".db")+"?_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		d := wrap(db)
		m, err := rivermigrate.New(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			t.Fatal(err)
		}
		client, err := river.NewClient(d, &river.Config{MaxAttempts: 7})
		if err != nil {
			t.Fatal(err)
		}
		// Twice: the second time, the unique jobs are skipped.
		for range 2 {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.InsertManyFastTx(ctx, tx, params); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := db.QueryContext(ctx, `SELECT json(args), kind, max_attempts, json(metadata), priority, queue,
			state, json(tags), CASE WHEN unique_key IS NULL THEN 'NULL' ELSE hex(unique_key) END, CASE WHEN unique_states IS NULL THEN 'NULL' ELSE unique_states END,
			CASE WHEN scheduled_at > datetime('now', '+1 minute') THEN scheduled_at ELSE 'now' END,
			created_at IS NOT NULL, attempt, errors IS NULL, finalized_at IS NULL
			FROM river_job ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out [][]string
		for rows.Next() {
			row := make([]any, 15)
			for i := range row {
				row[i] = new(any)
			}
			if err := rows.Scan(row...); err != nil {
				t.Fatal(err)
			}
			text := make([]string, len(row))
			for i, v := range row {
				text[i] = fmt.Sprint(*v.(*any))
			}
			out = append(out, text)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	theirs = run("theirs", func(db *sql.DB) riverdriver.Driver[*sql.Tx] { return riversqlite.New(db) })
	ours = run("ours", func(db *sql.DB) riverdriver.Driver[*sql.Tx] { return &driver{Driver: riversqlite.New(db), db: db} })
	return theirs, ours
}

// Our insert of many jobs writes exactly the rows River's SQLite driver
// writes: arguments, options, unique keys and states, and skips the same
// unique jobs.
func TestJobInsertWritesRiversRows(t *testing.T) {
	later := time.Now().Add(time.Hour)
	params := []river.InsertManyParams{
		{Args: plainArgs{N: 1}},
		{Args: plainArgs{N: 2}, InsertOpts: &river.InsertOpts{Priority: 3, Queue: "other", Tags: []string{"tag-a", "tag-b"},
			Metadata: []byte(`{"k":"v"}`), MaxAttempts: 9}},
		{Args: uniqueArgs{ID: "x"}},
		{Args: uniqueArgs{ID: "y"}, InsertOpts: &river.InsertOpts{ScheduledAt: later}},
	}
	theirs, ours := insertBoth(t, params)
	if len(theirs) != 6 { // 4, then the two plain ones again
		t.Fatalf("River's driver wrote %d rows, want 6: %v", len(theirs), theirs)
	}
	if !reflect.DeepEqual(theirs, ours) {
		for i := range max(len(theirs), len(ours)) {
			var a, b []string
			if i < len(theirs) {
				a = theirs[i]
			}
			if i < len(ours) {
				b = ours[i]
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("row %d:\n River's %q\n ours    %q", i, a, b)
			}
		}
	}
}

// Jobs go in statements of 1, 2, 4 … rows: seven in three (4 + 2 + 1),
// with a unique job twice among them, both in one statement (the second
// skipped there) and across statements, write the rows River's driver
// writes.
func TestJobInsertInSeveralStatementsWritesRiversRows(t *testing.T) {
	params := []river.InsertManyParams{
		{Args: uniqueArgs{ID: "x"}},
		{Args: plainArgs{N: 1}},
		{Args: uniqueArgs{ID: "x"}},
		{Args: plainArgs{N: 2}, InsertOpts: &river.InsertOpts{Tags: []string{"tag-c"}}},
		{Args: uniqueArgs{ID: "y"}},
		{Args: plainArgs{N: 3}},
		{Args: uniqueArgs{ID: "y"}},
	}
	theirs, ours := insertBoth(t, params)
	if len(theirs) != 8 { // 5, then the three plain ones again
		t.Fatalf("River's driver wrote %d rows, want 8: %v", len(theirs), theirs)
	}
	if !reflect.DeepEqual(theirs, ours) {
		t.Errorf("rows differ:\n River's %q\n ours    %q", theirs, ours)
	}
}

// The statement for n jobs has n rows of jobColumns plain parameters.
func TestInsertJobsHasEveryParameter(t *testing.T) {
	for _, n := range []int{1, 2, 32} {
		if got := strings.Count(insertJobs(n), "?"); got != n*jobColumns {
			t.Errorf("insertJobs(%d) has %d parameters, want %d", n, got, n*jobColumns)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"campaignkit/handler/letter"
	"campaignkit/handler/store"
	"campaignkit/handler/store/sqlite"
)

// seedSigned records a signature made age ago whose letters went out.
func seedSigned(t *testing.T, st *store.Store, email string, age time.Duration) {
	t.Helper()
	ctx := context.Background()
	sig := &letter.Signature{ID: letter.NewID(), Signer: letter.Signer{Letter: "family-separation", FirstName: "Jane",
		LastName: "Doe", Email: email, Address: "12 Elm St", City: "Springfield", State: "IL", Zip: "62701"}}
	m := letter.Message{ID: sig.ID + ".0@mg.example", TargetIndex: 0, TargetName: "T", TargetEmail: "t@gov.example",
		To: "t@gov.example", From: "Jane Doe <letters@mg.example>", ReplyTo: email, Subject: "S", Text: "Jane Doe, 12 Elm St"}
	if _, err := st.Record(ctx, sig, []letter.Message{m}, store.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSent(ctx, m.ID, "mg-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`UPDATE signatures SET created_at = $1 WHERE id = $2`, time.Now().UTC().Add(-age), sig.ID); err != nil {
		t.Fatal(err)
	}
}

func TestPurgeCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	seedSigned(t, st, "old@example.org", 40*24*time.Hour)
	seedSigned(t, st, "recent@example.org", 24*time.Hour)
	st.Close()
	vars := map[string]string{"CAMPAIGN_DATA_DIR": dir, "CAMPAIGN_RETENTION": "30d", "CAMPAIGN_CONFIRM_TTL": "6h"}
	campaign := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := run(ctx, args, func(k string) string { return vars[k] }, &out, &errs)
		if err != nil {
			return out.String() + errs.String(), err
		}
		return out.String(), nil
	}
	personal := func() string {
		t.Helper()
		st, err := sqlite.Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var emails string
		st.DB().QueryRow(`SELECT COALESCE(GROUP_CONCAT(email, ','), '') FROM signatures WHERE email <> ''`).Scan(&emails)
		return emails
	}

	// Without --older-than: CAMPAIGN_RETENTION.
	out, err := campaign("purge")
	if err != nil || !strings.Contains(out, "purged 1 signatures made before") {
		t.Fatalf("campaign purge: %v\n%s", err, out)
	}
	if got := personal(); got != "recent@example.org" {
		t.Errorf("after purging past 30 days, personal data of %q is left", got)
	}
	// Shorter than the confirmation links' life: refused, nothing purged.
	if out, err := campaign("purge", "--older-than", "1h"); err == nil || !strings.Contains(err.Error(), "CAMPAIGN_CONFIRM_TTL") {
		t.Errorf("campaign purge --older-than 1h (links live 6h): %v\n%s", err, out)
	}
	if got := personal(); got != "recent@example.org" {
		t.Errorf("a refused purge deleted personal data: %q left", got)
	}
	out, err = campaign("purge", "--older-than", "12h")
	if err != nil || !strings.Contains(out, "purged 1 signatures") {
		t.Fatalf("campaign purge --older-than 12h: %v\n%s", err, out)
	}
	if got := personal(); got != "" {
		t.Errorf("after purging past 12 hours, personal data of %q is left", got)
	}
	out, err = campaign("status")
	for _, want := range []string{"signatures 2\n", "signatures confirmed    2\n", "signatures purged       2 ", "messages sent           2\n"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("campaign status lacks %q (%v):\n%s", want, err, out)
		}
	}
	for _, bad := range []string{"soon", "0d", "-1h"} {
		if out, err := campaign("purge", "-older-than", bad); err == nil || !strings.Contains(err.Error(), "--older-than") {
			t.Errorf("--older-than %s: %v\n%s", bad, err, out)
		}
	}
}

package dedup_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/dedup"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/unit"
)

// TestSimilarOnStoredCorpus stores 3,000 real messages (two units), then asks for the near
// duplicates of a perturbed copy: found, within the reader's scope, fingerprints stored on the
// first call and reused on the second, recomputed when a text changes. Timings are logged.
func TestSimilarOnStoredCorpus(t *testing.T) {
	msgs := corpus(t, 3000)
	ctx := context.Background()
	db := testenv.DB(t)
	for _, u := range []unit.Unit{{Code: "Z101", Name: "东湖街道", Kind: unit.KindDirect}, {Code: "Z102", Name: "西湖街道", Kind: unit.KindDirect}} {
		if _, err := unit.Upsert(ctx, db, u); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	rows := make([][]any, 0, len(msgs)+1)
	for i, m := range msgs {
		code := "Z101"
		if i%2 == 1 {
			code = "Z102"
		}
		rows = append(rows, []any{code, m.Title, m.Body, now.Add(-time.Duration(i) * time.Minute)})
	}
	title, body := perturb(randFor(7), msgs[10]) // msgs[10] is a Z101 report
	rows = append(rows, []any{"Z102", title, body, now})
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		for _, r := range rows {
			if _, err := tx.Exec(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, reported_at)
				SELECT id, $2, '', $3, $4 FROM units WHERE code = $1`, r...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var copyID, origID int64
	if err := db.QueryRow(ctx, `SELECT max(id), (SELECT id FROM submissions WHERE title = $1 ORDER BY id LIMIT 1) FROM submissions`, msgs[10].Title).Scan(&copyID, &origID); err != nil {
		t.Fatal(err)
	}
	svc := dedup.New(db)
	office := access.Subject{UserID: 1, Username: "editor1", Roles: []string{access.RoleEditor}, Clearance: label.Secret}
	z102 := access.Subject{UserID: 2, Username: "rep_b", UnitCode: "Z102", Roles: []string{access.RoleReporter}, Clearance: label.Secret}

	start := time.Now()
	ms, err := svc.Similar(ctx, office, copyID, dedup.Options{WindowDays: 30, Candidates: 5000})
	first := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].ID != origID {
		t.Fatalf("the original is not the best hint: %+v", ms)
	}
	var stored int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM submission_fingerprints`).Scan(&stored); err != nil || stored < 3000 {
		t.Fatalf("%d fingerprints stored (%v)", stored, err)
	}
	start = time.Now()
	if _, err := svc.Similar(ctx, office, copyID, dedup.Options{WindowDays: 30, Candidates: 5000}); err != nil {
		t.Fatal(err)
	}
	second := time.Since(start)
	t.Logf("similar over %d stored reports: first call %v (computes and stores fingerprints), then %v", len(rows), first, second)

	// The Z102 reporter is not told about Z101's original.
	ms, err = svc.Similar(ctx, z102, copyID, dedup.Options{WindowDays: 30, Candidates: 5000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.UnitCode != "Z102" {
			t.Fatalf("hint from another unit for a unit reporter: %+v", m)
		}
	}
	// An edited original is re-fingerprinted: rewritten entirely, it is no longer a hint.
	if _, err := db.Exec(ctx, `UPDATE submissions SET body_text = '完全不同的内容：社区举办书画展，展出居民作品八十余幅。', title = '书画展' WHERE id = $1`, origID); err != nil {
		t.Fatal(err)
	}
	ms, err = svc.Similar(ctx, office, copyID, dedup.Options{WindowDays: 30, Candidates: 5000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == origID {
			t.Fatalf("stale fingerprint used for the edited report: %+v", m)
		}
	}
}

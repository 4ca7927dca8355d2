package ha_test

import (
	"context"
	"io"
	"testing"

	"infowork/access"
	"infowork/ha"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/submission"
	"infowork/unit"
)

// TestRetryReconcilesUnknownCommit shows the unknown-outcome path deterministically: the
// first attempt commits but its acknowledgement is "lost" (fn reports a connection error
// after Create returned), so Retry runs fn again; the idempotency key makes the second
// attempt find the first row (Duplicate=true, same id) instead of inserting another.
func TestRetryReconcilesUnknownCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	t.Parallel()
	db := testenv.DB(t)
	ctx := t.Context()
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "B01", Name: "发展改革委", Kind: unit.KindBureau}); err != nil {
		t.Fatal(err)
	}
	var uid int64
	if err := db.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, unit_id, roles, clearance)
		VALUES ('li', '李', 'x', (SELECT id FROM units WHERE code = 'B01'), '{reporter}', $1) RETURNING id`, int(label.Internal)).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	sub := access.Subject{UserID: uid, Username: "li", UnitCode: "B01", Roles: []string{access.RoleReporter}, Clearance: label.Internal}
	svc := submission.New(db)
	var results []submission.Created
	err := ha.Retry(ctx, func(ctx context.Context) error {
		c, err := svc.Create(ctx, sub, submission.Input{Title: "t", Body: "b", IdempotencyKey: "k1"}, "")
		if err != nil {
			return err
		}
		results = append(results, c)
		if len(results) == 1 {
			return io.ErrUnexpectedEOF // committed, but the client never heard
		}
		return nil
	}, ha.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Duplicate || !results[1].Duplicate || results[0].ID != results[1].ID {
		t.Fatalf("attempts %+v: want the retry to find the first row (Duplicate=true, same id)", results)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM submissions WHERE idempotency_key = 'k1'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows for the key (%v), want 1", n, err)
	}
}

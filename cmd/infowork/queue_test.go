package main

import (
	"context"
	"testing"

	"infowork/access"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/submission"
	"infowork/unit"
)

// TestQueueAllSkipsRecordsAlreadyWaiting: refilling an empty index right after a demo load must
// not queue every record a second time.
func TestQueueAllSkipsRecordsAlreadyWaiting(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "Z1", Name: "直报点", Kind: unit.KindDirect}); err != nil {
		t.Fatal(err)
	}
	svc := submission.New(db)
	sub := access.Subject{Username: "r", UnitCode: "Z1", Roles: []string{access.RoleReporter}, Clearance: label.Internal}
	for _, title := range []string{"甲", "乙", "丙"} {
		if _, err := svc.Create(ctx, sub, submission.Input{Title: title, Body: "正文"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := queueAll(ctx, db); err != nil || n != 0 {
		t.Fatalf("queueAll with every record waiting: %d, %v; want 0", n, err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM outbox`); err != nil { // as the indexer does on ack
		t.Fatal(err)
	}
	if n, err := queueAll(ctx, db); err != nil || n != 3 {
		t.Fatalf("queueAll after indexing: %d, %v; want 3", n, err)
	}
}

package store_test

import (
	"context"
	"testing"

	"infowork/internal/testenv"
	"infowork/store"
)

func TestMigrateIsIdempotentAndComplete(t *testing.T) {
	db := testenv.DB(t)
	ctx := context.Background()
	n, err := store.Migrate(ctx, db, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second migrate applied %d migrations, want 0", n)
	}
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d", applied, len(ms))
	}
	for _, table := range []string{"units", "categories", "users", "sessions", "submissions", "outbox", "audit_log"} {
		var ok bool
		if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after migrate (err %v)", table, err)
		}
	}
}

func TestMigrationNamesAreOrdered(t *testing.T) {
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Fatalf("migration %d has number %d: numbers must be consecutive from 1", i, m.Version)
		}
	}
}

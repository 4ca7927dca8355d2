package ha_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"infowork/audit"
	"infowork/internal/testpg"
	"infowork/pgserver"
	"infowork/store"
)

// TestReadOnlyWorkGoesToTheStandby checks the DSN form documented for
// INFOWORK_DATABASE_READONLY_URL: with target_session_attrs=prefer-standby over both hosts the
// pool lands on the standby, reads what the primary committed (the audit export's query), and
// any write is refused there (SQLSTATE 25006), so read-only work can never change data.
func TestReadOnlyWorkGoesToTheStandby(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary and a standby")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pair := testpg.StartPair(ctx, t, false, logger)
	pPort := pair.PrimaryPort
	rw, err := store.Open(ctx, pair.DSN("read-write"), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := store.Migrate(ctx, rw, logger); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := audit.Write(ctx, rw, audit.Event{Username: "u", Action: "test.readonly", Object: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgserver.WaitCaughtUp(ctx, pPort, "s1"); err != nil {
		t.Fatal(err)
	}
	ro, err := store.Open(ctx, pair.DSN("prefer-standby"), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var inRecovery bool
	if err := ro.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("read-only pool on a primary (in recovery %v, %v); want the standby", inRecovery, err)
	}
	var n int
	if err := ro.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'test.readonly'`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("standby reads %d audit rows (%v), want 5", n, err)
	}
	if res, err := audit.Verify(ctx, ro); err != nil || res.BrokenAt != 0 || res.Rows != 5 {
		t.Fatalf("verify on the standby: %+v, %v", res, err)
	}
	_, err = ro.Exec(ctx, `INSERT INTO units (code, name, kind) VALUES ('X1', '只读测试', 'direct')`)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25006" {
		t.Fatalf("write on the read-only pool: %v; want SQLSTATE 25006 (read-only transaction)", err)
	}
}

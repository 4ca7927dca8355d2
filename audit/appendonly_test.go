package audit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"infowork/audit"
	"infowork/internal/testenv"
)

// TestAuditLogIsAppendOnly: the database itself refuses UPDATE, DELETE and TRUNCATE of the audit
// log, even to the table owner (migration 0003), and refuses them when they match no row too;
// appending and verifying still work.
func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := t.Context()
	ids := writeEvents(t, db, 4)
	for _, stmt := range []string{
		`UPDATE audit_log SET detail = 'nothing happened' WHERE id = ` + itoa(ids[1]),
		`UPDATE audit_log SET detail = 'x' WHERE id = -1`,
		`DELETE FROM audit_log WHERE id = ` + itoa(ids[0]),
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`TRUNCATE audit_log CASCADE`,
	} {
		_, err := db.Exec(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", stmt, err)
		}
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("rows after the refused statements = %d (%v), want 4", n, err)
	}
	if err := audit.Write(ctx, db, audit.Event{Username: "u", Action: "login"}); err != nil {
		t.Fatalf("append after refusals: %v", err)
	}
	res, err := audit.Verify(ctx, db)
	if err != nil || res.Rows != 5 || res.BrokenAt != 0 {
		t.Fatalf("Verify = %+v, %v; want 5 rows, intact", res, err)
	}

	// PUBLIC holds no UPDATE, DELETE or TRUNCATE on the table.
	var granted int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM information_schema.role_table_grants
		WHERE table_name = 'audit_log' AND grantee = 'PUBLIC' AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')`).Scan(&granted); err != nil || granted != 0 {
		t.Errorf("PUBLIC privileges on audit_log: %d (%v), want none", granted, err)
	}
}

// TestRuntimeRoleCannotRewriteAudit applies the grants of deploy/postgres/roles.sql to a role of
// this test and checks, connected as that role, that it can append and read but neither change
// nor delete, and cannot switch the trigger off.
func TestRuntimeRoleCannotRewriteAudit(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := t.Context()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "infowork_app_test_" + hex.EncodeToString(b)
	if _, err := db.Exec(ctx, `CREATE ROLE `+role+` LOGIN PASSWORD 'app-test-password' NOSUPERUSER NOBYPASSRLS`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec(t.Context(), `REASSIGN OWNED BY `+role+` TO CURRENT_USER`)
		_, _ = db.Exec(t.Context(), `DROP OWNED BY `+role)
		_, _ = db.Exec(t.Context(), `DROP ROLE IF EXISTS `+role)
	})
	for _, g := range []string{
		`GRANT USAGE ON SCHEMA public TO ` + role,
		`GRANT SELECT, INSERT ON audit_log TO ` + role,
		`GRANT USAGE, SELECT ON SEQUENCE audit_log_id_seq TO ` + role,
	} {
		if _, err := db.Exec(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := pgx.ParseConfig(db.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = role, "app-test-password"
	app, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	defer app.Close(context.Background())
	if err := audit.Write(ctx, app, audit.Event{Username: "app", Action: "login"}); err != nil {
		t.Fatalf("the runtime role cannot append: %v", err)
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET detail = 'x'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
		`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`,
	} {
		if _, err := app.Exec(ctx, stmt); err == nil {
			t.Errorf("%s as the runtime role succeeded", stmt)
		}
	}
	res, err := audit.Verify(ctx, app)
	if err != nil || res.Rows != 1 || res.BrokenAt != 0 {
		t.Fatalf("Verify as the runtime role = %+v, %v", res, err)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

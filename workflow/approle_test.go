package workflow_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/workflow"
)

// TestTransitionsUnderAppRole runs the engine on a pool whose connections use a non-owner role,
// as a deployment with deploy/postgres/roles.sql does, so row-level security applies: the history
// row, the actions and the notifications must pass the policies with the subject's settings.
func TestTransitionsUnderAppRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var dbName string
	if err := f.db.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	role := pgx.Identifier{"app_" + dbName}.Sanitize()
	for _, stmt := range []string{`CREATE ROLE ` + role + ` NOLOGIN`, `GRANT USAGE ON SCHEMA public TO ` + role,
		`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ` + role,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + role} {
		if _, err := f.db.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		f.db.Exec(ctx, `DROP OWNED BY `+role) //nolint:errcheck
		f.db.Exec(ctx, `DROP ROLE `+role)     //nolint:errcheck
	})
	cfg := f.db.Config().Copy()
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `SET ROLE `+role)
		return err
	}
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	f.wf = workflow.New(app)

	id := f.draft(t, "rep_a")
	f.step(t, "rep_a", id, "submit", workflow.Input{})
	f.step(t, "appr_a", id, "approve", workflow.Input{})
	f.step(t, "editor1", id, "return", workflow.Input{Reason: "late", Comment: "已过时效"})
	hist, err := f.wf.History(ctx, f.users["rep_a"], id)
	if err != nil || len(hist) != 3 || hist[2].ReasonName != "时效已过" {
		t.Fatalf("history under the app role: %+v, %v", hist, err)
	}
	// A query on workflow_events that forgets the predicate still shows nothing of another unit.
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT set_config('infowork.clearance', '3', true), set_config('infowork.units', '{}', true)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM workflow_events`).Scan(&n); err != nil || n != 0 {
		t.Errorf("events visible to a subject of no unit: %d, %v", n, err)
	}
	if k := f.count(t, `SELECT count(*) FROM notifications WHERE submission_id = $1`, id); k == 0 {
		t.Error("no notifications written under the app role")
	}
}

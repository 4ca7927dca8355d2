package workflow_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/workflow"
)

// appRolePool is a pool on f's database whose sessions run as a non-owner role, as the
// application does in production (deploy/postgres/roles.sql): row-level security applies.
func appRolePool(t *testing.T, f *fixture) *pgxpool.Pool {
	t.Helper()
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
	cfg := f.db.Config().Copy()
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `SET ROLE `+role)
		return err
	}
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		app.Close()
		f.db.Exec(ctx, `DROP OWNED BY `+role) //nolint:errcheck
		f.db.Exec(ctx, `DROP ROLE `+role)     //nolint:errcheck
	})
	return app
}

// TestTransitionTxJoinsCallersTransaction: transitions taken with TransitionTx are part of the
// caller's transaction (as the application's role, row-level security in force). A refusal in
// the middle leaves the transaction usable and writes nothing; rolling the transaction back
// undoes every transition of it (state, history, audit, outbox, notifications); committing
// writes them all at once. A bypass the caller had set is off afterwards.
func TestTransitionTxJoinsCallersTransaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	app := appRolePool(t, f)
	wf := workflow.New(app)
	ed := f.users["editor1"]
	var ids []int64
	for _, who := range []string{"rep_a", "rep_b"} {
		id := f.draft(t, who)
		f.step(t, who, id, "submit", workflow.Input{})
		f.step(t, map[string]string{"rep_a": "appr_a", "rep_b": "appr_b"}[who], id, "approve", workflow.Input{})
		ids = append(ids, id)
	}
	x, y := ids[0], ids[1]
	vx, _ := f.version(t, x)
	vy, _ := f.version(t, y)
	counts := func() map[string]int {
		return map[string]int{
			"events": f.count(t, `SELECT count(*) FROM workflow_events WHERE submission_id = ANY($1::bigint[])`, ids),
			"audit":  f.count(t, `SELECT count(*) FROM audit_log WHERE object IN ('submission:' || $1::bigint, 'submission:' || $2::bigint)`, x, y),
			"outbox": f.count(t, `SELECT count(*) FROM outbox WHERE entity = 'submission' AND entity_id = ANY($1::bigint[])`, ids),
			"notes":  f.count(t, `SELECT count(*) FROM notifications WHERE submission_id = ANY($1::bigint[])`, ids),
		}
	}
	before := counts()

	both := func(tx pgx.Tx) {
		t.Helper()
		if err := access.SetBypass(ctx, tx); err != nil {
			t.Fatal(err)
		}
		if _, err := wf.TransitionTx(ctx, tx, ed, x, "review", workflow.Input{ExpectedVersion: vx}); err != nil {
			t.Fatal(err)
		}
		var bypass string
		if err := tx.QueryRow(ctx, `SELECT current_setting('infowork.bypass')`).Scan(&bypass); err != nil || bypass != "off" {
			t.Errorf("bypass after TransitionTx: %q (%v), want off", bypass, err)
		}
		// A stale version is refused; the transaction stays usable.
		_, err := wf.TransitionTx(ctx, tx, ed, y, "review", workflow.Input{ExpectedVersion: vy - 1})
		if !errors.Is(err, workflow.ErrConflict) {
			t.Fatalf("stale TransitionTx: %v", err)
		}
		av, err := wf.AvailableTx(ctx, tx, ed, y)
		if err != nil || av.Version != vy || av.State != "submitted" {
			t.Fatalf("available after a refusal: %+v %v", av, err)
		}
		if _, err := wf.TransitionTx(ctx, tx, ed, y, "review", workflow.Input{ExpectedVersion: vy}); err != nil {
			t.Fatal(err)
		}
	}

	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	both(tx)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if v, st := f.version(t, id); st != "submitted" || (id == x && v != vx) || (id == y && v != vy) {
			t.Errorf("report %d after rollback: %s version %d", id, st, v)
		}
	}
	if after := counts(); !maps.Equal(before, after) {
		t.Errorf("rows before %v, after rollback %v", before, after)
	}

	tx, err = app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	both(tx)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	after := counts()
	for _, k := range []string{"events", "audit", "outbox"} {
		if after[k]-before[k] != 2 {
			t.Errorf("%s: %d new rows after commit, want 2", k, after[k]-before[k])
		}
	}
	if n := f.count(t, `SELECT count(DISTINCT at) FROM workflow_events WHERE submission_id = ANY($1::bigint[]) AND transition = 'review'`, ids); n != 1 {
		t.Errorf("the two reviews have %d transaction times, want 1 (one commit)", n)
	}
	for _, id := range ids {
		if _, st := f.version(t, id); st != "in_review" {
			t.Errorf("report %d after commit: %s", id, st)
		}
	}
}

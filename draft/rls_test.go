package draft_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/draft"
	"infowork/solicitation"
	"infowork/submission"
	"infowork/workflow"
)

// appPool returns a pool on the fixture's database whose sessions run as a non-owner role, as
// the application does in production (deploy/postgres/roles.sql): row-level security applies.
func appPool(t *testing.T, f *fixture) *pgxpool.Pool {
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
			t.Fatal(err)
		}
	}
	cfg := f.db.Config().Copy()
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `SET ROLE `+role)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		f.db.Exec(context.Background(), `DROP OWNED BY `+role) //nolint:errcheck
		f.db.Exec(context.Background(), `DROP ROLE `+role)     //nolint:errcheck
	})
	return pool
}

// TestUnderApplicationRole runs merging, adoption with credit and solicitation answers with
// row-level security in force: nothing the services read for the office's record may be hidden
// by it (credits, answers), and drafts stay invisible to units.
func TestUnderApplicationRole(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	app := appPool(t, f)
	wf := workflow.New(app)
	svc, subs, sol := draft.New(app, wf), submission.New(app), solicitation.New(app)
	ed := f.users["editor1"]

	deadline := time.Now().Add(time.Hour)
	so, err := sol.Create(ctx, ed, solicitation.Input{Topic: "防汛", Deadline: &deadline, UnitCodes: []string{"Z101", "Z102"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range []struct{ who, title, body string }{{"rep_a", "东湖街道应对强降雨", bodyA}, {"rep_b", "西湖街道启动防汛响应", bodyB}} {
		c, err := subs.Create(ctx, f.users[r.who], submission.Input{Title: r.title, Body: r.body, WriterName: "张三",
			WriterPhone: "13812345678", SolicitationID: so.ID}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	d, err := svc.Create(ctx, ed, draft.CreateInput{SubmissionIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sources) != 2 || d.Sources[0].SpanRunes == 0 {
		t.Fatalf("draft under RLS: %+v", d.Sources)
	}
	if _, err := svc.Get(ctx, f.users["rep_a"], d.ID); err == nil {
		t.Fatal("a reporter read a draft under RLS")
	}
	adopted, credits, err := svc.Adopt(ctx, ed, d.ID, d.Version, "")
	if err != nil || adopted.State != draft.StateAdopted || len(credits) != 2 {
		t.Fatalf("adopt under RLS: %v %+v", err, credits)
	}
	var n int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM draft_credits WHERE draft_id = $1`, d.ID).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d credit rows (%v)", n, err)
	}
	got, err := sol.Get(ctx, ed, so.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range got.Targets {
		if tg.Status != solicitation.StatusOnTime {
			t.Errorf("answer of %s under RLS: %s", tg.UnitCode, tg.Status)
		}
	}
}

package access_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
)

// These tests check that the services reading and writing records enforce label categories and
// keep working under the application's database role (row-level security).

type enforcementFixture struct {
	db                          *pgxpool.Pool
	personnel, plain, inspector access.Subject
	leader                      access.Subject
}

func newEnforcementFixture(t *testing.T) enforcementFixture {
	t.Helper()
	db := testenv.DB(t)
	ctx := t.Context()
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "U1", Name: "单位一", Kind: unit.KindBureau}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"人事", "纪检"} {
		if _, err := label.AddCategory(ctx, db, c, ""); err != nil {
			t.Fatal(err)
		}
	}
	user := func(name string, roles []string, unitCode string, l label.Label) access.Subject {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO users (username, password_hash, unit_id, roles) VALUES ($1, 'x', (SELECT id FROM units WHERE code = $2), $3) RETURNING id`,
			name, unitCode, roles).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if err := label.SetUserLabel(ctx, db, id, l); err != nil {
			t.Fatal(err)
		}
		return access.Subject{UserID: id, Username: name, UnitCode: unitCode, Roles: roles, Clearance: l.Level, Categories: l.Categories}
	}
	return enforcementFixture{
		db:        db,
		personnel: user("hr", []string{access.RoleReporter}, "U1", label.Label{Level: label.Secret, Categories: []string{"人事"}}),
		plain:     user("li", []string{access.RoleReporter}, "U1", label.Label{Level: label.Confidential}),
		inspector: user("jj", []string{access.RoleReporter}, "U1", label.Label{Level: label.Secret, Categories: []string{"纪检"}}),
		leader:    user("boss", []string{access.RoleLeader}, "", label.Label{Level: label.Confidential, Categories: []string{"人事", "纪检"}}),
	}
}

func TestSubmissionLabelCategories(t *testing.T) {
	t.Parallel()
	f := newEnforcementFixture(t)
	ctx := t.Context()
	svc := submission.New(f.db)

	in := submission.Input{Title: "干部调整", Body: "人事安排", Classification: "internal", LabelCategories: []string{"人事", "人事"}}
	c, err := svc.Create(ctx, f.personnel, in, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cats []string
		want string
	}{
		{[]string{"外事"}, "未登记"},
		{[]string{"纪检"}, "未获授权"},
		{[]string{"人事", "纪检"}, "未获授权"},
		{[]string{"a,b"}, "名称无效"},
		{[]string{""}, "名称无效"},
	} {
		in := submission.Input{Title: "t", Body: "b", LabelCategories: tt.cats}
		_, err := svc.Create(ctx, f.personnel, in, "")
		var ve *submission.ValidationError
		if !errors.As(err, &ve) || !containsStr(ve.Fields["label_categories"], tt.want) {
			t.Errorf("Create with label categories %q: %v, want a label_categories error saying %q", tt.cats, err, tt.want)
		}
	}

	got, err := svc.Get(ctx, f.personnel, c.ID, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.LabelCategories, []string{"人事"}) || got.Label().String() != "internal:人事" {
		t.Errorf("stored label = %v", got.Label())
	}
	if _, err := svc.Get(ctx, f.leader, c.ID, ""); err != nil {
		t.Errorf("leader holding 人事 cannot read: %v", err)
	}
	for _, sub := range []access.Subject{f.plain, f.inspector} {
		if _, err := svc.Get(ctx, sub, c.ID, ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s (categories %q) reads a 人事 record: %v", sub.Username, sub.Categories, err)
		}
		page, err := svc.List(ctx, sub, submission.ListOptions{})
		if err != nil || page.Total != 0 || len(page.Items) != 0 {
			t.Errorf("%s lists %d of %d items, %v; want none", sub.Username, len(page.Items), page.Total, err)
		}
	}
	if page, err := svc.List(ctx, f.personnel, submission.ListOptions{}); err != nil || page.Total != 1 {
		t.Errorf("author lists %+v, %v", page, err)
	}
	// Reading a record with categories is audited with its full label, even below 秘密.
	var detail string
	if err := f.db.QueryRow(ctx, `SELECT detail FROM audit_log WHERE action = 'submission.read' AND object = $1 AND username = 'hr'`,
		"submission:"+strconv.FormatInt(c.ID, 10)).Scan(&detail); err != nil || detail != "label=internal:人事" {
		t.Errorf("audit of the read: %q, %v", detail, err)
	}

	docs, err := submission.Documents(ctx, f.db, []int64{c.ID})
	if err != nil || !slices.Equal(docs[c.ID].LabelCategories, []string{"人事"}) {
		t.Errorf("Documents label categories = %q, %v", docs[c.ID].LabelCategories, err)
	}
}

// TestServicesUnderAppRole runs the submission service on a pool whose connections use the
// application's role, as a deployment with deploy/postgres/roles.sql does: reads, lists and
// creation still work (they set the subject's settings), the indexer's loader still sees every
// row (it bypasses), and a forgotten predicate would not widen anything.
func TestServicesUnderAppRole(t *testing.T) {
	t.Parallel()
	f := newEnforcementFixture(t)
	ctx := t.Context()
	role := appRole(t, f.db)
	cfg := f.db.Config().Copy()
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `SET ROLE `+pgx.Identifier{role}.Sanitize())
		return err
	}
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	var who string
	if err := app.QueryRow(ctx, `SELECT current_user`).Scan(&who); err != nil || who != role {
		t.Fatalf("app pool runs as %q, %v", who, err)
	}

	svc := submission.New(app)
	hr, err := svc.Create(ctx, f.personnel, submission.Input{Title: "人事材料", Body: "b", Classification: "secret", LabelCategories: []string{"人事"}}, "")
	if err != nil {
		t.Fatalf("Create under the app role: %v", err)
	}
	pub, err := svc.Create(ctx, f.plain, submission.Input{Title: "公开材料", Body: "b"}, "")
	if err != nil {
		t.Fatalf("Create under the app role: %v", err)
	}
	if _, err := svc.Get(ctx, f.personnel, hr.ID, ""); err != nil {
		t.Errorf("Get under the app role: %v", err)
	}
	if _, err := svc.Get(ctx, f.plain, hr.ID, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of a 人事 record by a user without it: %v", err)
	}
	page, err := svc.List(ctx, f.leader, submission.ListOptions{})
	if err != nil || page.Total != 2 {
		t.Errorf("leader's list under the app role: total %d, %v; want 2", page.Total, err)
	}
	// The indexer loads documents inside its own transaction, as the app role: the bypass must
	// make every row visible, or the indexer would delete them from the index.
	tx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := submission.Documents(ctx, tx, []int64{hr.ID, pub.ID})
	if err != nil || len(docs) != 2 {
		t.Errorf("Documents in a transaction under the app role = %d documents, %v; want 2", len(docs), err)
	}
	// ... and the bypass ended with the loader's savepoint.
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM submissions`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after Documents the transaction sees %d rows, %v; want 0 (bypass leaked)", n, err)
	}
	tx.Rollback(ctx) //nolint:errcheck
	if docs, err := submission.Documents(ctx, app, []int64{hr.ID, pub.ID}); err != nil || len(docs) != 2 {
		t.Errorf("Documents on the app pool = %d documents, %v; want 2", len(docs), err)
	}
	// A query that forgets the predicate, with the caller's settings, still hides the record.
	tx, err = access.Begin(ctx, app, f.plain)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var titles []string
	rows, err := tx.Query(ctx, `SELECT title FROM submissions ORDER BY id`)
	if err == nil {
		titles, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || !slices.Equal(titles, []string{"公开材料"}) {
		t.Errorf("forgotten predicate under the app role returns %q, %v; want only 公开材料", titles, err)
	}
}

func containsStr(s, sub string) bool { return sub != "" && strings.Contains(s, sub) }

package access_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/unit"
)

// appRole creates a role like the deployment's infowork_app (docs/security.md): it owns nothing
// and is granted ordinary table privileges, so row-level security applies to it. Roles belong to
// the cluster, so the name carries the test database's name; it is dropped at cleanup.
func appRole(t *testing.T, db *pgxpool.Pool) string {
	t.Helper()
	ctx := context.Background()
	var dbName string
	if err := db.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	role := "app_" + dbName
	id := pgx.Identifier{role}.Sanitize()
	for _, stmt := range []string{
		`CREATE ROLE ` + id + ` NOLOGIN`,
		`GRANT USAGE ON SCHEMA public TO ` + id,
		`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ` + id,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ` + id,
	} {
		if _, err := db.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		db.Exec(ctx, `DROP OWNED BY `+id) //nolint:errcheck
		db.Exec(ctx, `DROP ROLE `+id)     //nolint:errcheck
	})
	return role
}

type fataler interface{ Fatalf(string, ...any) }

// rlsIDs runs a query that forgets the access predicate — SELECT id FROM submissions — as role,
// in a savepoint of tx, after SetLocal(sub) (nil: no settings), and returns the ids it sees. The
// savepoint is rolled back, which ends the role and the settings.
func rlsIDs(t fataler, ctx context.Context, tx pgx.Tx, role string, sub *access.Subject) map[string]bool {
	sp, err := tx.Begin(ctx)
	if err != nil {
		t.Fatalf("savepoint: %v", err)
	}
	defer sp.Rollback(ctx) //nolint:errcheck
	if _, err := sp.Exec(ctx, `SET LOCAL ROLE `+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatalf("set role: %v", err)
	}
	if sub != nil {
		if err := access.SetLocal(ctx, sp, *sub); err != nil {
			t.Fatalf("SetLocal: %v", err)
		}
	}
	rows, err := sp.Query(ctx, `SELECT id FROM submissions`)
	if err != nil {
		t.Fatalf("query under %s: %v", role, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("query under %s: %v", role, err)
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[strconv.FormatInt(id, 10)] = true
	}
	return out
}

// rlsFixture is two units and records at every interesting label.
type rlsFixture struct {
	ids map[string]int64 // by title
}

func newRLSFixture(t *testing.T, db *pgxpool.Pool) rlsFixture {
	t.Helper()
	ctx := t.Context()
	for _, c := range []string{"U1", "U2"} {
		if _, err := unit.Upsert(ctx, db, unit.Unit{Code: c, Name: "单位" + c, Kind: unit.KindBureau}); err != nil {
			t.Fatal(err)
		}
	}
	f := rlsFixture{ids: map[string]int64{}}
	for _, r := range []struct {
		title, unit string
		level       label.Level
		cats        []string
		readers     []string
	}{
		{"public", "U1", label.Public, nil, nil},
		{"secret", "U1", label.Secret, nil, nil},
		{"confidential", "U1", label.Confidential, nil, nil},
		{"secret 人事", "U1", label.Secret, []string{"人事"}, nil},
		{"internal 人事 纪检", "U1", label.Internal, []string{"人事", "纪检"}, nil},
		{"public unregistered", "U1", label.Public, []string{"未登记"}, nil},
		{"public other unit", "U2", label.Public, nil, nil},
		{"public readers", "U1", label.Public, nil, []string{"user:someone"}},
	} {
		if r.cats == nil {
			r.cats = []string{}
		}
		if r.readers == nil {
			r.readers = []string{}
		}
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, classification, label_categories, readers)
			SELECT id, $2, '<p>b</p>', 'b', $3, $4, $5 FROM units WHERE code = $1 RETURNING id`,
			r.unit, r.title, int(r.level), r.cats, r.readers).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.ids[r.title] = id
	}
	return f
}

func (f rlsFixture) set(titles ...string) map[string]bool {
	out := map[string]bool{}
	for _, t := range titles {
		out[strconv.FormatInt(f.ids[t], 10)] = true
	}
	return out
}

// TestRowLevelSecurityForgottenPredicate is the point of the second line: a query without the
// access predicate, run under the application's role with the caller's settings, still returns
// only what the caller may read.
func TestRowLevelSecurityForgottenPredicate(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := t.Context()
	role := appRole(t, db)
	f := newRLSFixture(t, db)
	all := f.set(slices.Collect(maps.Keys(f.ids))...)

	reporter := access.Subject{Username: "li", UnitCode: "U1", Roles: []string{access.RoleReporter}, Clearance: label.Internal}
	personnel := access.Subject{Username: "hr", UnitCode: "U1", Roles: []string{access.RoleReporter}, Clearance: label.Secret, Categories: []string{"人事"}}
	leader := access.Subject{Username: "boss", Roles: []string{access.RoleLeader}, Clearance: label.Confidential, Categories: []string{"人事", "纪检", "经济"}}
	admin := access.Subject{Username: "sa", UnitCode: "U1", Roles: []string{access.RoleSysAdmin}, Clearance: label.Confidential}
	tests := []struct {
		name string
		sub  *access.Subject
		want map[string]bool
	}{
		{"no settings sees nothing", nil, map[string]bool{}},
		{"reporter", &reporter, f.set("public")},
		{"reporter with category", &personnel, f.set("public", "secret", "secret 人事")},
		{"leader", &leader, f.set("public", "secret", "confidential", "secret 人事", "internal 人事 纪检", "public other unit")},
		{"administrator", &admin, map[string]bool{}},
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	for _, tt := range tests {
		got := rlsIDs(t, ctx, tx, role, tt.sub)
		if !maps.Equal(got, tt.want) {
			t.Errorf("%s: row-level security lets through %v, want %v", tt.name, sortedKeys(got), sortedKeys(tt.want))
		}
		if tt.sub != nil {
			for id := range all {
				n, _ := strconv.ParseInt(id, 10, 64)
				if access.CanRead(*tt.sub, recordOf(t, ctx, tx, n)) != tt.want[id] {
					t.Errorf("%s: CanRead of %s disagrees with the expected set", tt.name, id)
				}
			}
		}
	}
	// The owner is not subject to row-level security (it is not FORCEd): migrations, the
	// indexer and the loaders keep working when they run as the owner.
	if got := ownerIDs(t, ctx, tx); !maps.Equal(got, all) {
		t.Errorf("owner sees %v, want every row", sortedKeys(got))
	}
	// The bypass is for trusted internal work.
	sp, _ := tx.Begin(ctx)
	if _, err := sp.Exec(ctx, `SET LOCAL ROLE `+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if err := access.SetBypass(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(t, ctx, sp, `SELECT id FROM submissions`); !maps.Equal(got, all) {
		t.Errorf("bypass sees %v, want every row", sortedKeys(got))
	}
	// SetLocal turns a bypass off again.
	if err := access.SetLocal(ctx, sp, reporter); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(t, ctx, sp, `SELECT id FROM submissions`); !maps.Equal(got, f.set("public")) {
		t.Errorf("SetLocal after bypass sees %v", sortedKeys(got))
	}
	sp.Rollback(ctx) //nolint:errcheck
}

// TestRowLevelSecurityWrites: under the application's role a caller cannot change, create or
// delete a record it may not read.
func TestRowLevelSecurityWrites(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := t.Context()
	role := appRole(t, db)
	f := newRLSFixture(t, db)
	reporter := access.Subject{Username: "li", UnitCode: "U1", Roles: []string{access.RoleReporter}, Clearance: label.Internal}

	as := func(t *testing.T, fn func(tx pgx.Tx) error) error {
		t.Helper()
		tx, err := access.Begin(ctx, db, reporter)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		return fn(tx)
	}
	exec := func(sql string, args ...any) func(tx pgx.Tx) (int64, error) {
		return func(tx pgx.Tx) (int64, error) {
			tag, err := tx.Exec(ctx, sql, args...)
			return tag.RowsAffected(), err
		}
	}
	for _, tt := range []struct {
		name string
		run  func(tx pgx.Tx) (int64, error)
		rows int64
		fail bool
	}{
		{"update readable", exec(`UPDATE submissions SET title = 'x' WHERE id = $1`, f.ids["public"]), 1, false},
		{"update above clearance", exec(`UPDATE submissions SET title = 'x' WHERE id = $1`, f.ids["secret"]), 0, false},
		{"update with category", exec(`UPDATE submissions SET title = 'x' WHERE id = $1`, f.ids["internal 人事 纪检"]), 0, false},
		{"raise label out of reach", exec(`UPDATE submissions SET classification = 3 WHERE id = $1`, f.ids["public"]), 0, true},
		{"add category out of reach", exec(`UPDATE submissions SET label_categories = '{人事}' WHERE id = $1`, f.ids["public"]), 0, true},
		{"insert above clearance", exec(`INSERT INTO submissions (unit_id, title, body_html, body_text, classification)
			SELECT id, 't', 'b', 'b', 2 FROM units WHERE code = 'U1'`), 0, true},
		{"insert into another unit", exec(`INSERT INTO submissions (unit_id, title, body_html, body_text)
			SELECT id, 't', 'b', 'b' FROM units WHERE code = 'U2'`), 0, true},
		{"insert readable", exec(`INSERT INTO submissions (unit_id, title, body_html, body_text, classification)
			SELECT id, 't', 'b', 'b', 1 FROM units WHERE code = 'U1'`), 1, false},
		{"delete", exec(`DELETE FROM submissions WHERE id = $1`, f.ids["public"]), 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var rows int64
			err := as(t, func(tx pgx.Tx) error {
				var err error
				rows, err = tt.run(tx)
				return err
			})
			if (err != nil) != tt.fail || rows != tt.rows {
				t.Errorf("rows %d, err %v; want rows %d, failure %v", rows, err, tt.rows, tt.fail)
			}
		})
	}
}

// TestRowLevelSecuritySettingsEndWithTransaction: a pooled connection does not carry one
// caller's settings into the next transaction.
func TestRowLevelSecuritySettingsEndWithTransaction(t *testing.T) {
	t.Parallel()
	db := testenv.DB(t)
	ctx := t.Context()
	role := appRole(t, db)
	newRLSFixture(t, db)
	conn, err := db.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET ROLE `+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), `RESET ALL`) //nolint:errcheck // role and settings
	leader := access.Subject{Username: "boss", Roles: []string{access.RoleLeader}, Clearance: label.Confidential, Categories: []string{"人事", "纪检"}}
	tx, err := access.Begin(ctx, conn, leader)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(idsOf(t, ctx, tx, `SELECT id FROM submissions`)); n != 6 {
		t.Errorf("leader sees %d rows, want 6", n)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(t, ctx, conn, `SELECT id FROM submissions`); len(got) != 0 {
		t.Errorf("the next statement on the connection sees %v with no settings", sortedKeys(got))
	}
	tx, err = conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if err := access.SetBypass(ctx, tx); err != nil {
		t.Fatal(err)
	}
	tx.Rollback(ctx) //nolint:errcheck
	if got := idsOf(t, ctx, conn, `SELECT id FROM submissions`); len(got) != 0 {
		t.Errorf("a bypass outlived its transaction: %v", sortedKeys(got))
	}
	// Garbage in a setting fails the query instead of widening it.
	if _, err := conn.Exec(ctx, `SET infowork.clearance = 'lots'`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT id FROM submissions`); err == nil {
		t.Error("a malformed clearance setting did not fail the query")
	}
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func idsOf(t *testing.T, ctx context.Context, q querier, sql string) map[string]bool {
	t.Helper()
	rows, err := q.Query(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[strconv.FormatInt(id, 10)] = true
	}
	return out
}

func ownerIDs(t *testing.T, ctx context.Context, tx pgx.Tx) map[string]bool {
	return idsOf(t, ctx, tx, `SELECT id FROM submissions`)
}

func recordOf(t *testing.T, ctx context.Context, q querier, id int64) access.Record {
	t.Helper()
	var r access.Record
	var cl int16
	rows, err := q.Query(ctx, `SELECT u.code, s.classification, s.label_categories, s.readers FROM submissions s JOIN units u ON u.id = s.unit_id WHERE s.id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("record %d missing", id)
	}
	if err := rows.Scan(&r.UnitCode, &cl, &r.Categories, &r.Readers); err != nil {
		t.Fatal(err)
	}
	r.Classification = label.Level(cl)
	return r
}

package stats_test

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/access"
	"infowork/analyzers"
	"infowork/auth"
	"infowork/demo"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/stats"
	"infowork/submission"
)

var (
	anOnce sync.Once
	an     *analyzers.Analyzer
	anErr  error
)

func analyzer(t *testing.T) *analyzers.Analyzer {
	t.Helper()
	anOnce.Do(func() {
		dir, err := os.MkdirTemp("", "infowork-stats-jieba-")
		if err != nil {
			anErr = err
			return
		}
		an, anErr = analyzers.New(analyzers.Options{CacheDir: dir})
	})
	if anErr != nil {
		t.Fatal(anErr)
	}
	return an
}

type demoStack struct {
	db  *pgxpool.Pool
	eng search.Engine
	svc *stats.Service
}

// loadDemo seeds the demo data (the first n messages of the corpus, or the shipped sample) with
// some workflow history, and indexes it into a real embedded engine.
func loadDemo(t *testing.T, n int) *demoStack {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	log := testenv.Logger(t)
	ds, err := demo.Load("", n)
	if err != nil {
		t.Fatal(err)
	}
	authSvc, err := auth.New(db, auth.Options{Logger: log, SecretKey: []byte("infowork-test-secret-key-32-byte"),
		HashParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(ctx, db, authSvc, submission.New(db), ds, io.Discard); err != nil {
		t.Fatal(err)
	}
	// Workflow history: every 5th record adopted, every 7th merged, every 3rd returned once,
	// every 11th still a draft; some classified.
	if _, err := db.Exec(ctx, `
		UPDATE submissions SET classification = 2, version = version + 1 WHERE id % 13 = 0;
		INSERT INTO workflow_events (submission_id, workflow_name, workflow_version, from_state, to_state, transition, at)
			SELECT id, 'default', 1, 'submitted', 'returned', 'return', reported_at + interval '1 hour' FROM submissions WHERE id % 3 = 0;
		INSERT INTO workflow_events (submission_id, workflow_name, workflow_version, from_state, to_state, transition, at)
			SELECT id, 'default', 1, 'in_review', CASE WHEN id % 5 = 0 THEN 'adopted' ELSE 'merged' END, 'adopt',
				reported_at + interval '26 hours' FROM submissions WHERE (id % 5 = 0 OR id % 7 = 0) AND id % 11 <> 0;
		UPDATE submissions SET state = CASE WHEN id % 11 = 0 THEN 'draft' WHEN id % 5 = 0 THEN 'adopted' WHEN id % 7 = 0 THEN 'merged'
			WHEN id % 3 = 0 THEN 'returned' ELSE state END, version = version + 1;
		INSERT INTO outbox (entity, entity_id) SELECT 'submission', id FROM submissions;`); err != nil {
		t.Fatal(err)
	}
	eng, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: analyzer(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	ix, err := indexer.New(indexer.Options{DB: db, Engine: eng, Logger: log, Registerer: prometheus.NewRegistry(),
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	return &demoStack{db: db, eng: eng, svc: stats.New(db, eng)}
}

func subjects(t *testing.T, db *pgxpool.Pool) map[string]access.Subject {
	var unitCode string
	if err := db.QueryRow(context.Background(), `SELECT u.code FROM units u JOIN submissions s ON s.unit_id = u.id
		GROUP BY u.code ORDER BY count(*) DESC, u.code LIMIT 1`).Scan(&unitCode); err != nil {
		t.Fatal(err)
	}
	return map[string]access.Subject{
		"researcher_secret": {Username: "rs", Roles: []string{access.RoleResearcher}, Clearance: label.Secret},
		"researcher_public": {Username: "rp", Roles: []string{access.RoleResearcher}, Clearance: label.Public},
		"reporter":          {Username: "rep", UnitCode: unitCode, Roles: []string{access.RoleReporter}, Clearance: label.Secret},
		"sysadmin":          {Username: "sa", Roles: []string{access.RoleSysAdmin}, Clearance: label.Confidential},
	}
}

// The database and the engine count the same records per unit, district, category and month,
// for every kind of reader; the workflow numbers are consistent with the history written.
func TestDatabaseAndEngineAgreeOnDemoData(t *testing.T) {
	ctx := context.Background()
	st := loadDemo(t, 800)
	subs := subjects(t, st.db)
	// Expected totals per reader from the Go form of the read policy (access.CanRead), an
	// independent path from the SQL predicate and the engine scope.
	type want struct{ all, submitted, adopted, merged, returned int }
	wants := map[string]*want{}
	rows, err := st.db.Query(ctx, `SELECT u.code, s.classification, s.label_categories, s.readers, s.state, s.id % 3 = 0
		FROM submissions s JOIN units u ON u.id = s.unit_id`)
	if err != nil {
		t.Fatal(err)
	}
	var all, classified int
	for rows.Next() {
		var code, state string
		var level int16
		var cats, readers []string
		var ret bool
		if err := rows.Scan(&code, &level, &cats, &readers, &state, &ret); err != nil {
			t.Fatal(err)
		}
		all++
		if level > 0 {
			classified++
		}
		for name, sub := range subs {
			if wants[name] == nil {
				wants[name] = &want{}
			}
			if !access.CanRead(sub, access.Record{UnitCode: code, Classification: label.Level(level), Categories: cats, Readers: readers}) {
				continue
			}
			w := wants[name]
			w.all++
			if state != "draft" && state != "unit_approval" {
				w.submitted++
			}
			if state == "adopted" {
				w.adopted++
			}
			if state == "merged" {
				w.merged++
			}
			if ret {
				w.returned++
			}
		}
	}
	rows.Close()
	// The 31-message sample (a clone without ../shared/corpus) is enough: what the test needs is
	// classified, adopted, merged and returned records and readers who see different sets (all
	// checked here, so a sample that stops giving them fails loudly); the corpus gives 800.
	if all < 30 || classified == 0 || wants["researcher_secret"].adopted == 0 || wants["researcher_secret"].merged == 0 ||
		wants["researcher_secret"].returned == 0 {
		t.Fatalf("demo data too small for the test: %d records (%d classified), %+v", all, classified, *wants["researcher_secret"])
	}
	if wants["researcher_public"].all == 0 || wants["researcher_public"].all >= wants["researcher_secret"].all ||
		wants["reporter"].all == 0 || wants["reporter"].all >= wants["researcher_secret"].all {
		t.Fatalf("readers should see different sets: public %+v, reporter %+v, secret %+v",
			*wants["researcher_public"], *wants["reporter"], *wants["researcher_secret"])
	}
	for name, sub := range subs {
		for _, dim := range stats.Dimensions {
			tbl, err := st.svc.Table(ctx, sub, dim, stats.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			counts, total, err := st.svc.EngineCounts(ctx, sub, dim, stats.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if total != tbl.Total.Records {
				t.Errorf("%s by %s: engine total %d, database %d", name, dim, total, tbl.Total.Records)
			}
			for _, l := range tbl.Lines {
				if l.Key == "" {
					continue // records without a district or category have no facet value
				}
				if counts[l.Key] != l.Records {
					t.Errorf("%s by %s %q: engine %d, database %d", name, dim, l.Key, counts[l.Key], l.Records)
				}
				delete(counts, l.Key)
			}
			if len(counts) != 0 {
				t.Errorf("%s by %s: engine values missing from the database table: %v", name, dim, counts)
			}
			w := wants[name]
			got := want{tbl.Total.Records, tbl.Total.Submitted, tbl.Total.Adopted, tbl.Total.Merged, tbl.Total.Returned}
			if got != *w {
				t.Errorf("%s by %s: totals %+v, want %+v", name, dim, got, *w)
			}
			if name == "researcher_secret" {
				// The history says adoption came 26 hours after the report.
				if h := tbl.Total.HoursToAdopt; h < 25.9 || h > 26.1 {
					t.Errorf("by %s: hours to adopt %.2f, want 26", dim, h)
				}
			}
			if name == "reporter" && dim == stats.ByUnit && (len(tbl.Lines) != 1 || tbl.Lines[0].Key != sub.UnitCode) {
				t.Errorf("a reporter's unit table must hold only its unit: %+v", tbl.Lines)
			}
			if name == "sysadmin" && (tbl.Total.Records != 0 || total != 0) {
				t.Errorf("the system administrator reads no records, got %d/%d", tbl.Total.Records, total)
			}
		}
	}
	// A filtered table (one month) agrees too, and its rate is adopted+merged over submitted.
	var month string
	if err := st.db.QueryRow(ctx, `SELECT to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') FROM submissions GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`).Scan(&month); err != nil {
		t.Fatal(err)
	}
	from, _ := time.ParseInLocation("2006-01", month, search.Location)
	f := stats.Filter{From: from, To: from.AddDate(0, 1, 0)}
	tbl, err := st.svc.Table(ctx, subs["researcher_secret"], stats.ByUnit, f)
	if err != nil {
		t.Fatal(err)
	}
	counts, total, err := st.svc.EngineCounts(ctx, subs["researcher_secret"], stats.ByUnit, f)
	if err != nil {
		t.Fatal(err)
	}
	if total != tbl.Total.Records || total == 0 {
		t.Fatalf("month %s: engine %d, database %d", month, total, tbl.Total.Records)
	}
	for _, l := range tbl.Lines {
		if counts[l.Key] != l.Records {
			t.Errorf("month %s unit %s: engine %d, database %d", month, l.Key, counts[l.Key], l.Records)
		}
		if l.Submitted > 0 && l.AdoptionRate != float64(l.Adopted+l.Merged)/float64(l.Submitted) {
			t.Errorf("rate of %s: %v", l.Key, l.AdoptionRate)
		}
	}
}

func TestTrends(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	var unitID int64
	if err := db.QueryRow(ctx, `INSERT INTO units (code, name, kind) VALUES ('T1', '测试单位', 'direct') RETURNING id`).Scan(&unitID); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, search.Location) // a Wednesday
	ins := func(title string, at time.Time, level int) {
		if _, err := db.Exec(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, reported_at, classification) VALUES ($1, $2, 'x', $2, $3, $4)`,
			unitID, title, at, level); err != nil {
			t.Fatal(err)
		}
	}
	for w := 1; w <= 4; w++ {
		for i := 0; i < 5; i++ {
			ins("小区物业管理问题反映", now.AddDate(0, 0, -7*w), 0)
		}
	}
	for i := 0; i < 4; i++ {
		ins("暴雨导致道路积水", now, 0)
		ins("小区物业管理问题反映", now, 0)
	}
	ins("秘密事项涉及燃气泄漏", now, 2)
	ins("秘密事项涉及燃气泄漏", now, 2)
	ins("秘密事项涉及燃气泄漏", now, 2)
	svc := stats.New(db, nil)
	pub := access.Subject{Username: "p", Roles: []string{access.RoleResearcher}, Clearance: label.Public}
	tr, err := svc.Trends(ctx, pub, now, stats.TrendOptions{Analyzer: analyzer(t), Weeks: 6})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Weeks) != 6 || tr.Weeks[5].Docs != 8 || tr.Weeks[4].Docs != 5 {
		t.Fatalf("weeks %+v", tr.Weeks)
	}
	rising := map[string]bool{}
	for _, r := range tr.Rising {
		rising[r.Term] = true
	}
	if !rising["积水"] || rising["物业"] || rising["物业管理"] {
		t.Fatalf("rising terms %+v: 积水 is new this week, 物业 is not", tr.Rising)
	}
	if rising["燃气"] || rising["泄漏"] {
		t.Fatalf("a public reader's trends must not show terms of secret records: %+v", tr.Rising)
	}
	top := map[string]bool{}
	for _, tm := range tr.Weeks[4].Terms {
		top[tm.Term] = true
	}
	if !top["小区"] {
		t.Fatalf("frequent terms of the previous week %+v", tr.Weeks[4].Terms)
	}
}

// Endorsements by leader level and late/missed solicitations come from scoring events; a
// reader counts only endorsements of records they may see, and solicitations of units their
// role grants.
func TestEndorsementsAndSolicitationsCounted(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO units (code, name, kind, district) VALUES ('S1', '一号单位', 'direct', '东区'), ('S2', '二号单位', 'direct', '西区')`)
	exec(`INSERT INTO submissions (unit_id, title, body_html, body_text, classification, district, reported_at)
		SELECT u.id, u.code || '-' || g, 'x', 'x', CASE WHEN g = 3 THEN 2 ELSE 0 END, u.district, timestamptz '2026-03-10 10:00+08' + g * interval '1 hour'
		FROM units u, generate_series(1, 3) g`)
	// Endorsements: S1's public record twice (province, city), S1's secret record once (central).
	exec(`INSERT INTO scoring_events (kind, source, unit_id, submission_id, occurred_at, attrs)
		SELECT 'endorsement', 'e' || s.id || l, s.unit_id, s.id, s.reported_at, jsonb_build_object('level', l)
		FROM submissions s JOIN units u ON u.id = s.unit_id, unnest(ARRAY['province', 'city']) l
		WHERE u.code = 'S1' AND s.title = 'S1-1'`)
	exec(`INSERT INTO scoring_events (kind, source, unit_id, submission_id, occurred_at, attrs)
		SELECT 'endorsement', 'e-secret', s.unit_id, s.id, s.reported_at, '{"level":"central"}' FROM submissions s WHERE s.title = 'S1-3'`)
	exec(`INSERT INTO scoring_events (kind, source, unit_id, occurred_at) SELECT 'solicitation_late', 'l' || g, id, '2026-03-15' FROM units, generate_series(1, 2) g WHERE code = 'S2'`)
	exec(`INSERT INTO scoring_events (kind, source, unit_id, occurred_at, voided_at) SELECT 'solicitation_missed', 'm', id, '2026-03-15', now() FROM units WHERE code = 'S2'`)
	svc := stats.New(db, nil)
	line := func(sub access.Subject, key string) stats.Line {
		tbl, err := svc.Table(ctx, sub, stats.ByUnit, stats.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range tbl.Lines {
			if l.Key == key {
				return l
			}
		}
		return stats.Line{}
	}
	secret := access.Subject{Username: "a", Roles: []string{access.RoleResearcher}, Clearance: label.Secret}
	public := access.Subject{Username: "b", Roles: []string{access.RoleResearcher}, Clearance: label.Public}
	rep := access.Subject{Username: "c", UnitCode: "S1", Roles: []string{access.RoleReporter}, Clearance: label.Secret}
	if l := line(secret, "S1"); l.Endorsements["province"] != 1 || l.Endorsements["city"] != 1 || l.Endorsements["central"] != 1 || l.EndorsementTotal() != 3 {
		t.Fatalf("secret reader, S1 endorsements %v", l.Endorsements)
	}
	if l := line(public, "S1"); l.Endorsements["central"] != 0 || l.EndorsementTotal() != 2 {
		t.Fatalf("public reader must not count the secret record's endorsement: %v", l.Endorsements)
	}
	if l := line(secret, "S2"); l.Late != 2 || l.Missed != 0 {
		t.Fatalf("S2 solicitations late %d missed %d (the voided one does not count)", l.Late, l.Missed)
	}
	if l := line(rep, "S2"); l.Records != 0 || l.Late != 0 {
		t.Fatalf("a reporter of S1 sees S2's numbers: %+v", l)
	}
	// By district: the endorsements follow their records.
	tbl, err := svc.Table(ctx, secret, stats.ByDistrict, stats.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range tbl.Lines {
		if l.Key == "东区" && l.EndorsementTotal() != 3 || l.Key == "西区" && l.EndorsementTotal() != 0 {
			t.Fatalf("district %s endorsements %v", l.Key, l.Endorsements)
		}
	}
}

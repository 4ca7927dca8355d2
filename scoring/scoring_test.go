package scoring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/xuri/excelize/v2"

	"infowork/internal/testenv"
	"infowork/scoring"
	"infowork/search"
)

// citedRules are the rules of docs/statistics.md (from the published 考核办法 cited in the
// reference, CN3/CN4/CN5), with a monthly quota of 4 and −1 per missing report.
func citedRules() scoring.Rules {
	r := scoring.DefaultRules()
	r.Quota = scoring.Quota{PerMonth: 4, BasePoints: 0, ShortfallPoints: -1}
	return r
}

func at(month time.Month, day int) time.Time {
	return time.Date(2026, month, day, 10, 0, 0, 0, search.Location)
}

// The cited rules reproduce hand-computed totals. Unit A:
//
//	city-level adoption in 快报           +10 (item type replaces level: 快报 10)
//	city-level adoption in 简讯           +3
//	the first item adopted by the province +20
//	a merged adoption (综合采用) at city    +5 (10 × 0.5)
//	a city leader's endorsement            +30
//	three late solicitations               −10 (every third)
//	one missed solicitation                 0
//	March quota: 2 of 4 reports            −2
//	                                total   56
//
// Unit B: central adoption +50, two missed solicitations −10, a county leader's endorsement
// +10, March quota 5 of 4 → 0: total 50.
func TestCitedRulesHandComputed(t *testing.T) {
	r := citedRules()
	const A, B = 1, 2
	ev := []scoring.Event{
		{ID: 1, Kind: scoring.KindAdoption, UnitID: A, SubmissionID: 11, OccurredAt: at(3, 1), Attrs: scoring.Attrs{Level: "city", ItemType: "快报"}},
		{ID: 2, Kind: scoring.KindAdoption, UnitID: A, SubmissionID: 12, OccurredAt: at(3, 2), Attrs: scoring.Attrs{Level: "city", ItemType: "简讯"}},
		{ID: 3, Kind: scoring.KindAdoption, UnitID: A, SubmissionID: 11, OccurredAt: at(3, 3), Attrs: scoring.Attrs{Level: "province"}},
		{ID: 4, Kind: scoring.KindAdoption, UnitID: A, SubmissionID: 13, OccurredAt: at(3, 4), Attrs: scoring.Attrs{Level: "city", Merged: true}},
		{ID: 5, Kind: scoring.KindEndorsement, UnitID: A, SubmissionID: 11, OccurredAt: at(3, 5), Attrs: scoring.Attrs{Level: "city"}},
		{ID: 6, Kind: scoring.KindSolicitationLate, UnitID: A, OccurredAt: at(3, 6)},
		{ID: 7, Kind: scoring.KindSolicitationLate, UnitID: A, OccurredAt: at(3, 7)},
		{ID: 8, Kind: scoring.KindSolicitationLate, UnitID: A, OccurredAt: at(3, 8)},
		{ID: 9, Kind: scoring.KindSolicitationMissed, UnitID: A, OccurredAt: at(3, 9)},
		{ID: 10, Kind: scoring.KindQuota, UnitID: A, OccurredAt: at(3, 31), Attrs: scoring.Attrs{Month: "2026-03", Count: 2}},
		{ID: 21, Kind: scoring.KindAdoption, UnitID: B, SubmissionID: 31, OccurredAt: at(3, 1), Attrs: scoring.Attrs{Level: "central"}},
		{ID: 22, Kind: scoring.KindSolicitationMissed, UnitID: B, OccurredAt: at(3, 2)},
		{ID: 23, Kind: scoring.KindSolicitationMissed, UnitID: B, OccurredAt: at(3, 3)},
		{ID: 24, Kind: scoring.KindEndorsement, UnitID: B, SubmissionID: 31, OccurredAt: at(3, 4), Attrs: scoring.Attrs{Level: "county"}},
		{ID: 25, Kind: scoring.KindQuota, UnitID: B, OccurredAt: at(3, 31), Attrs: scoring.Attrs{Month: "2026-03", Count: 5}},
	}
	totals := map[int64]float64{}
	for _, e := range scoring.ScoreAll(r, ev) {
		totals[e.UnitID] += e.Points
	}
	if totals[A] != 56 || totals[B] != 50 {
		t.Fatalf("totals A=%v B=%v, want 56 and 50 (hand-computed)", totals[A], totals[B])
	}

	// CN4 variant: the first endorsement of an item scores 10 whatever the level, each further
	// one 5. Three endorsements of one item and one of another: 10+5+5 + 10 = 30.
	extra := 5.0
	r4 := scoring.Rules{EndorsementLevels: map[string]float64{"central": 10, "province": 10, "city": 10, "city_office": 10, "county": 10},
		EndorsementExtra: &extra}
	var sum float64
	for _, e := range scoring.ScoreAll(r4, []scoring.Event{
		{ID: 1, Kind: scoring.KindEndorsement, UnitID: A, SubmissionID: 11, OccurredAt: at(1, 1), Attrs: scoring.Attrs{Level: "province"}},
		{ID: 2, Kind: scoring.KindEndorsement, UnitID: A, SubmissionID: 11, OccurredAt: at(1, 2), Attrs: scoring.Attrs{Level: "central"}},
		{ID: 3, Kind: scoring.KindEndorsement, UnitID: A, SubmissionID: 12, OccurredAt: at(1, 3), Attrs: scoring.Attrs{Level: "county"}},
		{ID: 4, Kind: scoring.KindEndorsement, UnitID: A, SubmissionID: 11, OccurredAt: at(1, 4), Attrs: scoring.Attrs{Level: "city"}},
	}) {
		sum += e.Points
	}
	if sum != 30 {
		t.Fatalf("CN4 endorsements = %v, want 30", sum)
	}
}

func TestRulesValidate(t *testing.T) {
	bad := []string{
		`{"adoption_levels":{"mars":10}}`,
		`{"merged_factor":2}`,
		`{"late":{"every":-1}}`,
		`{"adoption_levels":{"city":100000}}`,
		`{"unknown_field":1}`,
		`{`,
	}
	for _, b := range bad {
		var ve *scoring.ValidationError
		if _, err := scoring.ParseRules([]byte(b)); !errors.As(err, &ve) {
			t.Errorf("ParseRules(%s) = %v, want a validation error", b, err)
		}
	}
	if _, err := scoring.ParseRules([]byte(`{"adoption_levels":{"city":10},"merged_factor":0.5}`)); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	db    *pgxpool.Pool
	units map[string]int64
	subs  []int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	f := &fixture{db: db, units: map[string]int64{}}
	for _, u := range []string{"A", "B", "C"} {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO units (code, name, kind, district, active_from) VALUES ($1, $2, 'direct', '一区', '2020-01-01') RETURNING id`,
			"U"+u, "单位"+u).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.units[u] = id
	}
	for i := 0; i < 3; i++ {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, state, reported_at)
			VALUES ($1, $2, '<p>x</p>', 'x', 'submitted', $3) RETURNING id`, f.units["A"], fmt.Sprintf("信息%d", i), at(3, 1)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.subs = append(f.subs, id)
	}
	return f
}

func (f *fixture) record(t *testing.T, svc *scoring.Service, e scoring.Event) {
	t.Helper()
	ok, err := svc.RecordManual(context.Background(), e)
	if err != nil || !ok {
		t.Fatalf("record %s: %v %v", e.Source, ok, err)
	}
}

// The ledger in the database gives the same hand-computed totals; a rule change recomputes
// them without losing the earlier rows; a published league table stays frozen.
func TestLedgerRecomputeAndLeagueTable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := scoring.New(f.db)
	A, B := f.units["A"], f.units["B"]
	s1, s2, s3 := f.subs[0], f.subs[1], f.subs[2]

	// Events recorded before the year has rules are kept and scored when rules arrive.
	f.record(t, svc, scoring.Event{Kind: scoring.KindAdoption, Source: "t:1", UnitID: A, SubmissionID: s1, OccurredAt: at(3, 1), Attrs: scoring.Attrs{Level: "city", ItemType: "快报"}})
	if _, err := svc.SaveRules(ctx, 2026, citedRules(), "cited", "admin"); err != nil {
		t.Fatal(err)
	}
	for i, e := range []scoring.Event{
		{Kind: scoring.KindAdoption, UnitID: A, SubmissionID: s2, OccurredAt: at(3, 2), Attrs: scoring.Attrs{Level: "city", ItemType: "简讯"}},
		{Kind: scoring.KindAdoption, UnitID: A, SubmissionID: s1, OccurredAt: at(3, 3), Attrs: scoring.Attrs{Level: "province"}},
		{Kind: scoring.KindAdoption, UnitID: A, SubmissionID: s3, OccurredAt: at(3, 4), Attrs: scoring.Attrs{Level: "city", Merged: true}},
		{Kind: scoring.KindEndorsement, UnitID: A, SubmissionID: s1, OccurredAt: at(3, 5), Attrs: scoring.Attrs{Level: "city"}},
		{Kind: scoring.KindSolicitationLate, UnitID: A, OccurredAt: at(3, 6)},
		// Recorded out of order: the year is rescored so that the third late one is the one
		// that costs 10.
		{Kind: scoring.KindSolicitationLate, UnitID: A, OccurredAt: at(3, 8)},
		{Kind: scoring.KindSolicitationLate, UnitID: A, OccurredAt: at(3, 7)},
		{Kind: scoring.KindSolicitationMissed, UnitID: A, OccurredAt: at(3, 9)},
		{Kind: scoring.KindAdoption, UnitID: B, OccurredAt: at(3, 1), Attrs: scoring.Attrs{Level: "central"}},
		{Kind: scoring.KindSolicitationMissed, UnitID: B, OccurredAt: at(3, 2)},
		{Kind: scoring.KindSolicitationMissed, UnitID: B, OccurredAt: at(3, 3)},
		{Kind: scoring.KindEndorsement, UnitID: B, OccurredAt: at(3, 4), Attrs: scoring.Attrs{Level: "county"}},
	} {
		e.Source = fmt.Sprintf("t:%d", i+2)
		f.record(t, svc, e)
	}
	// Recording the same source again is a no-op.
	if ok, err := svc.RecordManual(ctx, scoring.Event{Kind: scoring.KindSolicitationMissed, Source: "t:2", UnitID: A, OccurredAt: at(3, 9)}); err != nil || ok {
		t.Fatalf("duplicate source: %v %v", ok, err)
	}
	// March quota: A submitted 2 (one of its three reports is still a draft), B 5, C 0.
	if _, err := f.db.Exec(ctx, `UPDATE submissions SET state = 'draft' WHERE id = $1`, s3); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, state, reported_at)
		SELECT $1, 'b' || g, 'x', 'x', 'adopted', $2 FROM generate_series(1, 5) g`, B, at(3, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CloseMonth(ctx, "2026-03", at(3, 30), "admin"); err == nil {
		t.Fatal("closing a month before it ends must fail")
	}
	if n, err := svc.CloseMonth(ctx, "2026-03", at(4, 2), "admin"); err != nil || n != 3 {
		t.Fatalf("close month: %d %v", n, err)
	}

	p, _ := scoring.ParsePeriod("2026-Q1")
	tbl, err := svc.Compute(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scoring.Row{}
	for _, r := range tbl.Rows {
		got[r.UnitCode] = r
	}
	// C: no events, quota 0 of 4 → −4; still listed (zero-adoption units are in the 通报).
	if got["UA"].Points != 56 || got["UB"].Points != 50 || got["UC"].Points != -4 {
		t.Fatalf("league table points %+v", tbl.Rows)
	}
	if got["UA"].Rank != 1 || got["UB"].Rank != 2 || got["UC"].Rank != 3 {
		t.Fatalf("ranks %+v", tbl.Rows)
	}
	if !got["UC"].Eligible || got["UA"].Eligible || got["UB"].Eligible {
		t.Fatalf("eligibility (3 late or 2 missed loses it) %+v", tbl.Rows)
	}
	if got["UA"].Adopted != 3 || got["UA"].Merged != 1 || got["UA"].Late != 3 {
		t.Fatalf("counts %+v", got["UA"])
	}
	pub, err := svc.Publish(ctx, p, "signer")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(ctx, p, "signer"); !errors.Is(err, scoring.ErrPublished) {
		t.Fatalf("second publish: %v", err)
	}
	if _, err := f.db.Exec(ctx, `UPDATE league_tables SET title = 'x'`); err == nil {
		t.Fatal("a published table must be frozen")
	}

	// Rule change: city adoptions now 12, 快报 15. A: 15+3+20+6+30−10−2 = 62.
	r2 := citedRules()
	r2.AdoptionLevels["city"] = 12
	r2.ItemTypes["快报"] = 15
	rs2, err := svc.SaveRules(ctx, 2026, r2, "2026 修订", "admin")
	if err != nil || rs2.Version != 2 {
		t.Fatalf("save v2: %+v %v", rs2, err)
	}
	tbl2, err := svc.Compute(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tbl2.Rows {
		if r.UnitCode == "UA" && r.Points != 62 {
			t.Fatalf("after the rule change A = %v, want 62", r.Points)
		}
	}
	// The published table did not move.
	frozen, err := svc.Published(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if frozen.SHA256 != pub.SHA256 || frozen.Rows[0].Points != 56 || frozen.RuleVersion != 1 {
		t.Fatalf("published table changed: %+v", frozen)
	}
	// History: the v1 rows are still there, superseded; the totals recompute from the ledger.
	hist, err := svc.Ledger(ctx, "UA", 2026, true)
	if err != nil {
		t.Fatal(err)
	}
	var cur, old float64
	var oldRows int
	for _, l := range hist {
		if l.Superseded {
			old += l.Points
			oldRows++
		} else {
			cur += l.Points
		}
	}
	if cur != 62 || oldRows == 0 {
		t.Fatalf("ledger current %v, superseded rows %d", cur, oldRows)
	}
	if _, err := f.db.Exec(ctx, `DELETE FROM scoring_ledger`); err == nil {
		t.Fatal("ledger rows must never be deleted")
	}
	if _, err := f.db.Exec(ctx, `UPDATE scoring_ledger SET points = 99 WHERE superseded_at IS NULL`); err == nil {
		t.Fatal("ledger points must never change")
	}
}

// Workflow adoptions become scoring events exactly once.
func TestSyncWorkflow(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := scoring.New(f.db)
	if _, err := svc.SaveRules(ctx, 2026, citedRules(), "", "admin"); err != nil {
		t.Fatal(err)
	}
	for i, to := range []string{"in_review", "adopted", "merged"} {
		if _, err := f.db.Exec(ctx, `INSERT INTO workflow_events (submission_id, workflow_name, workflow_version, from_state, to_state, transition, at)
			VALUES ($1, 'default', 1, 'in_review', $2, 'x', $3)`, f.subs[i], to, at(3, 1+i)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := svc.SyncWorkflow(ctx)
	if err != nil || n != 2 {
		t.Fatalf("sync: %d %v", n, err)
	}
	if n, err := svc.SyncWorkflow(ctx); err != nil || n != 0 {
		t.Fatalf("second sync: %d %v", n, err)
	}
	rows, err := svc.Ledger(ctx, "UA", 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, r := range rows {
		sum += r.Points
	}
	if len(rows) != 2 || sum != 15 { // adopted 10 + merged 10×0.5
		t.Fatalf("ledger %+v", rows)
	}
}

// Endorsements (package periodical) and late or missed solicitations (package solicitation)
// become scoring events; a missed solicitation answered late afterwards is voided and rescored.
func TestSyncEndorsementsAndSolicitations(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := scoring.New(f.db)
	if _, err := svc.SaveRules(ctx, 2026, citedRules(), "", "admin"); err != nil {
		t.Fatal(err)
	}
	A, B := f.units["A"], f.units["B"]
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := f.db.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO periodicals (code, name) VALUES ('KB', '快报')`)
	exec(`INSERT INTO periodical_issues (periodical_id, year, year_number, total_number, issue_date, classification)
		SELECT id, 2026, 1, 1, '2026-03-01', 0 FROM periodicals`)
	exec(`INSERT INTO periodical_issue_items (issue_id, item_kind, item_id, position) SELECT id, 'submission', $1, 1 FROM periodical_issues`, f.subs[0])
	exec(`INSERT INTO endorsements (issue_item_id, item_kind, item_id, leader_name, leader_level, text, endorsed_on)
		SELECT id, 'submission', $1, '张三', 'province', '请有关部门研究。', '2026-03-10' FROM periodical_issue_items`, f.subs[0])
	exec(`INSERT INTO solicitations (kind, topic, deadline) VALUES ('solicitation', '防汛', '2026-03-15 18:00+08'), ('solicitation', '春耕', '2026-03-20 18:00+08')`)
	// Targets as package solicitation creates them (pending); nobody views the solicitations
	// after their deadlines, so only the sync's refresh can find B's two missed answers. A
	// answers 防汛 the morning after its deadline: late.
	exec(`INSERT INTO solicitation_targets (solicitation_id, unit_id) SELECT id, $1 FROM solicitations`, B)
	exec(`INSERT INTO solicitation_targets (solicitation_id, unit_id) SELECT id, $1 FROM solicitations WHERE topic = '防汛'`, A)
	answer := func(unit int64, topic string, reported time.Time) {
		t.Helper()
		exec(`INSERT INTO submissions (unit_id, title, body_html, body_text, state, reported_at, solicitation_id)
			SELECT $1, '约稿回复', '<p>x</p>', 'x', 'submitted', $2, id FROM solicitations WHERE topic = $3`, unit, reported, topic)
	}
	answer(A, "防汛", time.Date(2026, 3, 16, 9, 0, 0, 0, search.Location))

	n, err := svc.SyncAll(ctx)
	if err != nil || n != 4 {
		t.Fatalf("sync: %d %v (want 1 endorsement, 3 solicitation events)", n, err)
	}
	if n, err := svc.SyncAll(ctx); err != nil || n != 0 {
		t.Fatalf("second sync: %d %v", n, err)
	}
	p, _ := scoring.ParsePeriod("2026-03")
	tbl, err := svc.Compute(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	pts := map[string]float64{}
	for _, r := range tbl.Rows {
		pts[r.UnitCode] = r.Points
	}
	// A: province endorsement 40, one late (no deduction before the third). B: two missed −10.
	if pts["UA"] != 40 || pts["UB"] != -10 {
		t.Fatalf("points %v", pts)
	}
	ledger, err := svc.Ledger(ctx, "UB", 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	var missed, deducted int
	for _, r := range ledger {
		if r.Kind == scoring.KindSolicitationMissed {
			missed++
			if r.Points < 0 {
				deducted++
			}
		}
	}
	if missed != 2 || deducted != 1 {
		t.Fatalf("B's ledger after the unseen deadlines: %+v", ledger)
	}
	var statuses []string
	if err := f.db.QueryRow(ctx, `SELECT array_agg(status ORDER BY unit_id, solicitation_id) FROM solicitation_targets`).Scan(&statuses); err != nil ||
		strings.Join(statuses, ",") != "late,missing,missing" {
		t.Fatalf("targets after the sync: %v %v", statuses, err)
	}
	// B answers 春耕 late after all: its missed event is voided, a late one recorded; B is back
	// to one missed (0) and one late (0).
	answer(B, "春耕", time.Date(2026, 3, 22, 9, 0, 0, 0, search.Location))
	if _, err := svc.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	tbl, err = svc.Compute(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tbl.Rows {
		if r.UnitCode == "UB" && (r.Points != 0 || r.Missed != 1 || r.Late != 1) {
			t.Fatalf("after the late answer B = %+v", r)
		}
	}
	var voided int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM scoring_events WHERE voided_at IS NOT NULL`).Scan(&voided); err != nil || voided != 1 {
		t.Fatalf("voided events %d %v", voided, err)
	}
	_ = A
}

// A league table prints to PDF with Chromium and to an XLSX that reopens with every unit.
func TestLeagueTableOutputs(t *testing.T) {
	p, _ := scoring.ParsePeriod("2026-Q1")
	rows := []scoring.Row{{UnitCode: "UA", UnitName: "东湖街道", Points: 56, Eligible: false}, {UnitCode: "UB", UnitName: "西湖街道", Points: 50, Eligible: true}}
	scoring.Rank(rows)
	tbl := scoring.Table{Period: p, Title: p.Name() + "信息工作考核通报", RuleVersion: 1, Rows: rows}
	if p.Name() != "2026年第1季度" {
		t.Fatalf("period name %q", p.Name())
	}
	x, err := tbl.XLSX()
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(x))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.GetRows("通报")
	if len(got) != 5 || got[2][2] != "东湖街道" || got[2][9] != "56" || got[2][10] != "否" || !strings.Contains(got[4][0], "未发布") {
		t.Fatalf("xlsx %v", got)
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil && os.Getenv("INFOWORK_CHROMIUM") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI installs chromium; it is missing")
		}
		t.Skip("no chromium: the PDF is not checked")
	}
	pdf, err := tbl.PDF(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 5000 {
		t.Fatalf("not a PDF (%d bytes)", len(pdf))
	}
}

// The demo history is plausible and idempotent, and its adoptions are scored with the cited
// rules of their year.
func TestSeedDemo(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.db.Exec(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, state, source, reported_at)
		SELECT $1, 'd' || g, 'x', 'x', 'submitted', 'demo', timestamptz '2019-05-01 08:00+08' + g * interval '1 day' FROM generate_series(1, 120) g`, f.units["B"]); err != nil {
		t.Fatal(err)
	}
	svc := scoring.New(f.db)
	n, err := svc.SeedDemo(ctx)
	if err != nil || n == 0 {
		t.Fatalf("seed demo: %d %v", n, err)
	}
	if again, err := svc.SeedDemo(ctx); err != nil || again != 0 {
		t.Fatalf("second run changed %d (%v)", again, err)
	}
	var adopted, merged, returned, hours float64
	if err := f.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'adopted'), count(*) FILTER (WHERE state = 'merged'), count(*) FILTER (WHERE state = 'returned'),
		(SELECT avg(extract(epoch FROM w.at - s2.reported_at) / 3600) FROM workflow_events w JOIN submissions s2 ON s2.id = w.submission_id WHERE w.to_state = 'adopted')
		FROM submissions WHERE source = 'demo'`).Scan(&adopted, &merged, &returned, &hours); err != nil {
		t.Fatal(err)
	}
	if adopted < 20 || merged < 5 || returned < 10 || hours != 30 {
		t.Fatalf("demo history: adopted %v merged %v returned %v, hours to adopt %v", adopted, merged, returned, hours)
	}
	if _, err := svc.ActiveRules(ctx, 2019); err != nil {
		t.Fatalf("rules of 2019: %v", err)
	}
	p, _ := scoring.ParsePeriod("2019")
	tbl, err := svc.Compute(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tbl.Rows {
		if r.UnitCode == "UB" && r.Points != adopted*10+merged*5 {
			t.Fatalf("UB scored %v, want %v", r.Points, adopted*10+merged*5)
		}
	}
}

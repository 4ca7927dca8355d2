package export_test

import (
	"context"
	"encoding/csv"
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"infowork/access"
	"infowork/analyzers"
	"infowork/category"
	"infowork/export"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/savedsearch"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/submission"
)

// "导出全部结果" exports exactly the rows the search lists for the same URL: every filter
// (state, archived, endorsed, category, classification, date) is honoured on both export paths
// (the database for a browse by filters, the engine for keywords and periodical flags), so the
// row count equals the search total and the ids equal those the database holds for the filters.
func TestExportHonoursEveryFilter(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	seed(t, db, 240, 0)
	for _, c := range []category.Category{{Code: "C1", Name: "城乡建设", Level: 1}, {Code: "C11", Name: "物业管理", ParentCode: "C1", Level: 2}, {Code: "C2", Name: "社会治理", Level: 1}} {
		if _, err := category.Upsert(ctx, db, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `UPDATE submissions s SET
		category_id = (SELECT id FROM categories WHERE code = CASE WHEN s.id % 2 = 0 THEN 'C11' ELSE 'C2' END),
		state = CASE id % 3 WHEN 0 THEN 'in_review' WHEN 1 THEN 'submitted' ELSE 'adopted' END,
		classification = CASE WHEN id % 4 = 0 THEN 1 ELSE 0 END, version = version + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO outbox (entity, entity_id) SELECT 'submission', id FROM submissions`); err != nil {
		t.Fatal(err)
	}
	an := analyzerFor(t)
	eng, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: an, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ix, err := indexer.New(indexer.Options{DB: db, Engine: eng, Registerer: prometheus.NewRegistry(), Logger: testenv.Logger(t),
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	r := researcher
	user(t, db, &r)
	svc, err := export.New(export.Options{DB: db, Engine: eng, Dir: t.TempDir(), Window: 1000, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	// What the database holds for state in_review, category 城乡建设 (C11's top), public, reported
	// 2026-01-15 … 2026-02-20 (Asia/Shanghai days, both inclusive).
	const filtered = `state = 'in_review' AND category_id = (SELECT id FROM categories WHERE code = 'C11') AND classification = 0
		AND reported_at >= timestamptz '2026-01-15 00:00:00+08' AND reported_at < timestamptz '2026-02-21 00:00:00+08'`
	dbIDs := func(cond string) []string {
		rows, err := db.Query(ctx, `SELECT id::text FROM submissions WHERE `+cond+` ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	want := dbIDs(filtered)
	if len(want) < 3 || len(want) > 40 {
		t.Fatalf("fixture: %d records match the filters, want a handful", len(want))
	}
	const filters = "state=in_review&category=城乡建设&classification=public&from=2026-01-15&to=2026-02-20"
	for _, tt := range []struct {
		params string
		want   []string
	}{
		{filters, want},                       // no keywords: read from the database
		{"q=物业&" + filters, want},             // keywords: read from the engine
		{filters + "&archived=archived", nil}, // nothing is in an archived issue
		{filters + "&endorsed=open", nil},     // nothing is endorsed
		{"state=in_review,adopted", dbIDs(`state IN ('in_review', 'adopted')`)},
	} {
		// The search the user saw for the same URL.
		p, err := savedsearch.ParseParams(tt.params)
		if err != nil {
			t.Fatal(err)
		}
		q := p.Query()
		q.Scope, q.Size, q.Page = access.Scope(r), search.MaxPageSize, 1
		res, err := eng.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != len(tt.want) {
			t.Fatalf("%s: search total %d, the database holds %d", tt.params, res.Total, len(tt.want))
		}
		j, err := svc.Start(ctx, export.Request{Subject: r, Kind: export.KindSearch, Format: export.FormatCSV, Params: tt.params})
		if err != nil {
			t.Fatal(err)
		}
		done, _ := wait(t, svc, r.UserID, j.ID)
		if done.State != export.StateDone || done.Total != int64(res.Total) || done.Progress != int64(res.Total) {
			t.Fatalf("%s: export %+v, search total %d", tt.params, done, res.Total)
		}
		_, rc, err := svc.Open(ctx, r, "", j.ID)
		if err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(rc)
		cr.FieldsPerRecord = -1
		rows, err := cr.ReadAll()
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, row := range rows[2:] {
			if _, err := strconv.ParseInt(row[0], 10, 64); err == nil {
				got = append(got, row[0])
			}
		}
		slices.Sort(got)
		wantSorted := slices.Clone(tt.want)
		slices.Sort(wantSorted)
		if !slices.Equal(got, wantSorted) {
			t.Errorf("%s: exported %d rows %v, want %d %v", tt.params, len(got), got, len(wantSorted), wantSorted)
		}
	}
}

func analyzerFor(t *testing.T) *analyzers.Analyzer {
	t.Helper()
	an, err := analyzers.New(analyzers.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { an.Close() })
	return an
}

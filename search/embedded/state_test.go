package embedded

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"infowork/search"
)

// TestStateFacetBothPaths: the state facet (index layout v7) counts the same from the segment
// columns and through Bleve's facets (the fallback), within the scope and the state filter.
func TestStateFacetBothPaths(t *testing.T) {
	e, err := Open(Options{Dir: t.TempDir(), Analyzer: testAnalyzer(t), BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	states := []string{"draft", "submitted", "submitted", "adopted", "returned", "adopted", "", "filed", "submitted", "withdrawn"}
	var ops []search.Op
	for i, st := range states {
		d := search.Document{ID: fmt.Sprint(i + 1), Version: 1, Title: "状态测试", Body: "办理状态", Unit: "u1", State: st,
			Classification: i % 3, Date: time.Date(2024, 1, i+1, 9, 0, 0, 0, search.Location)}
		ops = append(ops, search.Op{Kind: search.OpUpsert, ID: d.ID, Version: 1, Doc: &d})
	}
	if _, err := e.Apply(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	// MaxLevel 1 hides documents 3, 6 and 9 (level 2): submitted, adopted, submitted.
	scope := search.Scope{MaxLevel: 1, AllUnits: true}
	for _, tt := range []struct {
		filter []string
		want   string
	}{
		{nil, "[{adopted 1} {draft 1} {filed 1} {returned 1} {submitted 1} {withdrawn 1}]"},
		{[]string{"submitted", "withdrawn"}, "[{submitted 1} {withdrawn 1}]"},
	} {
		q := search.Query{Text: "状态测试", Scope: scope, States: tt.filter, Facets: []string{search.FacetState}, FacetSize: 100}
		for _, off := range []bool{false, true} {
			e.columnsOff = off
			before := e.columnCount.Load()
			res, err := e.Search(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(res.Facets[search.FacetState]); got != tt.want {
				t.Errorf("filter %v, columns off %v: state facet %s, want %s", tt.filter, off, got, tt.want)
			}
			if used := e.columnCount.Load() > before; used == off {
				t.Errorf("filter %v, columns off %v: columns used = %v", tt.filter, off, used)
			}
		}
	}
	e.columnsOff = false
}

// TestIndexDirAfterLayoutV7: an installation whose CURRENT names a rebuilt index of the previous
// layout (submissions.v6-<timestamp>) opens the v7 directory instead (created empty, refilled
// from the database), never the old index that lacks the state field.
func TestIndexDirAfterLayoutV7(t *testing.T) {
	dir := t.TempDir()
	old := "submissions.v6-20260101t000000"
	if err := os.MkdirAll(filepath.Join(dir, old), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, old, "index_meta.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CurrentFile), []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := IndexDir(dir); got != IndexName || IndexName != "submissions.v7" {
		t.Fatalf("IndexDir with CURRENT=%s: %q (IndexName %q), want submissions.v7", old, got, IndexName)
	}
	if err := SetCurrent(dir, old); err == nil {
		t.Fatalf("SetCurrent accepted the previous layout's directory %s", old)
	}
}

// A segment too large to build its columns inline (here: every segment) is built in the
// background; searches meanwhile take Bleve's facets and give the same results, and use the
// columns once they are built.
func TestLargeSegmentColumnsBuildInBackground(t *testing.T) {
	e, err := Open(Options{Dir: t.TempDir(), Analyzer: testAnalyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.columns.inlineMax = 0
	e.closeOnce.Do(func() { close(e.stopWarm); <-e.warmDone }) // no warm loop: the search itself starts the build
	ctx := t.Context()
	var ops []search.Op
	for i := range 40 {
		d := &search.Document{ID: fmt.Sprintf("d%02d", i), Version: 1, Title: "停车难 第" + strconv.Itoa(i) + "号", Body: "小区停车",
			Unit: fmt.Sprintf("u%d", i%3), Category: "城建", Date: time.Date(2025, time.Month(1+i%12), 3, 9, 0, 0, 0, search.Location)}
		ops = append(ops, search.Op{Kind: search.OpUpsert, ID: d.ID, Version: 1, Doc: d})
	}
	if _, err := e.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	q := search.Query{Text: "停车", Scope: search.Scope{AllUnits: true, MaxLevel: 3}, Facets: search.AllFacets, DateHistogram: search.IntervalMonth, Size: 50}
	first, err := e.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if e.columnCount.Load() != 0 {
		t.Fatal("the first search waited for the columns instead of taking Bleve's facets")
	}
	deadline := time.Now().Add(20 * time.Second)
	for !e.columns.warm(e.idx) {
		if time.Now().After(deadline) {
			t.Fatal("background column build did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := e.columnCount.Load()
	second, err := e.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if e.columnCount.Load() != before+1 {
		t.Fatal("search after the background build did not use the columns")
	}
	first.Took, second.Took = 0, 0
	if fmt.Sprint(first) != fmt.Sprint(second) || second.Total != 40 {
		t.Fatalf("before the build\n%v\nafter\n%v", first, second)
	}
}

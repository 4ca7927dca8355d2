package embedded

import (
	"fmt"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"infowork/analyzers"
	"infowork/demo"
	"infowork/search"
)

// The snippets built from term vectors must be exactly analyzers.Highlight's, on real messages
// and real queries (words, phrases, OR, synonyms, exclusions).
func TestHighlightsFromTermVectorsMatchHighlight(t *testing.T) {
	an := testAnalyzer(t)
	ds, err := demo.Load("", 300)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(Options{Dir: t.TempDir(), Analyzer: an})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := t.Context()
	bodies, titles := map[string]string{}, map[string]string{}
	var ops []search.Op
	for i, m := range ds.Messages {
		id := strconv.Itoa(i + 1)
		d := &search.Document{ID: id, Version: 1, Title: m.Title, Body: m.Body, Unit: m.UnitCode, Date: m.Time}
		bodies[id] = m.Body
		titles[id] = m.Title
		ops = append(ops, search.Op{Kind: search.OpUpsert, ID: id, Version: 1, Doc: d})
	}
	if _, err := e.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	queries := []string{"", "小区 停车", `"物业管理"`, "噪音 OR 扰民", "学校 -幼儿园", "城乡建设"}
	for _, m := range ds.Messages[:min(60, len(ds.Messages))] {
		var words []string
		for _, tok := range an.Query(m.Title) {
			if utf8.RuneCountInString(tok.Term) >= 2 {
				words = append(words, m.Title[tok.Start:tok.End])
			}
		}
		if len(words) >= 2 {
			queries = append(queries, words[0]+" "+words[len(words)-1])
		}
	}
	checked, marked := 0, 0
	for _, qt := range queries {
		res, err := e.Search(ctx, search.Query{Text: qt, Size: 20, Scope: search.Scope{AllUnits: true, MaxLevel: 3}})
		if err != nil {
			t.Fatalf("%q: %v", qt, err)
		}
		node, err := search.ParseQuery(qt)
		if err != nil {
			t.Fatal(err)
		}
		terms := highlightTerms(an, node)
		for _, h := range res.Hits {
			want := an.Highlight(bodies[h.ID], terms, snippetRunes)
			if h.Snippet != want {
				t.Errorf("query %q, hit %s:\n got  %q\n want %q", qt, h.ID, h.Snippet, want)
			}
			if want := an.Highlight(titles[h.ID], terms, 0); h.TitleHTML != want {
				t.Errorf("query %q, hit %s title:\n got  %q\n want %q", qt, h.ID, h.TitleHTML, want)
			}
			checked++
			if len(h.Snippet) > 0 && containsMark(h.Snippet) {
				marked++
			}
		}
	}
	minChecked, minMarked := 100, 50
	if ds.Source == "sample" { // the 31 shipped messages, without ../shared/corpus
		minChecked, minMarked = 30, 15
	}
	if checked < minChecked || marked < minMarked {
		t.Fatalf("only %d snippets checked, %d with marks: the test did not exercise highlighting", checked, marked)
	}
}

func containsMark(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i:i+6] == "<mark>" {
			return true
		}
	}
	return false
}

// A body changed after the search is read falls back to segmenting the body (no wrong offsets).
func TestValidSpans(t *testing.T) {
	body := "城乡建设"
	if !validSpans(body, []analyzers.Span{{Start: 0, End: 6, Term: "城乡"}, {Start: 6, End: 12, Term: "建设"}}) {
		t.Fatal("valid spans rejected")
	}
	for _, bad := range [][]analyzers.Span{{{Start: 0, End: 13, Term: "x"}}, {{Start: 1, End: 6, Term: "x"}}, {{Start: 0, End: 4, Term: "x"}}, {{Start: 6, End: 6, Term: "x"}}} {
		if validSpans(body, bad) {
			t.Fatalf("spans %v accepted", bad)
		}
	}
}

// Live documents keep their version in the document, not in Bleve's internal store (which
// scorch copies and persists whole at every batch); only tombstones are internal records, and
// a record from an older release is honoured and then replaced.
func TestVersionsLiveInDocumentsTombstonesInternal(t *testing.T) {
	e, err := Open(Options{Dir: t.TempDir(), Analyzer: testAnalyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := t.Context()
	doc := func(id string, v int64) search.Op {
		return search.Op{Kind: search.OpUpsert, ID: id, Version: v, Doc: &search.Document{ID: id, Version: v, Title: "停车", Body: "小区停车", Unit: "u1"}}
	}
	internal := func(id string) []byte {
		b, err := e.idx.GetInternal(versionKey(id))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := e.Apply(ctx, []search.Op{doc("1", 5), doc("2", 5)}); err != nil {
		t.Fatal(err)
	}
	if internal("1") != nil {
		t.Fatal("a live document wrote an internal version record")
	}
	// An older release's record for document 3 (version 7) with no document: it counts.
	if err := e.idx.SetInternal(versionKey("3"), encodeVersion(7, stateLive)); err != nil {
		t.Fatal(err)
	}
	res, err := e.Apply(ctx, []search.Op{doc("1", 4), doc("3", 6), {Kind: search.OpDelete, ID: "2", Version: 9}})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Stale || !res[1].Stale || res[2].Stale {
		t.Fatalf("results %+v: want stale, stale, applied", res)
	}
	if internal("2") == nil {
		t.Fatal("delete left no tombstone")
	}
	if r, _ := e.Apply(ctx, []search.Op{doc("2", 8)}); !r[0].Stale {
		t.Fatal("an upsert older than the tombstone was applied")
	}
	if r, _ := e.Apply(ctx, []search.Op{doc("2", 10), doc("3", 8)}); r[0].Stale || r[1].Stale {
		t.Fatalf("newer upserts refused: %+v", r)
	}
	if internal("2") != nil || internal("3") != nil {
		t.Fatal("the document did not take over from the internal record")
	}
	got, err := e.Versions(ctx, []string{"1", "2", "3", "4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["1"] != 5 || got["2"] != 10 || got["3"] != 8 {
		t.Fatalf("Versions = %v", got)
	}
}

// Facets and histograms counted from the segment columns equal Bleve's own facets, over
// several segments, after updates and deletes, for filtered, scoped and browsing queries.
func TestColumnFacetsMatchBleveFacets(t *testing.T) {
	an := testAnalyzer(t)
	ds, err := demo.Load("", 400)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(Options{Dir: t.TempDir(), Analyzer: an, BatchSize: 37})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := t.Context()
	var ops []search.Op
	for i, m := range ds.Messages {
		id := strconv.Itoa(i + 1)
		date := m.Time
		if i%3 == 0 { // many exact ties, so the id tie-break decides the order
			date = ds.Messages[0].Time
		}
		d := &search.Document{ID: id, Version: 1, Title: m.Title, Body: m.Body, Unit: m.UnitCode, Category: m.CategoryCode[:3],
			District: m.District, Classification: i % 4, Date: date}
		ops = append(ops, search.Op{Kind: search.OpUpsert, ID: id, Version: 1, Doc: d})
	}
	for k := 0; k < len(ops); k += 50 { // several Apply calls: several segments
		if _, err := e.Apply(ctx, ops[k:min(k+50, len(ops))]); err != nil {
			t.Fatal(err)
		}
	}
	// Updates move documents to another unit and month; deletes remove some.
	// (On the 31-message sample used without ../shared, fewer of each.)
	var more []search.Op
	for i := 0; i < 60 && i*5 < len(ops); i++ {
		d := *ops[i*5].Doc
		d.Version, d.Unit, d.Date = 2, "MOVED", d.Date.AddDate(0, -7, 0)
		more = append(more, search.Op{Kind: search.OpUpsert, ID: d.ID, Version: 2, Doc: &d})
	}
	for i := 0; i < 30 && i*7+1 < len(ops); i++ {
		more = append(more, search.Op{Kind: search.OpDelete, ID: ops[i*7+1].ID, Version: 9})
	}
	if _, err := e.Apply(ctx, more); err != nil {
		t.Fatal(err)
	}
	scope := search.Scope{AllUnits: true, MaxLevel: 2}
	queries := []search.Query{
		{Scope: scope},
		{Text: "小区", Scope: scope},
		{Text: "停车 OR 噪音", Scope: search.Scope{Units: []string{ds.Messages[0].UnitCode, "MOVED"}, MaxLevel: 3}},
		{Text: "学校", Categories: []string{ops[3].Doc.Category}, Scope: scope, Sort: search.SortDate},
		{Scope: scope, From: ds.Messages[len(ds.Messages)/2].Time},
		{Scope: scope, Sort: search.SortDate},
		{Text: "反映", Scope: scope, Sort: search.SortDate},
	}
	checked := 0
	for _, q := range queries {
		for _, interval := range []string{search.IntervalMonth, search.IntervalDay, search.IntervalYear} {
			q.Facets, q.DateHistogram, q.FacetSize = search.AllFacets, interval, 1000
			got, err := e.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			// The same search through Bleve's facets (the fallback path).
			want := bleveFacetSearch(t, e, q)
			if got.Total != want.Total {
				t.Fatalf("%q: total %d, Bleve %d", q.Text, got.Total, want.Total)
			}
			for _, name := range q.Facets {
				if fmt.Sprint(got.Facets[name]) != fmt.Sprint(want.Facets[name]) {
					t.Fatalf("%q facet %s:\n got  %v\n want %v", q.Text, name, got.Facets[name], want.Facets[name])
				}
			}
			ids := func(hs []search.Hit) (out []string) {
				for _, h := range hs {
					out = append(out, h.ID)
				}
				return out
			}
			if fmt.Sprint(ids(got.Hits)) != fmt.Sprint(ids(want.Hits)) {
				t.Fatalf("%q sort %q: hits\n got  %v\n want %v", q.Text, q.Sort, ids(got.Hits), ids(want.Hits))
			}
			if fmt.Sprint(got.Histogram) != fmt.Sprint(want.Histogram) {
				t.Fatalf("%q %s histogram:\n got  %v\n want %v", q.Text, interval, got.Histogram, want.Histogram)
			}
			if got.Total > 0 {
				checked++
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d searches with hits", checked)
	}
	if n := e.columnCount.Load(); n != int64(3*len(queries)) {
		t.Fatalf("%d of %d searches counted facets from the columns", n, 3*len(queries))
	}
	// The path without columns (the fallback) gives the same results, hits included.
	for _, q := range queries {
		q.Facets, q.DateHistogram, q.FacetSize = search.AllFacets, search.IntervalMonth, 1000
		e.columnsOff = false
		a, err := e.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		e.columnsOff = true
		b, err := e.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		a.Took, b.Took = 0, 0
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("%q: with columns\n%v\nwithout\n%v", q.Text, a, b)
		}
	}
	e.columnsOff = false
}

// bleveFacetSearch runs q with Bleve computing the facets, as the fallback does.
func bleveFacetSearch(t *testing.T, e *Engine, q search.Query) search.Result {
	t.Helper()
	node, err := search.ParseQuery(q.Text)
	if err != nil {
		t.Fatal(err)
	}
	bq := query.NewBooleanQuery([]query.Query{e.textQuery(node)}, nil, nil)
	bq.AddFilter(query.NewConjunctionQuery(append(scopeFilter(q.Scope), filters(q)...)))
	req := bleve.NewSearchRequestOptions(bq, 20, 0, false)
	if q.Sort == search.SortDate {
		req.SortBy([]string{"-" + fDate, "_id"})
		req.Score = "none"
	} else {
		req.SortBy([]string{"-_score", "-" + fDate, "_id"})
	}
	bleveFacets(req, q)
	res, err := e.idx.SearchInContext(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := search.Result{Total: int(res.Total), Facets: map[string][]search.FacetValue{}}
	for _, h := range res.Hits {
		out.Hits = append(out.Hits, search.Hit{ID: h.ID})
	}
	for _, name := range q.Facets {
		out.Facets[name] = facetValues(name, termCounts(res.Facets[name]), q.FacetSize)
	}
	name := histogramFacet
	if histogramFields[q.DateHistogram] == fMonth {
		name = search.FacetMonth
	}
	out.Histogram = histogram(q.DateHistogram, termCounts(res.Facets[name]))
	return out
}

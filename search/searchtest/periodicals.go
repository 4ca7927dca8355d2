package searchtest

import (
	"testing"

	"infowork/search"
)

// testPeriodicalFacets checks the archived and endorsed facets and filters (package periodical
// sets Document.Archived and Document.Endorsement): counts only documents holding a value,
// within the scope, and the filters combine with text and other filters.
func testPeriodicalFacets(t *testing.T, e search.Engine) {
	flag := func(archived bool, endorsement string) func(*search.Document) {
		return func(d *search.Document) { d.Archived, d.Endorsement = archived, endorsement }
	}
	docs := []search.Document{
		doc("per1", "刊物归档条目一", "归档批示测试正文", flag(true, "open")),
		doc("per2", "刊物归档条目二", "归档批示测试正文", flag(true, "")),
		doc("per3", "刊物条目三", "归档批示测试正文", flag(false, "closed")),
		doc("per4", "普通条目四", "归档批示测试正文"),
		doc("per5", "机密归档条目", "归档批示测试正文", flag(true, "open"), level(3), unit("u9")),
	}
	apply(t, e, upserts(docs))
	removeAtCleanup(t, e, docs)

	low := search.Scope{MaxLevel: 1, AllUnits: true, Principals: []string{"user:bob"}}
	q := search.Query{Text: "归档批示测试", Scope: low, Size: search.MaxPageSize, Facets: []string{search.FacetArchived, search.FacetEndorsed}}
	res := mustSearch(t, e, q)
	if res.Total != 4 {
		t.Fatalf("total = %d, want 4", res.Total)
	}
	wantFacet := func(name string, want map[string]int) {
		t.Helper()
		got := map[string]int{}
		for _, v := range res.Facets[name] {
			got[v.Value] = v.Count
		}
		if len(got) != len(want) {
			t.Errorf("facet %s = %v, want %v", name, got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("facet %s = %v, want %v", name, got, want)
			}
		}
	}
	wantFacet(search.FacetArchived, map[string]int{"archived": 2}) // per5 is out of scope
	wantFacet(search.FacetEndorsed, map[string]int{"open": 1, "closed": 1})

	q.Archived = []string{"archived"}
	if got := ids(mustSearch(t, e, q)); !sameSet(got, []string{"per1", "per2"}) {
		t.Errorf("archived filter: %v", got)
	}
	q.Endorsed = []string{"open"}
	if got := ids(mustSearch(t, e, q)); !sameSet(got, []string{"per1"}) {
		t.Errorf("archived and endorsed=open: %v", got)
	}
	q.Archived, q.Endorsed = nil, []string{"open", "closed"}
	if got := ids(mustSearch(t, e, q)); !sameSet(got, []string{"per1", "per3"}) {
		t.Errorf("endorsed open or closed: %v", got)
	}
	// An update that clears the flags takes the document out of the facet.
	d := docs[0]
	d.Version, d.Archived, d.Endorsement = 2, false, ""
	apply(t, e, upserts([]search.Document{d}))
	q.Endorsed = []string{"open"}
	if got := ids(mustSearch(t, e, q)); len(got) != 0 {
		t.Errorf("after clearing the flags: %v", got)
	}
}

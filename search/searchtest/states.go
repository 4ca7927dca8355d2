package searchtest

import (
	"testing"

	"infowork/search"
)

// testStateFacet checks the workflow-state facet and filter (issues 5 and 7): counts only what
// the scope may open (a confidential record, a readers-listed record and a record under a label
// category the caller lacks must not show their states), the filter is OR within the facet and
// AND with text and other facets, and an update that moves a record to another state moves its
// count.
func testStateFacet(t *testing.T, e search.Engine) {
	docs := []search.Document{
		doc("st1", "办理状态条目一", "办理状态测试正文", state("submitted"), unit("u1")),
		doc("st2", "办理状态条目二", "办理状态测试正文", state("submitted"), unit("u2")),
		doc("st3", "办理状态条目三", "办理状态测试正文", state("adopted"), unit("u1")),
		doc("st4", "办理状态条目四", "办理状态测试正文", state("returned"), unit("u2")),
		doc("st5", "机密办理状态条目", "办理状态测试正文", state("merged"), level(3), unit("u1")),
		doc("st6", "限定读者办理状态", "办理状态测试正文", state("filed"), readers("user:alice"), unit("u1")),
		doc("st7", "标签办理状态", "办理状态测试正文", state("withdrawn"), labelCats("纪检"), unit("u1")),
		doc("st8", "无状态条目", "办理状态测试正文", state(""), unit("u1")),
	}
	apply(t, e, upserts(docs))
	removeAtCleanup(t, e, docs)

	low := search.Scope{MaxLevel: 1, AllUnits: true, Principals: []string{"user:bob"}}
	q := search.Query{Text: "办理状态测试", Scope: low, Size: search.MaxPageSize, Facets: []string{search.FacetState}, FacetSize: 100}
	wantFacet := func(label string, q search.Query, want map[string]int) {
		t.Helper()
		res := mustSearch(t, e, q)
		got := map[string]int{}
		for _, v := range res.Facets[search.FacetState] {
			got[v.Value] = v.Count
		}
		if len(got) != len(want) {
			t.Errorf("%s: state facet = %v, want %v", label, got, want)
			return
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: state facet = %v, want %v", label, got, want)
				return
			}
		}
	}
	// st5 (level 3), st6 (readers) and st7 (label category) are out of scope: merged, filed and
	// withdrawn must not appear at all, not even with a zero count.
	wantFacet("low scope", q, map[string]int{"submitted": 2, "adopted": 1, "returned": 1})
	all := q
	all.Scope = search.Scope{MaxLevel: 3, AllUnits: true, Principals: []string{"user:alice"}, Categories: []string{"纪检"}}
	wantFacet("full scope", all, map[string]int{"submitted": 2, "adopted": 1, "returned": 1, "merged": 1, "filed": 1, "withdrawn": 1})
	u1 := q
	u1.Scope = search.Scope{MaxLevel: 3, Units: []string{"u1"}}
	wantFacet("unit u1 scope", u1, map[string]int{"submitted": 1, "adopted": 1, "merged": 1})

	// The facet counts the other filters: within unit u2 only u2's states.
	q.Units = []string{"u2"}
	wantFacet("unit filter", q, map[string]int{"submitted": 1, "returned": 1})
	q.Units = nil

	// Filters: one value, OR within the facet, AND with the unit filter; a state the scope
	// cannot see finds nothing.
	for _, tt := range []struct {
		name   string
		scope  search.Scope
		states []string
		units  []string
		want   []string
	}{
		{"submitted", low, []string{"submitted"}, nil, []string{"st1", "st2"}},
		{"submitted or adopted", low, []string{"submitted", "adopted"}, nil, []string{"st1", "st2", "st3"}},
		{"submitted in u2", low, []string{"submitted"}, []string{"u2"}, []string{"st2"}},
		{"merged out of scope", low, []string{"merged"}, nil, nil},
		{"merged in scope", all.Scope, []string{"merged"}, nil, []string{"st5"}},
		{"withdrawn out of label scope", u1.Scope, []string{"withdrawn"}, nil, nil},
	} {
		fq := q
		fq.Scope, fq.States, fq.Units = tt.scope, tt.states, tt.units
		res := mustSearch(t, e, fq)
		if got := ids(res); !sameSet(got, tt.want) || res.Total != len(tt.want) {
			t.Errorf("%s: %v (total %d), want %v", tt.name, got, res.Total, tt.want)
		}
	}

	// An update moves the record to its new state.
	d := docs[0]
	d.Version, d.State = 2, "adopted"
	apply(t, e, upserts([]search.Document{d}))
	wantFacet("after update", q, map[string]int{"submitted": 1, "adopted": 2, "returned": 1})
	fq := q
	fq.States = []string{"adopted"}
	if got := ids(mustSearch(t, e, fq)); !sameSet(got, []string{"st1", "st3"}) {
		t.Errorf("adopted after update: %v", got)
	}
}

package searchtest

import (
	"fmt"
	"html"
	"maps"
	"strings"
	"testing"
	"time"

	"infowork/search"
)

// removeAtCleanup deletes docs when the calling (sub)test ends, so later subtests see only the
// shared fixture.
func removeAtCleanup(t *testing.T, e search.Engine, docs []search.Document) {
	t.Cleanup(func() {
		ops := make([]search.Op, len(docs))
		for i, d := range docs {
			ops[i] = search.Op{Kind: search.OpDelete, ID: d.ID, Version: d.Version + 1}
		}
		apply(t, e, ops)
	})
}

// testSynonyms checks query-time synonyms from the analyzer's default dictionary
// (analyzers/dict/synonyms.txt): every alternative is searched, multi-token ones as phrases,
// and the highlight marks whichever alternative the document holds, on its original text.
func testSynonyms(t *testing.T, e search.Engine) {
	docs := []search.Document{
		doc("syn1", "发展改革委电价说明", "市发展改革委发布居民阶梯电价调整说明。"),
		doc("syn2", "发改委答复意见", "发改委答复了关于网约车平台乱收费的投诉。"),
		doc("syn3", "出行服务", "网络预约出租汽车经营服务管理办法征求意见。"),
		doc("syn4", "职业技能培训", "区人力资源和社会保障局开展职业技能培训。"),
		doc("syn5", "發展改革委價格監測", "價格監測報告。"),
		doc("syn6", "楼道充电隐患", "电动自行车进楼充电存在隐患。"),
		doc("syn7", "改革发展意见", "发展改革的若干意见，委员会讨论。"), // the words of 发展改革委, not in order
	}
	apply(t, e, upserts(docs))
	removeAtCleanup(t, e, docs)

	tests := []struct {
		name, text string
		want       []string
	}{
		{"short finds full", "发改委", []string{"syn1", "syn2", "syn5"}},
		{"traditional query", "發改委", []string{"syn1", "syn2", "syn5"}},
		{"full finds short", "发展和改革委员会", []string{"syn1", "syn2", "syn5"}},
		{"multi-token synonym as phrase", "网约车", []string{"syn2", "syn3"}},
		{"full name of 网约车", "网络预约出租汽车", []string{"syn2", "syn3"}},
		{"人社局", "人社局", []string{"syn4"}},
		{"body only synonym", "电动车", []string{"syn6"}},
		{"synonym with exclusion", "网约车 -投诉", []string{"syn3"}},
		{"synonym inside a phrase", `"发改委发布"`, []string{"syn1"}},
		{"synonym in title field", "title:发改委", []string{"syn1", "syn2", "syn5"}},
		{"synonym OR", "人社局 OR 电动车", []string{"syn4", "syn6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustSearch(t, e, search.Query{Text: tt.text, Scope: everything, Size: search.MaxPageSize})
			if got := ids(res); !sameSet(got, tt.want) || res.Total != len(tt.want) {
				t.Fatalf("Search(%q) = %v (total %d), want %v", tt.text, got, res.Total, tt.want)
			}
		})
	}

	hl := []struct{ text, id, snippetMark, titleHTML string }{
		{"发改委", "syn1", "<mark>发展改革委</mark>", "<mark>发展改革委</mark>电价说明"},
		{"发改委", "syn2", "<mark>发改委</mark>答复", "<mark>发改委</mark>答复意见"},
		{"发改委", "syn5", "", "<mark>發展改革委</mark>價格監測"},
		{"网约车", "syn3", "<mark>网络预约出租汽车</mark>经营", ""},
		{"网络预约出租汽车", "syn2", "<mark>网约车</mark>平台", ""},
		{"人社局", "syn4", "<mark>人力资源和社会保障局</mark>", ""},
	}
	for _, tt := range hl {
		t.Run("highlight "+tt.text+" "+tt.id, func(t *testing.T) {
			res := mustSearch(t, e, search.Query{Text: tt.text, Scope: everything, Size: search.MaxPageSize})
			var h *search.Hit
			for i := range res.Hits {
				if res.Hits[i].ID == tt.id {
					h = &res.Hits[i]
				}
			}
			if h == nil {
				t.Fatalf("Search(%q) = %v, want %s", tt.text, ids(res), tt.id)
			}
			if tt.snippetMark != "" && !strings.Contains(h.Snippet, tt.snippetMark) {
				t.Errorf("Snippet = %q, want %q", h.Snippet, tt.snippetMark)
			}
			if tt.titleHTML != "" && h.TitleHTML != tt.titleHTML {
				t.Errorf("TitleHTML = %q, want %q", h.TitleHTML, tt.titleHTML)
			}
			plain := strings.Trim(strings.NewReplacer("<mark>", "", "</mark>", "").Replace(h.Snippet), "…")
			if !strings.Contains(html.EscapeString(fixtureBody(docs, tt.id)), plain) {
				t.Errorf("Snippet %q is not the original text", h.Snippet)
			}
		})
	}
}

// testFacetMore checks a long facet list: FacetSize up to search.MaxFacetSize returns that many
// values, by count, and the default stays search.DefaultFacetSize.
func testFacetMore(t *testing.T, e search.Engine) {
	const units = 505
	var docs []search.Document
	for i := range units {
		docs = append(docs, doc(fmt.Sprintf("fm%03d", i), "分面更多", "分面更多测试", unit(fmt.Sprintf("fm%03d", i))))
	}
	// fm200 is the largest unit, fm300 the second: both must lead every list.
	docs = append(docs,
		doc("fm200b", "分面更多", "分面更多测试", unit("fm200")), doc("fm200c", "分面更多", "分面更多测试", unit("fm200")),
		doc("fm300b", "分面更多", "分面更多测试", unit("fm300")))
	apply(t, e, upserts(docs))
	removeAtCleanup(t, e, docs)

	for _, tt := range []struct{ size, want int }{{0, search.DefaultFacetSize}, {10, 10}, {500, 500}, {search.MaxFacetSize, units}} {
		res := mustSearch(t, e, search.Query{Text: "分面更多", Scope: everything, Facets: []string{search.FacetUnit}, FacetSize: tt.size})
		vals := res.Facets[search.FacetUnit]
		if len(vals) != tt.want {
			t.Fatalf("FacetSize %d: %d unit values, want %d", tt.size, len(vals), tt.want)
		}
		if vals[0] != (search.FacetValue{Value: "fm200", Count: 3}) || vals[1] != (search.FacetValue{Value: "fm300", Count: 2}) {
			t.Fatalf("FacetSize %d: first values %v, want fm200 (3) and fm300 (2)", tt.size, vals[:2])
		}
		for i := 2; i < len(vals); i++ {
			if vals[i].Count != 1 || vals[i].Value <= vals[i-1].Value && i > 2 {
				t.Fatalf("FacetSize %d: value %d = %v after %v, want count 1 in name order", tt.size, i, vals[i], vals[i-1])
			}
		}
	}
}

// testDateHistogram checks bucket keys at the edges of the Asia/Shanghai calendar (a UTC
// timestamp on the previous day), their order, and counts under filters and scope against the
// fixture.
func testDateHistogram(t *testing.T, e search.Engine, fixture []search.Document) {
	at := func(y, m, d, h, min int) time.Time {
		return time.Date(y, time.Month(m), d, h, min, 0, 0, search.Location)
	}
	docs := []search.Document{
		doc("dh1", "直方图测试", "月末深夜", date(at(2024, 3, 31, 23, 30))),
		doc("dh2", "直方图测试", "新年凌晨", date(at(2025, 1, 1, 0, 30))), // 2024-12-31 16:30 UTC
		doc("dh3", "直方图测试", "年中", date(at(2023, 6, 15, 12, 0))),
		doc("dh4", "直方图测试", "同一天", date(at(2023, 6, 15, 8, 0)), level(2)),
	}
	apply(t, e, upserts(docs))
	removeAtCleanup(t, e, docs)

	want := map[string][]search.FacetValue{
		search.IntervalDay:   {{Value: "2023-06-15", Count: 2}, {Value: "2024-03-31", Count: 1}, {Value: "2025-01-01", Count: 1}},
		search.IntervalMonth: {{Value: "2023-06", Count: 2}, {Value: "2024-03", Count: 1}, {Value: "2025-01", Count: 1}},
		search.IntervalYear:  {{Value: "2023", Count: 2}, {Value: "2024", Count: 1}, {Value: "2025", Count: 1}},
	}
	for interval, w := range want {
		res := mustSearch(t, e, search.Query{Text: "直方图测试", Scope: everything, DateHistogram: interval})
		if fmt.Sprint(res.Histogram) != fmt.Sprint(w) {
			t.Errorf("%s histogram = %v, want %v", interval, res.Histogram, w)
		}
	}
	// The scope applies: a public-only reader does not count dh4.
	res := mustSearch(t, e, search.Query{Text: "直方图测试", Scope: search.Scope{MaxLevel: 0, AllUnits: true}, DateHistogram: search.IntervalYear})
	if w := "[{2023 1} {2024 1} {2025 1}]"; fmt.Sprint(res.Histogram) != w {
		t.Errorf("scoped year histogram = %v, want %v", res.Histogram, w)
	}
	// No hits: an empty histogram, not an error.
	res = mustSearch(t, e, search.Query{Text: "火星基地", Scope: everything, DateHistogram: search.IntervalMonth})
	if len(res.Histogram) != 0 {
		t.Errorf("histogram without hits = %v", res.Histogram)
	}
	// Filters and the date range apply (against the fixture).
	for _, interval := range []string{search.IntervalDay, search.IntervalMonth, search.IntervalYear} {
		q := search.Query{Scope: everything, Size: search.MaxPageSize, Categories: []string{"民生"}, From: day(2024, 2, 1), DateHistogram: interval}
		checkAgainstBruteForce(t, e, fixture, q, func(search.Document) bool { return true })
	}
}

// checkHistogram compares a histogram with the expected counts per key; keys must be ascending.
func checkHistogram(t tb, got []search.FacetValue, want map[string]int, q search.Query) {
	t.Helper()
	m := map[string]int{}
	for i, v := range got {
		if i > 0 && v.Value <= got[i-1].Value {
			t.Fatalf("histogram %v is not in ascending order (query %+v)", got, q)
		}
		m[v.Value] = v.Count
	}
	if !maps.Equal(m, want) {
		t.Fatalf("%s histogram = %v, want %v (query %+v)", q.DateHistogram, got, want, q)
	}
}

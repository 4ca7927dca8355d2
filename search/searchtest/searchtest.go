package searchtest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"infowork/search"
)

func day(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 10, 0, 0, 0, search.Location) }

// doc is a fixture builder with defaults for the fields a test does not care about.
func doc(id, title, body string, opts ...func(*search.Document)) search.Document {
	d := search.Document{
		ID: id, Version: 1, Kind: "submission", Title: title, Body: body,
		Unit: "u1", UnitName: "市发展改革委", Category: "经济", District: "A1区",
		Urgency: "normal", State: "submitted", Date: day(2024, 1, 1),
	}
	for _, o := range opts {
		o(&d)
	}
	return d
}

func unit(u string) func(*search.Document) {
	return func(d *search.Document) { d.Unit, d.UnitName = u, "单位"+u }
}
func category(c string) func(*search.Document) { return func(d *search.Document) { d.Category = c } }
func district(s string) func(*search.Document) { return func(d *search.Document) { d.District = s } }
func level(l int) func(*search.Document)       { return func(d *search.Document) { d.Classification = l } }
func state(s string) func(*search.Document)    { return func(d *search.Document) { d.State = s } }
func date(t time.Time) func(*search.Document)  { return func(d *search.Document) { d.Date = t } }
func readers(r ...string) func(*search.Document) {
	return func(d *search.Document) { d.Readers = r }
}
func labelCats(c ...string) func(*search.Document) {
	return func(d *search.Document) { d.LabelCategories = c }
}

// fixture is the shared corpus. Texts exercise segmentation; fields exercise filters and facets.
func fixture() []search.Document {
	return []search.Document{
		doc("1", "北京市委召开营商环境会议", "北京市委召开会议，研究优化营商环境工作。", unit("u1"), category("经济"), district("A1区"), date(day(2024, 1, 5))),
		doc("2", "南京市长江大桥维修", "南京市长江大桥今日起封闭维修，请市民绕行。", unit("u2"), category("城建"), district("A3区"), date(day(2024, 1, 20))),
		doc("3", "热线受理情况", "本月市长热线受理群众诉求一千余件，拨打12345热线的市民增多。", unit("u1"), category("民生"), district("A1区"), date(day(2024, 2, 3))),
		doc("4", "人民政府办公厅通知", "人民政府办公厅发布关于5G基站建设的通知。", unit("u2"), category("城建"), district(""), level(1), state("in_review"), date(day(2024, 2, 10))),
		doc("5", "空气质量月报", "ＰＭ２．５浓度持续下降，５Ｇ基站建设加快。", unit("u3"), category("民生"), district("A3区"), date(day(2024, 2, 25))),
		doc("6", "停车难问题", "A3区某小区停车难，居民反映物业服务差。", unit("u3"), category("民生"), district("A3区"), state("adopted"), date(day(2024, 3, 1))),
		doc("7", "充电桩建设", "小区充电桩不足，新能源汽车充电难，停车位也紧张。", unit("u3"), category("民生"), district("A3区"), state("adopted"), date(day(2024, 3, 15))),
		doc("8", "供暖季准备工作", "各区做好准备工作。", unit("u2"), category("民生"), district("A1区"), state("returned"), date(day(2024, 3, 20))),
		doc("9", "城市工作会议", "会上提到冬季供暖和其他事项，会议还讨论了很多其他的问题。", unit("u1"), category("经济"), district("A1区"), date(day(2024, 3, 21))),
		doc("10", "停车场建设规划", "停车场建设规划（秘密）。", unit("u1"), category("城建"), district("A1区"), level(2), labelCats("人事", "纪检"), state("withdrawn"), date(day(2024, 3, 22))),
		doc("11", "停车专项调查", "停车专项调查，仅限指定人员阅读。", unit("u2"), category("民生"), district("A3区"), readers("user:alice", "unit:u9"), state("filed"), date(day(2024, 1, 9))),
		doc("12", "办公厅人民政府材料", "办公厅材料，人民政府转发。", unit("u3"), category("经济"), district("A3区"), labelCats("经济"), state("merged"), date(day(2024, 1, 12))),
	}
}

// everything sees the whole fixture.
var everything = search.Scope{MaxLevel: 3, AllUnits: true, Principals: []string{"user:alice"}, Categories: []string{"人事", "纪检", "经济"}}

// Run runs the suite. newEngine returns an empty engine; Run closes it.
func Run(t *testing.T, newEngine func(t *testing.T) search.Engine) {
	ctx := context.Background()
	e := newEngine(t)
	t.Cleanup(func() { _ = e.Close() })
	docs := fixture()
	apply(t, e, upserts(docs))

	t.Run("Count", func(t *testing.T) {
		n, err := e.Count(ctx)
		if err != nil || n != len(docs) {
			t.Fatalf("Count = %d, %v; want %d", n, err, len(docs))
		}
		if err := e.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("Text", func(t *testing.T) {
		tests := []struct {
			name, text string
			want       []string
		}{
			{"word", "停车", []string{"6", "7", "10", "11"}},
			{"AND", "停车 小区", []string{"6", "7"}},
			{"OR", "供暖 OR 维修", []string{"2", "8", "9"}},
			{"OR bar", "供暖|维修", []string{"2", "8", "9"}},
			{"exclusion", "停车 -小区", []string{"10", "11"}},
			{"exclude phrase", `停车 -"物业服务"`, []string{"7", "10", "11"}},
			{"phrase in order", `"人民政府办公厅"`, []string{"4"}},
			{"phrase reversed", `"办公厅人民政府"`, []string{"12"}},
			{"word is phrase", "人民政府办公厅", []string{"4"}},
			{"sub-word 北京", "北京", []string{"1"}},
			{"no 市长 in 南京市长江大桥", "市长", []string{"3"}},
			{"长江大桥", "长江大桥", []string{"2"}},
			{"half-width query, full-width text", "PM2.5", []string{"5"}},
			{"full-width query, half-width text", "１２３４５热线", []string{"3"}},
			{"5G基站 both widths", "5G基站", []string{"4", "5"}},
			{"full-width 5G", "５Ｇ", []string{"4", "5"}},
			{"title field", "title:停车", []string{"6", "10", "11"}},
			{"标题 field full-width colon", "标题：停车", []string{"6", "10", "11"}},
			{"body field", "正文:供暖", []string{"9"}},
			{"group", "(供暖 OR 维修) 准备", []string{"8"}},
			{"stop word only", "的", nil},
			{"no match", "火星基地", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := mustSearch(t, e, search.Query{Text: tt.text, Scope: everything, Size: search.MaxPageSize})
				if got := ids(res); !sameSet(got, tt.want) {
					t.Fatalf("Search(%q) = %v, want %v", tt.text, got, tt.want)
				}
				if res.Total != len(tt.want) {
					t.Fatalf("Search(%q).Total = %d, want %d", tt.text, res.Total, len(tt.want))
				}
			})
		}
	})

	t.Run("TitleBoost", func(t *testing.T) {
		res := mustSearch(t, e, search.Query{Text: "供暖", Scope: everything})
		if got := ids(res); len(got) != 2 || got[0] != "8" {
			t.Fatalf("Search(供暖) = %v, want the title match 8 first", got)
		}
	})

	t.Run("SortDate", func(t *testing.T) {
		res := mustSearch(t, e, search.Query{Sort: search.SortDate, Scope: everything, Size: search.MaxPageSize})
		if res.Total != len(docs) || len(res.Hits) != len(docs) {
			t.Fatalf("Total = %d, hits = %d, want %d", res.Total, len(res.Hits), len(docs))
		}
		for i := 1; i < len(res.Hits); i++ {
			if res.Hits[i].Date.After(res.Hits[i-1].Date) {
				t.Fatalf("hits not newest first: %v then %v", res.Hits[i-1].Date, res.Hits[i].Date)
			}
		}
		if res.Hits[0].ID != "10" {
			t.Fatalf("newest hit = %s, want 10", res.Hits[0].ID)
		}
	})

	t.Run("HitFields", func(t *testing.T) {
		res := mustSearch(t, e, search.Query{Text: "充电桩", Scope: everything})
		if len(res.Hits) != 1 {
			t.Fatalf("hits = %v", ids(res))
		}
		h, d := res.Hits[0], docs[6]
		if h.ID != d.ID || h.Title != d.Title || h.Unit != d.Unit || h.UnitName != d.UnitName || h.Category != d.Category ||
			h.District != d.District || h.Classification != d.Classification || h.Urgency != d.Urgency || h.State != d.State ||
			!h.Date.Equal(d.Date) || h.Version != d.Version {
			t.Fatalf("hit = %+v, want the fields of %+v", h, d)
		}
	})

	t.Run("Paging", func(t *testing.T) {
		for _, sortBy := range []string{search.SortRelevance, search.SortDate} {
			for _, text := range []string{"", "停车 OR 建设 OR 会议"} {
				seen := map[string]bool{}
				total := -1
				for page := 1; ; page++ {
					res := mustSearch(t, e, search.Query{Text: text, Sort: sortBy, Page: page, Size: 3, Scope: everything})
					if total >= 0 && res.Total != total {
						t.Fatalf("%s %q: total changed from %d to %d on page %d", sortBy, text, total, res.Total, page)
					}
					total = res.Total
					if len(res.Hits) == 0 {
						break
					}
					for _, h := range res.Hits {
						if seen[h.ID] {
							t.Fatalf("%s %q: %s on two pages", sortBy, text, h.ID)
						}
						seen[h.ID] = true
					}
				}
				if len(seen) != total {
					t.Fatalf("%s %q: pages held %d hits, total %d", sortBy, text, len(seen), total)
				}
			}
		}
	})

	t.Run("Filters", func(t *testing.T) {
		from, to := day(2024, 2, 1), day(2024, 3, 1)
		tests := []struct {
			name string
			q    search.Query
		}{
			{"unit", search.Query{Units: []string{"u2"}}},
			{"units", search.Query{Units: []string{"u2", "u3"}}},
			{"category", search.Query{Categories: []string{"民生"}}},
			{"district", search.Query{Districts: []string{"A3区"}}},
			{"state", search.Query{States: []string{"adopted"}}},
			{"states", search.Query{States: []string{"adopted", "returned", "filed"}}},
			{"state and text", search.Query{States: []string{"adopted", "submitted"}, Text: "停车", Units: []string{"u3", "u2"}}},
			{"state unknown", search.Query{States: []string{"no_such_state"}}},
			{"month", search.Query{Months: []string{"2024-02"}}},
			{"classification", search.Query{Classifications: []int{1, 2}}},
			{"date range", search.Query{From: from, To: to}},
			{"from only", search.Query{From: from}},
			{"to only", search.Query{To: to}},
			{"across facets", search.Query{Categories: []string{"民生"}, Districts: []string{"A3区"}, Text: "停车"}},
			{"text and unit", search.Query{Text: "建设", Units: []string{"u3"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				q := tt.q
				q.Scope, q.Size, q.Facets, q.FacetSize = everything, search.MaxPageSize, search.AllFacets, 100
				q.DateHistogram = []string{search.IntervalDay, search.IntervalMonth, search.IntervalYear}[len(tt.name)%3]
				textIDs := allIDs(t, e, search.Query{Text: q.Text, Scope: everything})
				checkAgainstBruteForce(t, e, docs, q, func(d search.Document) bool { return textIDs[d.ID] })
			})
		}
	})

	t.Run("FacetOrder", func(t *testing.T) {
		res := mustSearch(t, e, search.Query{Scope: everything, Facets: search.AllFacets, FacetSize: 2})
		months := res.Facets[search.FacetMonth]
		if len(months) != 2 || months[0].Value != "2024-03" || months[1].Value != "2024-02" {
			t.Fatalf("month facet = %v, want the 2 newest months, newest first", months)
		}
		units := res.Facets[search.FacetUnit]
		if len(units) != 2 || units[0].Count < units[1].Count {
			t.Fatalf("unit facet = %v, want 2 values by count", units)
		}
	})

	t.Run("Scope", func(t *testing.T) {
		scopes := []search.Scope{
			{},
			{MaxLevel: 0, AllUnits: true},
			{MaxLevel: 1, Units: []string{"u2"}},
			{MaxLevel: 3, Units: []string{"u1"}},
			{MaxLevel: 3, AllUnits: true, Principals: []string{"unit:u9"}},
			{MaxLevel: 2, Units: []string{"u1", "u2"}, Principals: []string{"user:bob"}},
			{MaxLevel: 3, AllUnits: true, Principals: []string{"user:alice"}, Categories: []string{"人事"}},
			{MaxLevel: 3, AllUnits: true, Principals: []string{"user:alice"}, Categories: []string{"纪检", "人事"}},
			{MaxLevel: 3, AllUnits: true, Principals: []string{"user:alice"}, Categories: []string{"经济", "人事处"}},
			{MaxLevel: 3, AllUnits: true, Categories: []string{"人事", "纪检", "经济", "其他"}},
			everything,
		}
		for i, s := range scopes {
			for _, text := range []string{"", "停车", "建设 OR 会议"} {
				t.Run(fmt.Sprintf("%d/%s", i, text), func(t *testing.T) {
					textIDs := allIDs(t, e, search.Query{Text: text, Scope: everything})
					q := search.Query{Text: text, Scope: s, Size: search.MaxPageSize, Facets: search.AllFacets, FacetSize: 100, DateHistogram: search.IntervalMonth}
					checkAgainstBruteForce(t, e, docs, q, func(d search.Document) bool { return textIDs[d.ID] })
				})
			}
		}
		if res := mustSearch(t, e, search.Query{Scope: search.Scope{}, Facets: search.AllFacets}); res.Total != 0 {
			t.Fatalf("zero Scope sees %d documents", res.Total)
		}
	})

	t.Run("LabelCategories", func(t *testing.T) { testLabelCategories(t, e) })

	t.Run("Highlight", func(t *testing.T) {
		tests := []struct{ text, id, snippetMark, titleMark string }{
			{"停车", "6", "<mark>停车</mark>", "<mark>停车</mark>难问题"},
			{"PM2.5", "5", "<mark>ＰＭ２．５</mark>浓度", ""},
			{"5G基站", "5", "<mark>５Ｇ基站</mark>", ""},
			{"北京", "1", "<mark>北京</mark>市委", "<mark>北京</mark>市委召开营商环境会议"},
			{"南京市长江大桥", "2", "<mark>南京市长江大桥</mark>今日", "<mark>南京市长江大桥</mark>维修"},
		}
		for _, tt := range tests {
			t.Run(tt.text, func(t *testing.T) {
				res := mustSearch(t, e, search.Query{Text: tt.text, Scope: everything})
				var h *search.Hit
				for i := range res.Hits {
					if res.Hits[i].ID == tt.id {
						h = &res.Hits[i]
					}
				}
				if h == nil {
					t.Fatalf("Search(%q) = %v, want %s", tt.text, ids(res), tt.id)
				}
				if !strings.Contains(h.Snippet, tt.snippetMark) {
					t.Errorf("Snippet = %q, want %q", h.Snippet, tt.snippetMark)
				}
				if tt.titleMark != "" && h.TitleHTML != tt.titleMark {
					t.Errorf("TitleHTML = %q, want %q", h.TitleHTML, tt.titleMark)
				}
				body := fixtureBody(docs, tt.id)
				plain := strings.Trim(strings.NewReplacer("<mark>", "", "</mark>", "").Replace(h.Snippet), "…")
				if !strings.Contains(html.EscapeString(body), plain) {
					t.Errorf("Snippet %q is not the original text %q (inserted spaces?)", h.Snippet, body)
				}
			})
		}
		res := mustSearch(t, e, search.Query{Scope: everything, Units: []string{"u3"}, Sort: search.SortDate})
		for _, h := range res.Hits {
			if strings.Contains(h.Snippet, "<mark>") || h.Snippet == "" {
				t.Errorf("browse snippet = %q, want the plain start of the body", h.Snippet)
			}
		}
	})

	t.Run("BadQuery", func(t *testing.T) {
		bad := []search.Query{
			{Text: `"未闭合`},
			{Text: "-停车"},
			{Text: "停车 OR"},
			{Page: -1},
			{Size: -5},
			{Size: search.MaxPageSize + 1},
			{Page: search.MaxResultWindow/search.MaxPageSize + 1, Size: search.MaxPageSize},
			{Sort: "popularity"},
			{Facets: []string{"no_such_facet"}},
			{FacetSize: search.MaxFacetSize + 1},
			{DateHistogram: "week"},
			{From: day(2024, 3, 1), To: day(2024, 2, 1)},
		}
		for _, q := range bad {
			q.Scope = everything
			_, err := e.Search(ctx, q)
			if !errors.Is(err, search.ErrBadQuery) {
				t.Errorf("Search(%+v) error = %v, want ErrBadQuery", q, err)
			}
		}
	})

	t.Run("Synonyms", func(t *testing.T) { testSynonyms(t, e) })

	t.Run("FacetMore", func(t *testing.T) { testFacetMore(t, e) })

	t.Run("DateHistogram", func(t *testing.T) { testDateHistogram(t, e, docs) })

	t.Run("Versioning", func(t *testing.T) { testVersioning(t, e) })

	t.Run("ScopeProperty", func(t *testing.T) { testScopeProperty(t, e) })

	t.Run("PeriodicalFacets", func(t *testing.T) { testPeriodicalFacets(t, e) })

	t.Run("StateFacet", func(t *testing.T) { testStateFacet(t, e) })

	t.Run("Attachments", func(t *testing.T) { testAttachments(t, e) })
}

func testVersioning(t *testing.T, e search.Engine) {
	ctx := context.Background()
	d := doc("v1", "版本测试原稿", "版本测试", unit("u1"))
	d.Version = 5
	res := apply(t, e, []search.Op{{Kind: search.OpUpsert, ID: "v1", Version: 5, Doc: &d}})
	if res[0].Stale || res[0].Err != nil {
		t.Fatalf("first upsert: %+v", res[0])
	}
	old := d
	old.Title, old.Version = "版本测试旧稿", 4
	if res := apply(t, e, []search.Op{{Kind: search.OpUpsert, ID: "v1", Version: 4, Doc: &old}}); !res[0].Stale {
		t.Fatalf("lower version not stale: %+v", res[0])
	}
	if res := apply(t, e, []search.Op{{Kind: search.OpUpsert, ID: "v1", Version: 5, Doc: &old}}); !res[0].Stale {
		t.Fatalf("same version not stale: %+v", res[0])
	}
	if got := titleOf(t, e, "v1"); got != "版本测试原稿" {
		t.Fatalf("title after stale writes = %q", got)
	}
	if v, _ := e.Versions(ctx, []string{"v1", "missing"}); v["v1"] != 5 || len(v) != 1 {
		t.Fatalf("Versions = %v", v)
	}
	// Delete, then a late stale upsert must not resurrect the document.
	if res := apply(t, e, []search.Op{{Kind: search.OpDelete, ID: "v1", Version: 6}}); res[0].Stale || res[0].Err != nil {
		t.Fatalf("delete: %+v", res[0])
	}
	if res := apply(t, e, []search.Op{{Kind: search.OpUpsert, ID: "v1", Version: 5, Doc: &d}}); !res[0].Stale {
		t.Fatalf("late upsert after delete not stale: %+v", res[0])
	}
	if got := titleOf(t, e, "v1"); got != "" {
		t.Fatalf("deleted document resurrected: %q", got)
	}
	if v, _ := e.Versions(ctx, []string{"v1"}); len(v) != 0 {
		t.Fatalf("Versions of a deleted document = %v", v)
	}
	// A newer version after the delete brings it back.
	d.Version, d.Title = 7, "版本测试新稿"
	if res := apply(t, e, []search.Op{{Kind: search.OpUpsert, ID: "v1", Version: 7, Doc: &d}}); res[0].Stale || res[0].Err != nil {
		t.Fatalf("re-upsert: %+v", res[0])
	}
	if got := titleOf(t, e, "v1"); got != "版本测试新稿" {
		t.Fatalf("title after re-upsert = %q", got)
	}
	// Within one batch the highest version wins, whatever the order.
	d8, d9 := d, d
	d8.Version, d8.Title = 8, "版本测试八"
	d9.Version, d9.Title = 9, "版本测试九"
	res = apply(t, e, []search.Op{{Kind: search.OpUpsert, ID: "v1", Version: 9, Doc: &d9}, {Kind: search.OpUpsert, ID: "v1", Version: 8, Doc: &d8}})
	if res[0].Stale || !res[1].Stale {
		t.Fatalf("batch results = %+v", res)
	}
	if got := titleOf(t, e, "v1"); got != "版本测试九" {
		t.Fatalf("title after batch = %q", got)
	}
	apply(t, e, []search.Op{{Kind: search.OpDelete, ID: "v1", Version: 10}})
	if res := apply(t, e, []search.Op{{Kind: search.OpDelete, ID: "never-indexed", Version: 1}}); res[0].Err != nil {
		t.Fatalf("delete of a missing id: %+v", res[0])
	}
}

func titleOf(t *testing.T, e search.Engine, id string) string {
	res := mustSearch(t, e, search.Query{Text: "版本测试", Scope: everything})
	for _, h := range res.Hits {
		if h.ID == id {
			return h.Title
		}
	}
	return ""
}

// Label categories of the scope property. Documents also draw names no scope holds (a name that
// is not in any registry) and values next to held ones in byte order, where a filter written as
// term ranges would go wrong first.
var (
	scopeCategories = []string{"人事", "纪检", "经济", "a", "b"}
	docCategories   = []string{"人事", "人事处", "纪检", "经济", "a", "a\x00", "ab", "b", "未登记", "-", "*", ""}
)

// testScopeProperty generates documents and scopes and checks hits, totals and every facet
// count against a brute-force evaluation.
func testScopeProperty(t *testing.T, e search.Engine) {
	iter := 0
	var previous []string
	rapid.Check(t, func(rt *rapid.T) {
		iter++
		// Remove the previous iteration's documents.
		var ops []search.Op
		for _, id := range previous {
			ops = append(ops, search.Op{Kind: search.OpDelete, ID: id, Version: 1 << 40})
		}
		previous = nil
		n := rapid.IntRange(0, 25).Draw(rt, "docs")
		var docs []search.Document
		for i := range n {
			id := fmt.Sprintf("p%d-%d", iter, i)
			body := "普通事项"
			if rapid.Bool().Draw(rt, "parking") {
				body = "小区停车难"
			}
			d := doc(id, "属性测试", body,
				unit(rapid.SampledFrom([]string{"pu1", "pu2", "pu3"}).Draw(rt, "unit")),
				category(rapid.SampledFrom([]string{"经济", "民生", "城建"}).Draw(rt, "category")),
				district(rapid.SampledFrom([]string{"", "A1区", "A2区"}).Draw(rt, "district")),
				state(rapid.SampledFrom(propertyStates).Draw(rt, "state")),
				level(rapid.IntRange(0, 3).Draw(rt, "level")),
				date(day(2023, rapid.IntRange(1, 12).Draw(rt, "month"), rapid.IntRange(1, 28).Draw(rt, "day"))),
				readers(rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"user:a", "user:b", "unit:pu1"}), 0, 2, rapid.ID[string]).Draw(rt, "readers")...),
				labelCats(rapid.SliceOfNDistinct(rapid.SampledFrom(docCategories), 0, 3, rapid.ID[string]).Draw(rt, "label_categories")...),
			)
			docs = append(docs, d)
			previous = append(previous, id)
			ops = append(ops, search.Op{Kind: search.OpUpsert, ID: id, Version: 1, Doc: &d})
		}
		if _, err := e.Apply(context.Background(), ops); err != nil {
			rt.Fatalf("Apply: %v", err)
		}
		scope := search.Scope{
			MaxLevel:   rapid.IntRange(0, 3).Draw(rt, "max_level"),
			AllUnits:   rapid.Bool().Draw(rt, "all_units"),
			Units:      rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"pu1", "pu2", "pu3"}), 0, 3, rapid.ID[string]).Draw(rt, "units"),
			Principals: rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"user:a", "user:b", "unit:pu1"}), 0, 3, rapid.ID[string]).Draw(rt, "principals"),
			Categories: rapid.SliceOfNDistinct(rapid.SampledFrom(scopeCategories), 0, len(scopeCategories), rapid.ID[string]).Draw(rt, "categories"),
		}
		parking := rapid.Bool().Draw(rt, "query_parking")
		q := search.Query{Text: "属性测试", Scope: scope, Size: search.MaxPageSize, Facets: search.AllFacets, FacetSize: 100,
			DateHistogram: rapid.SampledFrom([]string{"", search.IntervalDay, search.IntervalMonth, search.IntervalYear}).Draw(rt, "histogram")}
		if parking {
			q.Text = "属性测试 停车"
		}
		if !parking && rapid.Bool().Draw(rt, "browse") {
			// No text: the scope and filters alone pick the documents (the search page before a
			// word is typed). The unit filter keeps out the other tests' documents.
			q.Text, q.Units = "", []string{"pu1", "pu2", "pu3"}
		}
		if rapid.Bool().Draw(rt, "filter_category") {
			q.Categories = []string{rapid.SampledFrom([]string{"经济", "民生", "城建"}).Draw(rt, "category_filter")}
		}
		if rapid.Bool().Draw(rt, "filter_state") {
			q.States = rapid.SliceOfNDistinct(rapid.SampledFrom(propertyStates[1:]), 1, 2, rapid.ID[string]).Draw(rt, "state_filter")
		}
		checkAgainstBruteForce(rt, e, docs, q, func(d search.Document) bool {
			return !parking || strings.Contains(d.Body, "停车")
		})
	})
}

// propertyStates are the workflow states the property test draws from ("" for a document
// indexed without a state: it holds no state facet value).
var propertyStates = []string{"", "draft", "submitted", "adopted", "withdrawn"}

// tb is what checkAgainstBruteForce needs from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

func visible(d search.Document, s search.Scope) bool {
	if d.Classification > s.MaxLevel {
		return false
	}
	for _, c := range d.LabelCategories {
		if !slices.Contains(s.Categories, c) {
			return false
		}
	}
	if !s.AllUnits && !slices.Contains(s.Units, d.Unit) {
		return false
	}
	if len(d.Readers) == 0 {
		return true
	}
	for _, p := range s.Principals {
		if slices.Contains(d.Readers, p) {
			return true
		}
	}
	return false
}

func passesFilters(d search.Document, q search.Query) bool {
	in := func(vals []string, v string) bool { return len(vals) == 0 || slices.Contains(vals, v) }
	if !in(q.Units, d.Unit) || !in(q.Categories, d.Category) || !in(q.Districts, d.District) || !in(q.Months, search.Month(d.Date)) ||
		!in(q.States, d.State) {
		return false
	}
	if len(q.Classifications) > 0 && !slices.Contains(q.Classifications, d.Classification) {
		return false
	}
	if !q.From.IsZero() && d.Date.Before(q.From) || !q.To.IsZero() && d.Date.After(q.To) {
		return false
	}
	return true
}

var levelNames = []string{"public", "internal", "secret", "confidential"}

func checkAgainstBruteForce(t tb, e search.Engine, docs []search.Document, q search.Query, textMatch func(search.Document) bool) {
	t.Helper()
	res, err := e.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	var want []string
	hist := map[string]int{}
	facets := map[string]map[string]int{}
	for _, name := range q.Facets {
		facets[name] = map[string]int{}
	}
	for _, d := range docs {
		if !visible(d, q.Scope) || !passesFilters(d, q) || !textMatch(d) {
			continue
		}
		want = append(want, d.ID)
		if q.DateHistogram != "" {
			hist[search.HistogramKey(d.Date, q.DateHistogram)]++
		}
		vals := map[string]string{
			search.FacetUnit: d.Unit, search.FacetCategory: d.Category, search.FacetDistrict: d.District, search.FacetState: d.State,
			search.FacetMonth: search.Month(d.Date), search.FacetClassification: levelNames[d.Classification],
		}
		for name, m := range facets {
			if v := vals[name]; v != "" {
				m[v]++
			}
		}
	}
	if res.Total != len(want) {
		t.Fatalf("Search(%+v).Total = %d, want %d (%v)", q, res.Total, len(want), want)
	}
	if got := ids(res); !sameSet(got, want) {
		t.Fatalf("Search(%+v) = %v, want %v", q, got, want)
	}
	for name, m := range facets {
		got := map[string]int{}
		for _, fv := range res.Facets[name] {
			got[fv.Value] = fv.Count
		}
		if !maps.Equal(got, m) {
			t.Fatalf("facet %s = %v, want %v (query %+v)", name, got, m, q)
		}
	}
	if q.DateHistogram != "" {
		checkHistogram(t, res.Histogram, hist, q)
	} else if res.Histogram != nil {
		t.Fatalf("Histogram = %v without DateHistogram", res.Histogram)
	}
}

func upserts(docs []search.Document) []search.Op {
	ops := make([]search.Op, len(docs))
	for i := range docs {
		ops[i] = search.Op{Kind: search.OpUpsert, ID: docs[i].ID, Version: docs[i].Version, Doc: &docs[i]}
	}
	return ops
}

func apply(t *testing.T, e search.Engine, ops []search.Op) []search.OpResult {
	t.Helper()
	res, err := e.Apply(context.Background(), ops)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(res) != len(ops) {
		t.Fatalf("Apply returned %d results for %d ops", len(res), len(ops))
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("Apply %s: %v", r.ID, r.Err)
		}
	}
	return res
}

func mustSearch(t *testing.T, e search.Engine, q search.Query) search.Result {
	t.Helper()
	res, err := e.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	for _, h := range res.Hits {
		if !strings.Contains(h.TitleHTML, "<mark>") && h.TitleHTML != html.EscapeString(h.Title) {
			t.Fatalf("TitleHTML %q is not the escaped title %q", h.TitleHTML, h.Title)
		}
	}
	return res
}

// allIDs returns every id matching q (all pages).
func allIDs(t *testing.T, e search.Engine, q search.Query) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	q.Size = search.MaxPageSize
	for q.Page = 1; ; q.Page++ {
		res := mustSearch(t, e, q)
		for _, h := range res.Hits {
			out[h.ID] = true
		}
		if len(res.Hits) < q.Size {
			return out
		}
	}
}

func ids(res search.Result) []string {
	out := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		out[i] = h.ID
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func fixtureBody(docs []search.Document, id string) string {
	for _, d := range docs {
		if d.ID == id {
			return d.Body
		}
	}
	return ""
}

// testLabelCategories checks the category rule on hand-made cases: a document is visible only
// when the scope holds every one of its categories, whatever names exist elsewhere, and its
// categories come back on the hit.
func testLabelCategories(t *testing.T, e search.Engine) {
	ctx := context.Background()
	docs := []search.Document{
		doc("lc1", "标识测试", "无类别"),
		doc("lc2", "标识测试", "人事", labelCats("人事")),
		doc("lc3", "标识测试", "人事纪检", labelCats("人事", "纪检")),
		doc("lc4", "标识测试", "未登记类别", labelCats("未登记")),
		doc("lc5", "标识测试", "人事处", labelCats("人事处")),
		doc("lc6", "标识测试", "前缀", labelCats("人")),
		doc("lc7", "标识测试", "看似标记", labelCats("-")),
		doc("lc8", "标识测试", "空名", labelCats("")),
	}
	apply(t, e, upserts(docs))
	t.Cleanup(func() {
		var ops []search.Op
		for _, d := range docs {
			ops = append(ops, search.Op{Kind: search.OpDelete, ID: d.ID, Version: 2})
		}
		apply(t, e, ops)
	})
	base := search.Scope{MaxLevel: 3, AllUnits: true}
	tests := []struct {
		cats []string
		want []string
	}{
		{nil, []string{"lc1"}},
		{[]string{}, []string{"lc1"}},
		{[]string{"人事"}, []string{"lc1", "lc2"}},
		{[]string{"纪检"}, []string{"lc1"}},
		{[]string{"人事", "纪检"}, []string{"lc1", "lc2", "lc3"}},
		{[]string{"人事", "纪检", "经济", "保密", "外事"}, []string{"lc1", "lc2", "lc3"}}, // every registered name: still not lc4
		{[]string{"人事处"}, []string{"lc1", "lc5"}},
		{[]string{"人"}, []string{"lc1", "lc6"}},
		{[]string{"-"}, []string{"lc1", "lc7"}},
		{[]string{"未登记"}, []string{"lc1", "lc4"}},
	}
	for _, tt := range tests {
		s := base
		s.Categories = tt.cats
		res := mustSearch(t, e, search.Query{Text: "标识测试", Scope: s, Size: search.MaxPageSize, Facets: search.AllFacets, FacetSize: 100})
		if got := ids(res); !sameSet(got, tt.want) || res.Total != len(tt.want) {
			t.Errorf("categories %q: hits %v (total %d), want %v", tt.cats, got, res.Total, tt.want)
		}
		n := 0
		for _, fv := range res.Facets[search.FacetUnit] {
			n += fv.Count
		}
		if n != len(tt.want) {
			t.Errorf("categories %q: unit facet counts %d documents, want %d", tt.cats, n, len(tt.want))
		}
	}
	res := mustSearch(t, e, search.Query{Text: "人事纪检", Scope: search.Scope{MaxLevel: 3, AllUnits: true, Categories: []string{"纪检", "人事"}}})
	if len(res.Hits) != 1 || !slices.Equal(res.Hits[0].LabelCategories, []string{"人事", "纪检"}) {
		t.Errorf("hit label categories = %+v, want [人事 纪检]", res.Hits)
	}
	res = mustSearch(t, e, search.Query{Text: "无类别", Scope: base})
	if len(res.Hits) != 1 || len(res.Hits[0].LabelCategories) != 0 {
		t.Errorf("hit without label categories = %+v", res.Hits)
	}
	_ = ctx
}

package savedsearch_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"infowork/internal/testenv"
	"infowork/savedsearch"
	"infowork/search"
	"infowork/search/embedded"
)

// ParseValues is the one parser of search URL parameters: it keeps every filter of the search
// page (state, archived and endorsed included), saves them in canonical form and rejects bad
// values with a zh-CN message naming the field.
func TestParseValuesKeepsEveryFilter(t *testing.T) {
	v, _ := url.ParseQuery("q=物业&state=in_review,adopted&archived=archived&endorsed=open&endorsed=closed&category=城乡建设" +
		"&classification=internal&district=芙蓉区&month=2026-03&from=2026-03-01&to=2026-03&sort=date&page=2&size=5&more=unit")
	p, err := savedsearch.ParseValues(v)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	loc := search.Location
	want := search.Query{Text: "物业", Categories: []string{"城乡建设"}, Districts: []string{"芙蓉区"}, Months: []string{"2026-03"},
		Classifications: []int{1}, States: []string{"in_review", "adopted"}, Archived: []string{"archived"}, Endorsed: []string{"open", "closed"},
		From: time.Date(2026, 3, 1, 0, 0, 0, 0, loc), To: time.Date(2026, 4, 1, 0, 0, 0, 0, loc).Add(-time.Nanosecond), Sort: search.SortDate}
	if fmt.Sprintf("%+v", q) != fmt.Sprintf("%+v", want) {
		t.Fatalf("query\n%+v\nwant\n%+v", q, want)
	}
	enc := p.Encode()
	for _, kv := range []string{"state=in_review&state=adopted", "archived=archived", "endorsed=open&endorsed=closed", "to=2026-03"} {
		if !strings.Contains(enc, kv) {
			t.Errorf("canonical form %q lacks %q", enc, kv)
		}
	}
	if strings.Contains(enc, "page=") || strings.Contains(enc, "more=") {
		t.Errorf("canonical form %q keeps page parameters", enc)
	}
	again, err := savedsearch.ParseParams(enc)
	if err != nil || fmt.Sprintf("%+v", again.Query()) != fmt.Sprintf("%+v", q) {
		t.Fatalf("round trip %q: %+v %v", enc, again, err)
	}
	if d := p.Describe(); !strings.Contains(d, "办理状态 编辑审核、采用") || !strings.Contains(d, "已收入归档刊物") || !strings.Contains(d, "领导批示 批示督办中、批示已办结") {
		t.Errorf("Describe: %s", d)
	}
	for bad, msg := range map[string]string{
		"state=Bad!": "state 应为流程状态代码", "archived=yes": "archived 只能是 archived", "endorsed=maybe": "endorsed 只能是 open 或 closed",
		"from=2026-03-02&to=2026-03-01": "结束日期早于开始日期", "to=tomorrow": "格式应为 YYYY-MM-DD",
	} {
		var ve *savedsearch.ValidationError
		if _, err := savedsearch.ParseParams(bad); !errors.As(err, &ve) || !strings.Contains(ve.Message, msg) {
			t.Errorf("ParseParams(%q) = %v, want a validation error saying %q", bad, err, msg)
		}
	}
}

// A subscription's Go matching decides exactly as the engine does for the same URL: for a
// grid of documents differing in state, periodical flags, category and date, the documents the
// matcher accepts are the hits the embedded engine returns for the search page's query.
func TestMatcherAgreesWithEngineOnEveryFilter(t *testing.T) {
	ctx := context.Background()
	eng, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: analyzer(t), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var docs []search.Document
	n := 0
	for _, state := range []string{"submitted", "in_review", "adopted"} {
		for _, archived := range []bool{false, true} {
			for _, endorsement := range []string{"", "open", "closed"} {
				for _, cat := range []string{"城乡建设", "社会治理"} {
					for _, day := range []time.Time{time.Date(2026, 3, 10, 9, 0, 0, 0, search.Location), time.Date(2026, 5, 10, 9, 0, 0, 0, search.Location)} {
						n++
						title := "小区物业管理情况"
						if n%5 == 0 {
							title = "道路积水情况" // the text decides too
						}
						docs = append(docs, search.Document{ID: strconv.Itoa(n), Version: 1, Kind: "submission", Title: fmt.Sprintf("%s第%d号", title, n),
							Body: title + "，请关注。", Unit: "Z1", UnitName: "东湖街道", Category: cat, District: "芙蓉区", Urgency: "normal",
							State: state, Date: day, Archived: archived, Endorsement: endorsement})
					}
				}
			}
		}
	}
	ops := make([]search.Op, len(docs))
	for i := range docs {
		ops[i] = search.Op{Kind: search.OpUpsert, ID: docs[i].ID, Version: 1, Doc: &docs[i]}
	}
	if _, err := eng.Apply(ctx, ops); err != nil {
		t.Fatal(err)
	}
	m := savedsearch.NewMatcher(analyzer(t))
	all := search.Scope{MaxLevel: 3, AllUnits: true}
	for _, tt := range []struct {
		raw  string
		want int // -1: only compare
	}{
		{"q=物业&state=in_review&archived=archived&endorsed=open&category=城乡建设&from=2026-03-01&to=2026-03-31", 1},
		{"state=in_review&archived=archived&endorsed=open&category=城乡建设&from=2026-03-01&to=2026-03-31", 1},
		{"q=物业&state=in_review,adopted&endorsed=open,closed", -1},
		{"state=submitted&archived=archived", -1},
		{"q=物业&endorsed=closed&month=2026-05", -1},
		{"q=物业&state=filed", 0},
	} {
		p, err := savedsearch.ParseParams(tt.raw)
		if err != nil {
			t.Fatal(err)
		}
		q := p.Query()
		q.Scope, q.Size, q.Page = all, search.MaxPageSize, 1
		res, err := eng.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var engine, matcher []string
		for _, h := range res.Hits {
			engine = append(engine, h.ID)
		}
		for _, d := range docs {
			ok, err := m.Match(p, d)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				matcher = append(matcher, d.ID)
			}
		}
		slices.Sort(engine)
		slices.Sort(matcher)
		if !slices.Equal(engine, matcher) || res.Total != len(engine) {
			t.Errorf("%s: engine %v (total %d), matcher %v", tt.raw, engine, res.Total, matcher)
		}
		if tt.want >= 0 && len(matcher) != tt.want || tt.want < 0 && len(matcher) == 0 {
			t.Errorf("%s: %d matches, want %d", tt.raw, len(matcher), tt.want)
		}
	}
}

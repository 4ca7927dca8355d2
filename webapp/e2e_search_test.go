package webapp_test

import (
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"infowork/search"
)

var markTags = strings.NewReplacer("<mark>", "", "</mark>", "")

func TestSearchParams(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	for _, u := range []string{"rep_a", "rep_b", "rep_c", "res_secret", "res_public"} {
		s.token(t, u)
	}
	// Created one after another, so report times increase with the index.
	specs := []struct {
		user, cat, level, body string
	}{
		{"rep_a", "C11", "public", "群众反映小区停车位紧张，晚间车辆乱停现象突出。"},
		{"rep_a", "C11", "internal", "物业服务企业退出后，小区无人管理。"},
		{"rep_a", "C21", "public", "街道开展矛盾纠纷排查，共化解纠纷二十余起。"},
		{"rep_a", "C2", "secret", "重点人员稳控情况。"},
		{"rep_b", "C1", "public", "今日ＰＭ２．５浓度偏高，工地扬尘是主因。"},
		{"rep_b", "C11", "public", "老旧小区加装电梯意愿调查。"},
		{"rep_b", "C21", "internal", "网格员队伍建设情况。"},
		{"rep_c", "C1", "public", "全市保障性住房建设进度。"},
		{"rep_c", "C1", "internal", "建筑工地安全检查发现隐患四十处。"},
		{"rep_c", "C2", "public", "物业纠纷调解机制运行情况。"},
		{"rep_c", "C21", "public", "社区停车收费标准听证会召开。"},
		{"rep_b", "C1", "public", "背街小巷改造完成过半。"},
	}
	var recs []created
	for i, sp := range specs {
		w := randomWord()
		c, err := s.createAPI(sp.user, created{Word: w, Title: "情况反映" + strconv.Itoa(i+1) + " " + w, Body: sp.body, Category: sp.cat, Classification: sp.level})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, c)
	}
	s.waitIndexed(t, len(recs))
	count := func(keep func(i int, c created) bool) int {
		n := 0
		for i, c := range recs {
			if keep(i, c) {
				n++
			}
		}
		return n
	}
	ids := func(res searchResult) []string {
		var out []string
		for _, h := range res.Hits {
			out = append(out, h.ID)
		}
		return out
	}

	t.Run("sort=date is newest first", func(t *testing.T) {
		res := s.search(t, "res_secret", url.Values{"sort": {"date"}, "size": {"100"}})
		var want []string
		for i := len(recs) - 1; i >= 0; i-- {
			want = append(want, strconv.FormatInt(recs[i].ID, 10))
		}
		if got := ids(res); !slices.Equal(got, want) {
			t.Errorf("sort=date ids %v, want %v", got, want)
		}
		for i := 1; i < len(res.Hits); i++ {
			if res.Hits[i].Date > res.Hits[i-1].Date {
				t.Errorf("hit %d dated %s after hit %d dated %s", i, res.Hits[i].Date, i-1, res.Hits[i-1].Date)
			}
		}
	})

	t.Run("paging has no overlaps and no gaps", func(t *testing.T) {
		for _, sort := range []string{"relevance", "date"} {
			seen := map[string]int{}
			var order []string
			for page := 1; page <= 3; page++ {
				res := s.search(t, "res_secret", url.Values{"sort": {sort}, "size": {"5"}, "page": {strconv.Itoa(page)}})
				must(t, res.Total == len(recs) && res.Page == page && res.Size == 5, "sort=%s page %d: total %d page %d size %d", sort, page, res.Total, res.Page, res.Size)
				wantLen := min(5, len(recs)-(page-1)*5)
				must(t, len(res.Hits) == wantLen, "sort=%s page %d: %d hits, want %d", sort, page, len(res.Hits), wantLen)
				for _, id := range ids(res) {
					if p, dup := seen[id]; dup {
						t.Errorf("sort=%s: record %s on page %d and again on page %d", sort, id, p, page)
					}
					seen[id] = page
					order = append(order, id)
				}
			}
			must(t, len(seen) == len(recs), "sort=%s: pages cover %d of %d records", sort, len(seen), len(recs))
			all := s.search(t, "res_secret", url.Values{"sort": {sort}, "size": {"100"}})
			must(t, slices.Equal(order, ids(all)), "sort=%s: pages concatenated %v differ from one big page %v", sort, order, ids(all))
		}
		res := s.search(t, "res_secret", url.Values{"size": {"5"}, "page": {"4"}})
		must(t, res.Total == len(recs) && len(res.Hits) == 0, "page past the end: total %d, %d hits", res.Total, len(res.Hits))
	})

	t.Run("bad parameters answer 400 with a message", func(t *testing.T) {
		tok := s.token(t, "res_secret")
		for _, q := range []string{
			"page=0", "page=-1", "page=abc", "size=0", "size=1000", "sort=x", "sort=DATE",
			"from=bad-date", "to=2025-02-30", "from=2025-03-01&to=2025-02-01",
			"q=" + url.QueryEscape(`"未闭合的引号`), "q=" + url.QueryEscape("(停车"), "q=" + url.QueryEscape("停车)"),
			"q=" + url.QueryEscape("-停车"), "q=" + url.QueryEscape("停车 OR"), "q=" + strings.Repeat("字", 501),
			"month=2025-13", "classification=top-secret", "facets=unit,nope", "page=200&size=100",
		} {
			r := s.api(t, "GET", "/api/v1/search?"+q, tok, nil)
			e := wantAPIError(t, r, http.StatusBadRequest, "bad_query")
			if strings.Contains(e.Error.Message, "bad query") {
				t.Errorf("%s: message %q leaks the internal error", q, e.Error.Message)
			}
		}
	})

	t.Run("filters narrow totals", func(t *testing.T) {
		for _, tc := range []struct {
			params url.Values
			keep   func(i int, c created) bool
		}{
			{url.Values{"unit": {"Z101"}}, func(_ int, c created) bool { return c.Unit == "Z101" }},
			{url.Values{"unit": {"Z101", "B101"}}, func(_ int, c created) bool { return c.Unit == "Z101" || c.Unit == "B101" }},
			{url.Values{"unit": {"Z101,B101"}}, func(_ int, c created) bool { return c.Unit == "Z101" || c.Unit == "B101" }},
			{url.Values{"category": {"城乡建设"}}, func(_ int, c created) bool { return categoryTop[c.Category] == "城乡建设" }},
			{url.Values{"classification": {"internal"}}, func(_ int, c created) bool { return c.Classification == "internal" }},
			{url.Values{"classification": {"内部"}}, func(_ int, c created) bool { return c.Classification == "internal" }},
			{url.Values{"district": {"岳麓区"}}, func(_ int, c created) bool { return c.Unit == "Z102" }},
			{url.Values{"unit": {"B101"}, "category": {"城乡建设"}, "classification": {"public"}}, func(_ int, c created) bool {
				return c.Unit == "B101" && categoryTop[c.Category] == "城乡建设" && c.Classification == "public"
			}},
			{url.Values{"q": {"停车"}}, func(_ int, c created) bool { return strings.Contains(c.Body, "停车") }},
			{url.Values{"q": {"停车 -收费"}}, func(_ int, c created) bool {
				return strings.Contains(c.Body, "停车") && !strings.Contains(c.Body, "收费")
			}},
			{url.Values{"q": {"电梯 OR 扬尘"}}, func(_ int, c created) bool {
				return strings.Contains(c.Body, "电梯") || strings.Contains(c.Body, "扬尘")
			}},
			{url.Values{"q": {"标题:" + recs[3].Word}}, func(i int, _ created) bool { return i == 3 }},
			{url.Values{"q": {"title:停车"}}, func(int, created) bool { return false }}, // 停车 is in bodies only
			{url.Values{"from": {time.Now().In(search.Location).Format("2006-01-02")}, "to": {time.Now().In(search.Location).Format("2006-01-02")}}, func(int, created) bool { return true }},
			{url.Values{"from": {time.Now().In(search.Location).AddDate(0, 0, 1).Format("2006-01-02")}}, func(int, created) bool { return false }},
			{url.Values{"month": {search.Month(time.Now())}}, func(int, created) bool { return true }},
		} {
			want := count(tc.keep)
			res := s.search(t, "res_secret", tc.params)
			if res.Total != want {
				t.Errorf("%v: total %d, want %d", tc.params, res.Total, want)
			}
		}
		// The public researcher's filtered totals stay inside its clearance.
		res := s.search(t, "res_public", url.Values{"unit": {"Z101"}})
		must(t, res.Total == count(func(_ int, c created) bool { return c.Unit == "Z101" && c.Classification == "public" }),
			"public researcher unit=Z101: total %d", res.Total)
	})

	t.Run("highlights mark the original text", func(t *testing.T) {
		res := s.search(t, "res_secret", url.Values{"q": {"停车"}, "sort": {"date"}})
		if len(res.Hits) == 0 {
			t.Fatal("q=停车: no hits")
		}
		for _, h := range res.Hits {
			must(t, strings.Contains(h.Snippet, "<mark>停车</mark>"), "q=停车: snippet %q lacks <mark>停车</mark>", h.Snippet)
		}
		body := recs[0].Body
		plain := html.UnescapeString(markTags.Replace(res.Hits[len(res.Hits)-1].Snippet))
		must(t, strings.Contains(body, strings.Trim(plain, "…")), "snippet text %q is not the original text %q", plain, body)

		// Full-width characters are normalized for matching but shown as typed.
		res = s.search(t, "res_secret", url.Values{"q": {"pm2.5"}})
		if res.Total != 1 {
			t.Fatalf("q=pm2.5: total %d, want the one record written with full-width ＰＭ２．５", res.Total)
		}
		must(t, strings.Contains(res.Hits[0].Snippet, "<mark>ＰＭ２．５</mark>"), "q=pm2.5: snippet %q", res.Hits[0].Snippet)

		// Typed HTML in a record never comes back as markup.
		w := randomWord()
		c, err := s.createAPI("rep_a", created{Word: w, Title: w + " <b>加粗</b>", Body: "<script>alert(1)</script> " + w, Classification: "public"})
		if err != nil {
			t.Fatal(err)
		}
		s.waitIndexed(t, len(recs)+1)
		res = s.search(t, "res_secret", url.Values{"q": {w}})
		if res.Total != 1 {
			t.Fatalf("q=%s: total %d", w, res.Total)
		}
		h := res.Hits[0]
		must(t, h.ID == strconv.FormatInt(c.ID, 10), "q=%s: hit %s", w, h.ID)
		must(t, !strings.Contains(h.TitleHTML, "<b>") && strings.Contains(h.TitleHTML, "&lt;b&gt;"), "title_html %q is not escaped", h.TitleHTML)
		must(t, !strings.Contains(h.Snippet, "<script>"), "snippet %q is not escaped", h.Snippet)
		must(t, strings.Contains(h.TitleHTML, "<mark>"+w+"</mark>"), "title_html %q lacks the mark", h.TitleHTML)
	})
}

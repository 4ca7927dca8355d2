package webapp_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"infowork/search"
)

// TestSearchFacetsAndHistogram covers the searchable unit facet, the expanded facet, the date
// histogram on the page (bars that link to the filtered search) and in the API, and synonyms
// through the whole stack.
func TestSearchFacetsAndHistogram(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	w := randomWord()
	plan := []struct{ user, body string }{
		{"rep_a", "市发展改革委答复停车收费问题，关键词 %s。"},
		{"rep_a", "发改委召开座谈会，关键词 %s。"},
		{"rep_b", "小区加装电梯，关键词 %s。"},
		{"rep_c", "住房和城乡建设局通报，关键词 %s。"},
	}
	for i, p := range plan {
		s.token(t, p.user)
		if _, err := s.createAPI(p.user, created{Title: fmt.Sprintf("分面测试%d", i+1), Body: fmt.Sprintf(p.body, w), Category: "C11", Classification: "public"}); err != nil {
			t.Fatal(err)
		}
	}
	s.waitIndexed(t, len(plan))
	today := search.HistogramKey(time.Now(), search.IntervalDay)

	// API: histogram per interval, only when asked for; facet_size bounds.
	res := s.search(t, "res_secret", url.Values{"q": {w}})
	tok := s.token(t, "res_secret")
	var plain map[string]any
	s.api(t, "GET", "/api/v1/search?q="+w, tok, nil).Decode(t, &plain)
	_, has := plain["histogram"]
	must(t, res.Total == 4 && !has, "without interval: total %d, histogram present %v", res.Total, has)
	for interval, key := range map[string]string{"day": today, "month": today[:7], "year": today[:4]} {
		var out struct {
			Interval  string `json:"interval"`
			Histogram []struct {
				Value string `json:"value"`
				Count int    `json:"count"`
			} `json:"histogram"`
		}
		s.api(t, "GET", "/api/v1/search?q="+w+"&interval="+interval, tok, nil).Decode(t, &out)
		must(t, out.Interval == interval && len(out.Histogram) == 1 && out.Histogram[0].Value == key && out.Histogram[0].Count == 4,
			"interval=%s: %+v, want one bucket %s with 4", interval, out, key)
	}
	for _, q := range []string{"interval=week", "facet_size=0", "facet_size=501"} {
		wantAPIError(t, s.api(t, "GET", "/api/v1/search?q="+w+"&"+q, tok, nil), http.StatusBadRequest, "bad_query")
	}
	var wide searchResult
	s.api(t, "GET", "/api/v1/search?q="+w+"&facet_size=500", tok, nil).Decode(t, &wide)
	must(t, len(wide.Facets["unit"]) == 3, "facet_size=500: %d units, want 3", len(wide.Facets["unit"]))

	// Synonyms: 发改委 finds 发展改革委 and marks it.
	syn := s.search(t, "res_secret", url.Values{"q": {w + " 发改委"}})
	must(t, syn.Total == 2, "发改委 finds %d records, want 2", syn.Total)
	marked := false
	for _, h := range syn.Hits {
		marked = marked || strings.Contains(h.Snippet, "<mark>发展改革委</mark>")
	}
	must(t, marked, "no snippet marks 发展改革委: %+v", syn.Hits)

	b := s.browser(t)
	b.login("res_secret")
	page := b.get("/search?q=" + w)
	wantHTML(t, page, http.StatusOK, `class="histogram"`, `name="unit_q"`, "按日", "<strong>按月</strong>")
	body := string(page.Body)
	// The bar of this month links to the month as a day range and to the day histogram.
	month, err := time.ParseInLocation("2006-01", today[:7], search.Location)
	if err != nil {
		t.Fatal(err)
	}
	from, to := month.Format("2006-01-02"), month.AddDate(0, 1, -1).Format("2006-01-02")
	barHref := "from=" + from + "&amp;interval=day&amp;q=" + w + "&amp;to=" + to
	must(t, strings.Contains(body, barHref), "no histogram bar linking to %s in %s", barHref, body)
	bar := b.get("/search?q=" + w + "&from=" + from + "&to=" + to + "&interval=day")
	wantHTML(t, bar, http.StatusOK, "<strong>按日</strong>", today)
	must(t, pageTotal(t, bar) == 4, "the bar's search shows %d results, want 4", pageTotal(t, bar))

	// The unit filter keeps the other params and lists only matching units.
	filtered := b.get("/search?q=" + w + "&unit_q=" + url.QueryEscape("东湖"))
	fb := string(filtered.Body)
	if i, j := strings.Index(fb, `aria-label="分面筛选"`), strings.Index(fb, "</aside>"); i >= 0 && j > i {
		fb = fb[i:j] // the sidebar; hits still name every unit
	}
	must(t, filtered.Status == http.StatusOK && strings.Contains(fb, unitByCode["Z101"].Name) && !strings.Contains(fb, unitByCode["Z102"].Name) &&
		!strings.Contains(fb, unitByCode["B101"].Name), "unit_q=东湖 lists other units: %s", fb)
	must(t, strings.Contains(fb, `<input type="hidden" name="q" value="`+w+`">`), "the unit filter form drops q")
	must(t, pageTotal(t, filtered) == 4, "unit_q filters the results, not only the facet: %d", pageTotal(t, filtered))
	wantHTML(t, b.get("/search?q="+w+"&unit_q=nomatch"), http.StatusOK, "没有匹配的单位")

	// An expanded facet has a link to fold it; a bad facet name is a 400 page.
	wantHTML(t, b.get("/search?q="+w+"&more=unit"), http.StatusOK, "收起")
	wantHTML(t, b.get("/search?q="+w+"&more=nope"), http.StatusBadRequest, "more 只能是")
	wantHTML(t, b.get("/search?q="+w+"&interval=week"), http.StatusBadRequest, "interval 只能是")
}

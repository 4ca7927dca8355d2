package webapp_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSearchStateFacet (issues 5, 7): the 办理状态 facet and its filter through the API and the
// search page, with zh-CN state names, counted within each reader's scope.
func TestSearchStateFacet(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	w := randomWord()
	ed := s.token(t, "editor1")
	var ids []int64
	for i, p := range []struct{ user, level string }{{"rep_a", "public"}, {"rep_a", "public"}, {"rep_b", "public"}, {"rep_b", "secret"}} {
		s.token(t, p.user)
		c, err := s.createAPI(p.user, created{Title: fmt.Sprintf("办理状态测试%d", i+1), Body: "办理状态分面，关键词 " + w + "。", Category: "C11", Classification: p.level})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	// The editor starts reviewing the first and files the third; the others stay submitted.
	for _, tr := range []struct {
		id   int64
		code string
	}{{ids[0], "review"}, {ids[2], "file"}} {
		r := s.api(t, "POST", "/api/v1/submissions/"+strconv.FormatInt(tr.id, 10)+"/transitions", ed, map[string]any{"transition": tr.code, "version": 1})
		must(t, r.Status == http.StatusOK, "%s %d: %s", tr.code, tr.id, r)
	}
	facet := func(res searchResult) map[string]string {
		out := map[string]string{}
		for _, v := range res.Facets["state"] {
			out[v.Value] = fmt.Sprintf("%d %s", v.Count, v.Label)
		}
		return out
	}
	want := map[string]string{"submitted": "2 已报送", "in_review": "1 编辑审核", "filed": "1 存档备查"}
	waitFor(t, 10*time.Second, "the index carries the new states", func() (bool, string) {
		got := facet(s.search(t, "res_secret", url.Values{"q": {w}}))
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprint(got)
	})
	// The public researcher does not see the secret record, nor does its state count.
	pub := s.search(t, "res_public", url.Values{"q": {w}})
	must(t, pub.Total == 3, "res_public total %d, want 3", pub.Total)
	if got, w := facet(pub), (map[string]string{"submitted": "1 已报送", "in_review": "1 编辑审核", "filed": "1 存档备查"}); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("res_public state facet %v, want %v", got, w)
	}

	// The filter: one state, OR within the facet, AND with other filters, the facet's own
	// counts under the other filters.
	for _, tt := range []struct {
		user   string
		params url.Values
		want   []int64
	}{
		{"res_secret", url.Values{"state": {"submitted"}}, []int64{ids[1], ids[3]}},
		{"res_public", url.Values{"state": {"submitted"}}, []int64{ids[1]}},
		{"res_secret", url.Values{"state": {"in_review,filed"}}, []int64{ids[0], ids[2]}},
		{"res_secret", url.Values{"state": {"in_review", "submitted"}, "unit": {userUnit["rep_a"]}}, []int64{ids[0], ids[1]}},
		{"res_secret", url.Values{"state": {"adopted"}}, nil},
	} {
		tt.params.Set("q", w)
		res := s.search(t, tt.user, tt.params)
		var got []int64
		for _, h := range res.Hits {
			id, _ := strconv.ParseInt(h.ID, 10, 64)
			got = append(got, id)
		}
		must(t, res.Total == len(tt.want) && sameIDs(got, tt.want), "%s %v: %v (total %d), want %v", tt.user, tt.params, got, res.Total, tt.want)
	}
	tok := s.token(t, "res_secret")
	for _, bad := range []string{"state=Bad!", "state=" + strings.Repeat("a", 65)} {
		wantAPIError(t, s.api(t, "GET", "/api/v1/search?q="+w+"&"+bad, tok, nil), http.StatusBadRequest, "bad_query")
	}

	// The page: a 办理状态 facet with zh-CN names linking to the filter; the filtered page shows
	// the chip and only that state's records.
	b := s.browser(t)
	b.login("res_secret")
	page := b.get("/search?q=" + w)
	body := string(page.Body)
	if i, j := strings.Index(body, `aria-label="分面筛选"`), strings.Index(body, "</aside>"); i >= 0 && j > i {
		body = body[i:j]
	}
	for _, s := range []string{"<h2>办理状态</h2>", `<span class="fl">已报送</span><span class="count">2</span>`,
		`<span class="fl">编辑审核</span><span class="count">1</span>`, `<span class="fl">存档备查</span><span class="count">1</span>`,
		"q=" + w + "&amp;state=in_review"} {
		must(t, page.Status == http.StatusOK && strings.Contains(body, s), "search page facets lack %q: %s", s, body)
	}
	filtered := b.get("/search?q=" + w + "&state=in_review")
	wantHTML(t, filtered, http.StatusOK, "办理状态：编辑审核", `<input type="hidden" name="state" value="in_review">`, "办理状态测试1",
		`<span class="hit-state">编辑审核</span>`)
	must(t, pageTotal(t, filtered) == 1, "state=in_review page shows %d results, want 1", pageTotal(t, filtered))
	wantHTML(t, b.get("/search?q="+w+"&state=%E5%B7%B2"), http.StatusBadRequest, "state 应为流程状态代码")
}

func sameIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[int64]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

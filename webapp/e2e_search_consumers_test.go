package webapp_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"infowork/label"
	"infowork/periodical"
	"infowork/savedsearch"
	"infowork/search"
)

// TestSearchURLConsumersHonourEveryFilter: every place that runs a search URL — the export of
// all results, periodical issue seeding (from a search link and from a saved search) and the
// dashboard's saved-search panels — gives exactly what the search page lists for the same URL,
// with state, archived, endorsed, category and date filters together (one parser,
// savedsearch.ParseValues, behind all of them).
func TestSearchURLConsumersHonourEveryFilter(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	w := randomWord()
	s.token(t, "rep_a")
	ed := s.token(t, "editor1")
	type rec struct {
		title, category string
		review          bool // moved to 编辑审核
		archived        bool // an item of the archived issue
		endorsed        bool // an open endorsement on it
		old             bool // reported long before the date filter
	}
	recs := []rec{
		{"全条件命中一", "C11", true, true, true, false},
		{"全条件命中二", "C11", true, true, true, false},
		{"类别不符", "C21", true, true, true, false},
		{"状态不符", "C11", false, true, true, false},
		{"未获批示", "C11", true, true, false, false},
		{"未收入归档刊物", "C11", true, false, true, false},
		{"日期不符", "C11", true, true, true, true},
	}
	ids := make([]int64, len(recs))
	for i, r := range recs {
		c, err := s.createAPI("rep_a", created{Title: "筛选一致性" + r.title, Body: "各处检索结果一致，关键词 " + w + "。", Category: r.category, Classification: "public"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID
		if r.review {
			tr := s.api(t, "POST", "/api/v1/submissions/"+strconv.FormatInt(c.ID, 10)+"/transitions", ed, map[string]any{"transition": "review", "version": 1})
			must(t, tr.Status == http.StatusOK, "review %d: %s", c.ID, tr)
		}
	}
	// An issue holding the records flagged archived, archived, and a signed one holding the
	// others (the sign, distribute and archive steps are other tests' business: set directly);
	// then endorsements on the items flagged endorsed.
	editor := subjectOf(t, s, "editor1")
	psvc := periodical.New(s.DB, periodical.Options{})
	pd, err := psvc.CreatePeriodical(ctx, editor, periodical.PeriodicalInput{Code: "fc", Name: "筛选专报", Kind: "special",
		Classification: label.Internal, Distribution: []string{"市委主要领导"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, archived := range []bool{true, false} {
		issue, err := psvc.CreateIssue(ctx, editor, pd.ID, periodical.IssueInput{Title: fmt.Sprintf("归档 %v", archived)}, "")
		if err != nil {
			t.Fatal(err)
		}
		var refs []periodical.Ref
		for i, r := range recs {
			if r.archived == archived && (r.archived || r.endorsed) {
				refs = append(refs, periodical.Ref{Kind: "submission", ID: ids[i]})
			}
		}
		if _, err := psvc.AddItems(ctx, editor, issue.ID, refs, "", ""); err != nil {
			t.Fatal(err)
		}
		state := map[bool]string{true: "archived", false: "signed"}[archived]
		if _, err := s.DB.Exec(ctx, `UPDATE periodical_issues SET state = $2 WHERE id = $1`, issue.ID, state); err != nil {
			t.Fatal(err)
		}
		is, err := psvc.Issue(ctx, editor, issue.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range is.Items {
			if i := slices.Index(ids, it.Ref.ID); !recs[i].endorsed {
				continue
			}
			if _, err := psvc.Endorse(ctx, editor, periodical.EndorsementInput{IssueItemID: it.ID, Leader: "张三", Level: "city", Text: "请抓紧办理。",
				Date: time.Now(), Deadline: time.Now().AddDate(0, 1, 0)}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Re-index everything (the archived flag; the old record's date).
	if _, err := s.DB.Exec(ctx, `UPDATE submissions SET version = version + 1,
		reported_at = CASE WHEN id = $2 THEN timestamptz '2025-06-01 09:00:00+08' ELSE reported_at END WHERE id = ANY($1)`, ids, ids[6]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Exec(ctx, `INSERT INTO outbox (entity, entity_id) SELECT 'submission', x FROM unnest($1::bigint[]) x`, ids); err != nil {
		t.Fatal(err)
	}

	today := time.Now().In(search.Location)
	from, to := today.AddDate(0, 0, -3).Format("2006-01-02"), today.AddDate(0, 0, 1).Format("2006-01-02")
	params := url.Values{"q": {w}, "state": {"in_review"}, "archived": {"archived"}, "endorsed": {"open"}, "category": {"城乡建设"}, "from": {from}, "to": {to}}
	want := []int64{ids[0], ids[1]}
	waitFor(t, 15*time.Second, "the index carries states, periodical flags and dates", func() (bool, string) {
		var got []int
		for _, p := range []url.Values{{"q": {w}, "endorsed": {"open"}}, {"q": {w}, "archived": {"archived"}}, {"q": {w}, "from": {from}}, {"q": {w}, "state": {"in_review"}}} {
			got = append(got, s.search(t, "res_secret", p).Total)
		}
		return fmt.Sprint(got) == "[6 6 6 6]", fmt.Sprint(got)
	})
	hitIDs := func(p url.Values) []int64 {
		res := s.search(t, "res_secret", p)
		var out []int64
		for _, h := range res.Hits {
			id, _ := strconv.ParseInt(h.ID, 10, 64)
			out = append(out, id)
		}
		must(t, res.Total == len(out), "%v: total %d, %d hits", p, res.Total, len(out))
		return out
	}
	noQ := url.Values{}
	for k, v := range params {
		if k != "q" {
			noQ[k] = v
		}
	}
	noQ.Set("unit", userUnit["rep_a"]) // other tests' records stay out without a keyword
	for _, p := range []url.Values{params, noQ} {
		got := hitIDs(p)
		must(t, sameIDs(got, want), "search %v: %v, want %v", p, got, want)
	}

	// The search page lists those two.
	res := s.browser(t)
	res.login("res_secret")
	page := res.get("/search?" + params.Encode())
	wantHTML(t, page, http.StatusOK, "筛选一致性全条件命中一", "筛选一致性全条件命中二")
	must(t, pageTotal(t, page) == len(want), "search page total %d, want %d", pageTotal(t, page), len(want))
	for _, r := range recs[2:] {
		must(t, !strings.Contains(string(page.Body), "筛选一致性"+r.title), "search page lists %s", r.title)
	}

	// 导出全部结果: the export holds the same rows, with and without keywords.
	tok := s.token(t, "res_secret")
	for _, p := range []url.Values{params, noQ} {
		r := s.api(t, "POST", "/api/v1/exports", tok, map[string]any{"kind": "search", "format": "csv", "params": p.Encode()})
		must(t, r.Status == http.StatusCreated || r.Status == http.StatusAccepted || r.Status == http.StatusOK, "start export: %s", r)
		id := int64(r.JSON(t)["id"].(float64))
		var job map[string]any
		waitFor(t, 30*time.Second, "the export finishes", func() (bool, string) {
			job = s.api(t, "GET", fmt.Sprintf("/api/v1/exports/%d", id), tok, nil).JSON(t)
			return job["state"] == "done" || job["state"] == "failed", fmt.Sprint(job)
		})
		must(t, job["state"] == "done" && job["total"] == float64(len(want)), "export %v: %v, want %d rows", p, job, len(want))
		file := res.get(fmt.Sprintf("/exports/%d/download", id))
		must(t, file.Status == http.StatusOK, "download: %s", file)
		cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(file.Body), "\ufeff")))
		cr.FieldsPerRecord = -1
		rows, err := cr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, row := range rows {
			if id, err := strconv.ParseInt(row[0], 10, 64); err == nil {
				got = append(got, id)
			}
		}
		must(t, sameIDs(got, want), "export %v rows %v, want %v", p, got, want)
	}

	// Seeding an issue from the search link, and from the same search saved: only the listed hits.
	eb := s.browser(t)
	eb.login("editor1")
	ss, err := savedsearch.New(s.DB).Create(ctx, editor.UserID, "筛选一致性", params.Encode(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []url.Values{{"query": {"/search?" + params.Encode()}}, {"saved": {strconv.FormatInt(ss.ID, 10)}}} {
		issue, err := psvc.CreateIssue(ctx, editor, pd.ID, periodical.IssueInput{Title: "编入检索结果"}, "")
		if err != nil {
			t.Fatal(err)
		}
		page := eb.get(fmt.Sprintf("/issues/%d", issue.ID))
		form.Set("_csrf", csrfOf(t, page))
		form.Set("limit", "50")
		r := eb.post(fmt.Sprintf("/issues/%d/seed", issue.ID), form)
		must(t, r.Status == http.StatusSeeOther, "seed %v: %s", form, r)
		got, err := psvc.Issue(ctx, editor, issue.ID)
		if err != nil {
			t.Fatal(err)
		}
		var items []int64
		for _, it := range got.Items {
			items = append(items, it.Ref.ID)
		}
		must(t, sameIDs(items, want), "issue seeded from %v holds %v, want %v", form, items, want)
	}

	// The dashboard panel of the saved search counts what its link shows.
	rss, err := savedsearch.New(s.DB).Create(ctx, subjectOf(t, s, "res_secret").UserID, "筛选一致性面板", params.Encode(), false)
	if err != nil {
		t.Fatal(err)
	}
	dash := res.get("/dashboard")
	m := regexp.MustCompile(regexp.QuoteMeta(rss.Name) + `</a> <span class="muted">共 (\d+) 条`).FindStringSubmatch(string(dash.Body))
	must(t, dash.Status == http.StatusOK && m != nil, "dashboard has no panel for %s: %s", rss.Name, dash)
	must(t, m[1] == strconv.Itoa(pageTotal(t, page)), "dashboard panel counts %s, the search page %d", m[1], pageTotal(t, page))
}

package webapp_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xuri/excelize/v2"

	"infowork/auth"
	"infowork/label"
)

// statsFixture: Z101 reports five records (one adopted, one merged, one returned, two waiting),
// Z102 one secret record adopted; a system administrator sets the year's rules.
func statsFixture(t *testing.T) (*stack, map[string]int64) {
	t.Helper()
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	if _, err := s.Auth.CreateUser(ctx, auth.NewUser{Username: "sys1", Password: password, DisplayName: "系统管理员",
		Roles: []string{"sysadmin"}, Clearance: label.Public}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, u := range []struct{ user, name, level string }{
		{"rep_a", "adopted", "public"}, {"rep_a", "merged", "public"}, {"rep_a", "returned", "public"},
		{"rep_a", "waiting1", "public"}, {"rep_a", "waiting2", "internal"}, {"rep_b", "secret", "secret"},
	} {
		s.token(t, u.user)
		c, err := s.createAPI(u.user, created{Title: "统计核对" + u.name, Body: "物业管理问题 " + u.name, Classification: u.level})
		if err != nil {
			t.Fatal(err)
		}
		ids[u.name] = c.ID
	}
	ed := s.token(t, "editor1")
	move := func(id int64, steps ...string) {
		for _, st := range steps {
			av := s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d/transitions", id), ed, nil).JSON(t)
			body := map[string]any{"transition": st, "version": av["version"]}
			if st == "return" {
				body["reason"], body["comment"] = "facts_incomplete", "请补充"
			}
			if r := s.api(t, "POST", fmt.Sprintf("/api/v1/submissions/%d/transitions", id), ed, body); r.Status != http.StatusOK {
				t.Fatalf("%s %d: %s", st, id, r)
			}
		}
	}
	move(ids["adopted"], "review", "adopt")
	move(ids["merged"], "review", "merge")
	move(ids["returned"], "return")
	move(ids["secret"], "review", "adopt")
	s.waitIndexed(t, 6)
	return s, ids
}

var numberCell = regexp.MustCompile(`<a href="([^"]+)">(\d+)</a>`)

// The statistics page shows the database's numbers for what the reader may see, every number
// links to the records behind it, and following the links finds exactly that many.
func TestStatisticsPageDrillDownsAndScope(t *testing.T) {
	s, _ := statsFixture(t)
	ed := s.token(t, "editor1")

	r := s.api(t, "GET", "/api/v1/statistics?dim=unit", ed, nil)
	if r.Status != http.StatusOK {
		t.Fatal(r)
	}
	var out struct {
		Lines []struct {
			Key                                 string
			Records, Submitted, Adopted, Merged int
			Returned                            int
			AdoptionRate                        float64 `json:"adoption_rate"`
			SearchURL                           string  `json:"search_url"`
		}
		Total struct{ Records, Adopted int }
	}
	r.Decode(t, &out)
	byUnit := map[string]int{}
	for i, l := range out.Lines {
		byUnit[l.Key] = i
	}
	z1 := out.Lines[byUnit["Z101"]]
	if z1.Records != 5 || z1.Submitted != 5 || z1.Adopted != 1 || z1.Merged != 1 || z1.Returned != 1 || z1.AdoptionRate != 0.4 {
		t.Fatalf("Z101 line %+v", z1)
	}
	// The same numbers straight from the database.
	var dbAdopted int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM submissions s JOIN units u ON u.id = s.unit_id WHERE u.code = 'Z101' AND s.state = 'adopted'`).Scan(&dbAdopted); err != nil || dbAdopted != z1.Adopted {
		t.Fatalf("database adopted %d, page %d", dbAdopted, z1.Adopted)
	}
	if out.Total.Records != 6 || out.Total.Adopted != 2 {
		t.Fatalf("total %+v", out.Total)
	}
	// The record count links to a search that finds the same number.
	sr := s.api(t, "GET", "/api/v1"+z1.SearchURL, ed, nil).JSON(t)
	if int(sr["total"].(float64)) != 5 {
		t.Fatalf("search behind %s: %v", z1.SearchURL, sr["total"])
	}

	// A reporter of Z102 sees only Z102; a public researcher does not count the secret one.
	rb := s.api(t, "GET", "/api/v1/statistics?dim=unit", s.token(t, "rep_b"), nil)
	var outB struct {
		Lines []struct{ Key string }
		Total struct{ Records int }
	}
	rb.Decode(t, &outB)
	if len(outB.Lines) != 1 || outB.Lines[0].Key != "Z102" || outB.Total.Records != 1 {
		t.Fatalf("reporter of Z102 sees %+v", outB)
	}
	rp := s.api(t, "GET", "/api/v1/statistics?dim=unit", s.token(t, "res_public"), nil)
	var outP struct {
		Total struct{ Records, Adopted int }
	}
	rp.Decode(t, &outP)
	if outP.Total.Records != 4 || outP.Total.Adopted != 1 {
		t.Fatalf("public researcher totals %+v (want 4 records: not the internal and secret ones)", outP.Total)
	}

	// The HTML page: follow every workflow link of the Z101 row and count the rows listed.
	pg := s.api(t, "GET", "/statistics?dim=unit", ed, nil)
	if pg.Status != http.StatusOK {
		t.Fatal(pg)
	}
	body := string(pg.Body)
	row := body[strings.Index(body, `scope="row">芙蓉区东湖街道直报点`):]
	row = row[:strings.Index(row, "</tr>")]
	links := numberCell.FindAllStringSubmatch(row, -1)
	if len(links) != 5 {
		t.Fatalf("Z101 row has %d linked numbers: %s", len(links), row)
	}
	var stateLinks []string
	for _, l := range links {
		href := html.UnescapeString(l[1])
		want := l[2]
		if strings.HasPrefix(href, "/search?") {
			// The record count and the 采用/综合采用 counts (filtered by 办理状态) open the search
			// page; it must list exactly the table's number (the index follows the workflow's
			// last transitions within moments).
			if u, err := url.Parse(href); err == nil && u.Query().Get("state") != "" {
				stateLinks = append(stateLinks, u.Query().Get("state"))
			}
			waitFor(t, 10*time.Second, "drill-down "+href, func() (bool, string) {
				n := pageTotal(t, s.api(t, "GET", href, ed, nil))
				return strconv.Itoa(n) == want, fmt.Sprintf("lists %d, the table says %s", n, want)
			})
			continue
		}
		items := s.api(t, "GET", href, ed, nil)
		m := regexp.MustCompile(`class="items-total">(\d+)<`).FindStringSubmatch(string(items.Body))
		if m == nil || m[1] != want {
			t.Errorf("drill-down %s lists %v, the table says %s", href, m, want)
		}
	}
	if !slices.Equal(stateLinks, []string{"adopted", "merged"}) {
		t.Errorf("Z101 row: state-filtered search drill-downs %v, want adopted and merged", stateLinks)
	}
	// Administrators read no record statistics.
	if r := s.api(t, "GET", "/api/v1/statistics", s.token(t, "sys1"), nil); r.Status != http.StatusForbidden {
		t.Fatalf("sysadmin statistics: %s", r)
	}
	if r := s.api(t, "GET", "/api/v1/statistics?dim=colour", ed, nil); r.Status != http.StatusBadRequest {
		t.Fatalf("bad dimension: %s", r)
	}
}

// Scoring end to end: the system administrator saves rules; the workflow's adoptions are scored;
// the editor sees the league table; the signer publishes it (frozen) and exports it.
func TestScoringLeagueTable(t *testing.T) {
	s, _ := statsFixture(t)
	year := time.Now().Year()
	sys := s.token(t, "sys1")
	rules := map[string]any{"rules": map[string]any{"adoption_levels": map[string]int{"city": 10}, "merged_factor": 0.5,
		"item_types": map[string]int{}, "endorsement_levels": map[string]int{}, "late": map[string]int{}, "missed": map[string]int{},
		"quota": map[string]int{}}, "note": "测试"}
	if r := s.api(t, "PUT", fmt.Sprintf("/api/v1/scoring/rules?year=%d", year), sys, rules); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	bad := map[string]any{"rules": map[string]any{"adoption_levels": map[string]int{"moon": 10}}}
	if r := s.api(t, "PUT", fmt.Sprintf("/api/v1/scoring/rules?year=%d", year), sys, bad); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad rules: %s", r)
	}
	if r := s.api(t, "PUT", fmt.Sprintf("/api/v1/scoring/rules?year=%d", year), s.token(t, "editor1"), rules); r.Status != http.StatusForbidden {
		t.Fatalf("an editor may not change rules: %s", r)
	}
	ed := s.token(t, "editor1")
	lg := s.api(t, "GET", fmt.Sprintf("/api/v1/scoring/league?period=%d", year), ed, nil)
	if lg.Status != http.StatusOK {
		t.Fatal(lg)
	}
	var table struct {
		Published bool
		Rows      []struct {
			UnitCode string  `json:"unit_code"`
			Points   float64 `json:"points"`
			Rank     int     `json:"rank"`
		}
	}
	lg.Decode(t, &table)
	pts := map[string]float64{}
	for _, r := range table.Rows {
		pts[r.UnitCode] = r.Points
	}
	// Z101: adopted 10 + merged 5; Z102: adopted 10; B101: nothing (listed with 0).
	if pts["Z101"] != 15 || pts["Z102"] != 10 || len(table.Rows) != 3 || table.Published {
		t.Fatalf("league %+v", table)
	}
	xl := s.api(t, "GET", fmt.Sprintf("/scoring/league.xlsx?period=%d", year), ed, nil)
	if xl.Status != http.StatusOK {
		t.Fatal(xl)
	}
	f, err := excelize.OpenReader(strings.NewReader(string(xl.Body)))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("通报")
	if len(rows) != 6 || rows[2][1] != "Z101" || rows[2][9] != "15" {
		t.Fatalf("xlsx rows %v", rows)
	}
	// A signer publishes the year's table through the page's form: frozen, once.
	if _, err := s.Auth.CreateUser(context.Background(), auth.NewUser{Username: "signer1", Password: password, DisplayName: "签发人",
		Roles: []string{"signer"}, Clearance: label.Secret}); err != nil {
		t.Fatal(err)
	}
	sg := s.token(t, "signer1")
	form := url.Values{"period": {fmt.Sprint(year)}}.Encode()
	if r := s.api(t, "POST", "/scoring/publish", sg, form, "Content-Type", "application/x-www-form-urlencoded"); r.Status != http.StatusSeeOther {
		t.Fatalf("publish: %s", r)
	}
	if r := s.api(t, "POST", "/scoring/publish", sg, form, "Content-Type", "application/x-www-form-urlencoded"); r.Status != http.StatusConflict {
		t.Fatalf("second publish: %s", r)
	}
	if r := s.api(t, "POST", "/scoring/publish", ed, form, "Content-Type", "application/x-www-form-urlencoded"); r.Status != http.StatusForbidden {
		t.Fatalf("an editor publishing: %s", r)
	}
	var pub struct {
		Published bool
		SHA256    string
	}
	s.api(t, "GET", fmt.Sprintf("/api/v1/scoring/league?period=%d", year), ed, nil).Decode(t, &pub)
	if !pub.Published || len(pub.SHA256) != 64 {
		t.Fatalf("after publishing: %+v", pub)
	}
	if pdf := s.api(t, "GET", fmt.Sprintf("/scoring/league.pdf?period=%d", year), ed, nil); pdf.Status != http.StatusOK || !strings.HasPrefix(string(pdf.Body), "%PDF-") {
		t.Fatalf("league PDF: %d %d bytes", pdf.Status, len(pdf.Body))
	}
	// Unit view: the reporter sees its own ledger on the scoring page.
	pg := s.api(t, "GET", "/scoring", s.token(t, "rep_a"), nil)
	if pg.Status != http.StatusOK || !strings.Contains(string(pg.Body), `<span class="ledger-total">15</span>`) {
		t.Fatalf("reporter's scoring page: %s", pg)
	}
}

// A search export runs in the background with progress and its file holds every row the
// reader may see, labelled with the highest classification.
func TestExportAndSavedSearchAPI(t *testing.T) {
	s, _ := statsFixture(t)
	ed := s.token(t, "editor1")
	r := s.api(t, "POST", "/api/v1/exports", ed, map[string]string{"kind": "search", "format": "xlsx", "params": "q=物业"})
	if r.Status != http.StatusAccepted {
		t.Fatal(r)
	}
	id := int64(r.JSON(t)["id"].(float64))
	var job map[string]any
	waitFor(t, 20*time.Second, "export done", func() (bool, string) {
		job = s.api(t, "GET", fmt.Sprintf("/api/v1/exports/%d", id), ed, nil).JSON(t)
		return job["state"] == "done" || job["state"] == "failed", fmt.Sprint(job)
	})
	if job["state"] != "done" || job["progress"].(float64) != 6 || job["classification"] != "secret" {
		t.Fatalf("job %v", job)
	}
	dl := s.api(t, "GET", job["download_url"].(string), ed, nil)
	f, err := excelize.OpenReader(strings.NewReader(string(dl.Body)))
	if err != nil {
		t.Fatalf("download: %v (%s)", err, dl)
	}
	rows, _ := f.GetRows("导出")
	if len(rows) != 8 || rows[0][0] != "密级：秘密" {
		t.Fatalf("rows %v", rows)
	}
	// Another user cannot read the job.
	if r := s.api(t, "GET", fmt.Sprintf("/api/v1/exports/%d", id), s.token(t, "res_secret"), nil); r.Status != http.StatusNotFound {
		t.Fatalf("another user's job: %s", r)
	}
	if r := s.api(t, "POST", "/api/v1/exports", ed, map[string]string{"kind": "search", "format": "pdf"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad format: %s", r)
	}
	// Saved searches: create, list, share.
	cr := s.api(t, "POST", "/api/v1/saved-searches", ed, map[string]any{"name": "物业", "query": "/search?q=物业&page=2", "shared": true, "subscribe": true})
	if cr.Status != http.StatusCreated || cr.JSON(t)["query"] != "q=%E7%89%A9%E4%B8%9A" {
		t.Fatal(cr)
	}
	ls := s.api(t, "GET", "/api/v1/saved-searches", s.token(t, "res_public"), nil).JSON(t)
	items := ls["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["mine"] != false {
		t.Fatalf("shared search as seen by another user: %v", ls)
	}
	if r := s.api(t, "POST", "/api/v1/saved-searches", ed, map[string]any{"name": "", "query": "q=x"}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("empty name: %s", r)
	}
	// The dashboard shows the saved search as a panel with its count for this reader.
	db := s.api(t, "GET", "/dashboard", ed, nil)
	if db.Status != http.StatusOK || !strings.Contains(string(db.Body), "共 6 条") {
		t.Fatalf("dashboard: %s", db)
	}
	dp := s.api(t, "GET", "/dashboard", s.token(t, "res_public"), nil)
	if dp.Status != http.StatusOK || strings.Contains(string(dp.Body), "共 6 条") {
		t.Fatalf("public researcher's dashboard must count only public records: %s", dp)
	}
	// The pages: the saved search listed with its subscription, the export with its label and
	// a download link, the search page offering 保存检索 with the current query.
	sp := s.api(t, "GET", "/saved-searches", ed, nil)
	if sp.Status != http.StatusOK || !strings.Contains(string(sp.Body), "已订阅") || !strings.Contains(string(sp.Body), `href="/search?q=%E7%89%A9%E4%B8%9A"`) {
		t.Fatalf("saved searches page: %s", sp)
	}
	ep := s.api(t, "GET", "/exports", ed, nil)
	if ep.Status != http.StatusOK || !strings.Contains(string(ep.Body), fmt.Sprintf(`href="/exports/%d/download"`, id)) || !strings.Contains(string(ep.Body), "秘密") {
		t.Fatalf("exports page: %s", ep)
	}
	search := s.api(t, "GET", "/search?"+url.Values{"q": {"物业"}}.Encode(), ed, nil)
	if !strings.Contains(string(search.Body), "/saved-searches?query=q%3D%25E7%2589%25A9%25E4%25B8%259A") {
		t.Fatalf("search page lacks the 保存检索 link with its query")
	}
}

// checkStatsSchema compares a live response object with the documented properties, both ways.
func checkStatsSchema(t *testing.T, schema string, obj map[string]any) {
	t.Helper()
	keys, _ := readYAMLKeys(t, "../docs/openapi.yaml")
	want := keys.children("components/schemas/" + schema + "/properties")
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("schema %s documents %v; the response has %v", schema, want, got)
	}
}

func TestStatisticsSchemas(t *testing.T) {
	s, _ := statsFixture(t)
	ed := s.token(t, "editor1")
	st := s.api(t, "GET", "/api/v1/statistics", ed, nil).JSON(t)
	checkStatsSchema(t, "Statistics", st)
	checkStatsSchema(t, "StatisticsLine", st["total"].(map[string]any))
	job := s.api(t, "POST", "/api/v1/exports", ed, map[string]string{"kind": "statistics", "format": "csv", "params": "dim=month"}).JSON(t)
	checkStatsSchema(t, "ExportJob", job)
	checkStatsSchema(t, "SavedSearch", s.api(t, "POST", "/api/v1/saved-searches", ed, map[string]any{"name": "x", "query": "q=x"}).JSON(t))
	sys := s.token(t, "sys1")
	rs := s.api(t, "PUT", "/api/v1/scoring/rules", sys, map[string]any{"rules": map[string]any{"adoption_levels": map[string]int{"city": 10}}}).JSON(t)
	checkStatsSchema(t, "ScoringRuleSet", rs)
	lg := s.api(t, "GET", "/api/v1/scoring/league", ed, nil).JSON(t)
	checkStatsSchema(t, "LeagueTable", lg)
	checkStatsSchema(t, "LeagueRow", lg["rows"].([]any)[0].(map[string]any))
	// The test stack's web app has no analyzer: trends answer 503 with a clear message.
	if r := s.api(t, "GET", "/api/v1/statistics/trends", ed, nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("trends without an analyzer: %s", r)
	}
}

// With the analyzer (as `infowork serve` configures it), the leader panel shows the weekly
// trends and the trends API answers, counting only what the reader may see.
func TestTrendsWithAnalyzer(t *testing.T) {
	s, _ := statsFixture(t)
	opts := s.Opts
	opts.Analyzer = sharedAnalyzer(t)
	opts.Registerer = prometheus.NewRegistry()
	_, base := serveApp(t, opts)
	s2 := &stack{DB: s.DB, Base: base, Auth: s.Auth, Opts: opts, tokens: map[string]string{}, totpSecrets: map[string]string{}}
	tok := s.token(t, "res_secret")
	r := s2.api(t, "GET", "/api/v1/statistics/trends", tok, nil)
	if r.Status != http.StatusOK {
		t.Fatal(r)
	}
	var tr struct {
		Weeks []struct {
			Docs  int
			Terms []struct{ Term string }
		}
		Rising []struct{ Term string }
	}
	r.Decode(t, &tr)
	last := tr.Weeks[len(tr.Weeks)-1]
	if len(tr.Weeks) != 8 || last.Docs != 6 || len(last.Terms) == 0 {
		t.Fatalf("trends %+v", tr)
	}
	found := false
	for _, term := range last.Terms {
		found = found || term.Term == "物业管理"
	}
	if !found {
		t.Fatalf("this week's terms %+v lack 物业管理 (in all six records)", last.Terms)
	}
	var trp struct{ Weeks []struct{ Docs int } }
	s2.api(t, "GET", "/api/v1/statistics/trends", s.token(t, "res_public"), nil).Decode(t, &trp)
	if got := trp.Weeks[len(trp.Weeks)-1].Docs; got != 4 {
		t.Fatalf("a public reader's week counts %d records, want 4", got)
	}
	d := s2.api(t, "GET", "/dashboard", tok, nil)
	if d.Status != http.StatusOK || !strings.Contains(string(d.Body), "各周高频词") || !strings.Contains(string(d.Body), ">物业管理</a>") {
		t.Fatalf("leader panel: %s", d)
	}
}

// The system administrator reaches the scoring rules from the admin navigation and edits them
// in the page's form; a malformed JSON is refused with the field named.
func TestScoringRulesPage(t *testing.T) {
	s, _ := statsFixture(t)
	sys := s.token(t, "sys1")
	pg := s.api(t, "GET", "/scoring?year=2026", sys, nil)
	if pg.Status != http.StatusOK || !strings.Contains(string(pg.Body), `href="/scoring" aria-current="page"`) || !strings.Contains(string(pg.Body), `adoption_levels`) {
		t.Fatalf("rules page: %s", pg)
	}
	post := func(rules string) resp {
		return s.api(t, "POST", "/scoring/rules", sys, url.Values{"year": {"2026"}, "rules": {rules}, "note": {"测试"}}.Encode(),
			"Content-Type", "application/x-www-form-urlencoded")
	}
	if r := post(`{"adoption_levels":{"city":12}}`); r.Status != http.StatusSeeOther {
		t.Fatalf("save: %s", r)
	}
	if r := post(`{"adoption_levels":{"city":"ten"}}`); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "rules") {
		t.Fatalf("bad JSON: %s", r)
	}
	var n int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'scoring.rules' AND username = 'sys1'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rule changes audited %d times (%v)", n, err)
	}
}

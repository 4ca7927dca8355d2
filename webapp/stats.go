package webapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"infowork/auth"
	"infowork/scoring"
	"infowork/search"
	"infowork/stats"
)

func init() {
	funcs["pct"] = func(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }
	funcs["hours"] = func(v float64) string {
		if v == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f", v)
	}
	funcs["points"] = func(v float64) string {
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", v), "0"), ".0")
	}
	funcs["leaderName"] = scoring.LeaderLevelName
	funcs["dimName"] = stats.DimensionName
	funcs["jsonData"] = func(v any) template.JS { return template.JS(mustJSON(v)) } // #nosec G203 -- JSON encoded by encoding/json, which escapes <, > and &
}

// statsFilter is the period and dimension of a statistics page, from the URL.
type statsFilter struct {
	Dim      string
	From, To string // as typed: YYYY-MM-DD (inclusive)
	Filter   stats.Filter
}

// parseStatsFilter reads the filter; without from and to the period is the year of the newest
// record the reader may see (this year on live data; the demo corpus ends in 2020).
func (a *App) parseStatsFilter(c *fiber.Ctx) (statsFilter, error) {
	sf := statsFilter{Dim: c.Query("dim", stats.ByUnit), From: c.Query("from"), To: c.Query("to")}
	if sf.From == "" && sf.To == "" {
		y, err := a.stats.stats.LatestYear(c.UserContext(), sessionOf(c).User.Subject(), time.Now())
		if err != nil {
			return sf, err
		}
		sf.From, sf.To = fmt.Sprintf("%d-01-01", y), fmt.Sprintf("%d-12-31", y)
	}
	if !stats.ValidDimension(sf.Dim) {
		return sf, fmt.Errorf("%w: 统计维度只能是 unit、district、category 或 month", search.ErrBadQuery)
	}
	var err error
	if sf.Filter.From, err = parseDate(sf.From, false); err != nil {
		return sf, err
	}
	to, err := parseDate(sf.To, true)
	if err != nil {
		return sf, err
	}
	if !to.IsZero() {
		sf.Filter.To = to.Add(time.Nanosecond) // exclusive
	}
	if !sf.Filter.From.IsZero() && !sf.Filter.To.IsZero() && !sf.Filter.To.After(sf.Filter.From) {
		return sf, fmt.Errorf("%w: 结束日期早于开始日期", search.ErrBadQuery)
	}
	sf.Filter.Units, sf.Filter.Districts, sf.Filter.Categories = multi(c, "unit"), multi(c, "district"), multi(c, "category")
	return sf, nil
}

// period renders the filter's period as URL parameters (from, to) for links.
func (sf statsFilter) period(v url.Values) url.Values {
	if sf.From != "" {
		v.Set("from", sf.From)
	}
	if sf.To != "" {
		v.Set("to", sf.To)
	}
	return v
}

// searchLink is the drill-down of a record count: the search page with the same filters.
func (sf statsFilter) searchLink(key string) string {
	return "/search?" + sf.searchValues(key).Encode()
}

// searchValues are the search parameters of a table cell: the period, the table's own unit,
// district and category filters, and the row's value of the dimension.
func (sf statsFilter) searchValues(key string) url.Values {
	v := sf.period(url.Values{})
	for _, f := range []struct {
		k  string
		vs []string
	}{{"unit", sf.Filter.Units}, {"district", sf.Filter.Districts}, {"category", sf.Filter.Categories}} {
		for _, x := range f.vs {
			v.Add(f.k, x)
		}
	}
	v.Set(sf.Dim, key)
	return v
}

// stateSearch are the workflow counts whose records are exactly "the group's records now in
// one state": their drill-down is the search page filtered by that state (the 办理状态 facet,
// issues 5 and 7), which lists the same records with facets and export. 已报送 (every state
// past unit approval) and 退回过 (returned at least once, from the workflow history) are not
// one state and keep the database list.
var stateSearch = map[string]string{stats.WhichAdopted: "adopted", stats.WhichMerged: "merged"}

// stateSearchLink is the drill-down of a workflow count in stateSearch.
func (sf statsFilter) stateSearchLink(key, state string) string {
	v := sf.searchValues(key)
	v.Set("state", state)
	return "/search?" + v.Encode()
}

// itemsLink is the drill-down of a workflow count: the database list of the same records.
func (sf statsFilter) itemsLink(key, which string) string {
	v := sf.period(url.Values{})
	v.Set("dim", sf.Dim)
	v.Set("key", key)
	v.Set("which", which)
	return "/statistics/items?" + v.Encode()
}

// forbidAdmins keeps the three administrators out of record statistics (they read no records).
func forbidAdmins(u auth.User) error {
	if auth.AdminRoleOf(u.Roles) != "" {
		return errStatus(fiber.StatusForbidden, "forbidden", "管理员账户不查看业务统计")
	}
	return nil
}

type statsRow struct {
	stats.Line
	SearchLink string
	Links      map[string]string
	Levels     []int
}

func (a *App) statsPage(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := forbidAdmins(u); err != nil {
		return err
	}
	sf, err := a.parseStatsFilter(c)
	if err != nil {
		return err
	}
	t, degraded, err := a.statsTable(c, sf)
	if err != nil {
		return err
	}
	rows := make([]statsRow, 0, len(t.Lines))
	for _, l := range t.Lines {
		r := statsRow{Line: l, Links: map[string]string{}}
		if l.Key != "" {
			r.SearchLink = sf.searchLink(l.Key)
		}
		for _, w := range []string{stats.WhichSubmitted, stats.WhichAdopted, stats.WhichMerged, stats.WhichReturned} {
			r.Links[w] = sf.itemsLink(l.Key, w)
			// The search cannot filter an empty value (a record without district or category),
			// and while search is degraded the database list is the one that works.
			if st, ok := stateSearch[w]; ok && l.Key != "" && !degraded {
				r.Links[w] = sf.stateSearchLink(l.Key, st)
			}
		}
		for _, lv := range scoring.LeaderLevels {
			r.Levels = append(r.Levels, l.Endorsements[lv])
		}
		rows = append(rows, r)
	}
	var totalLevels []int
	for _, lv := range scoring.LeaderLevels {
		totalLevels = append(totalLevels, t.Total.Endorsements[lv])
	}
	chart := chartData{Kind: "bar", Title: "采用情况（按" + stats.DimensionName(sf.Dim) + "）", Series: []string{"报送", "采用", "综合采用"}}
	for i, l := range t.Lines {
		if i >= 20 {
			break
		}
		chart.Labels = append(chart.Labels, orDash(l.Name))
		chart.Values = append(chart.Values, []float64{float64(l.Submitted), float64(l.Adopted), float64(l.Merged)})
	}
	exportParams := sf.period(url.Values{"dim": {sf.Dim}}).Encode()
	return a.render(c, fiber.StatusOK, "stats", page{Title: "信息统计", Nav: "statistics", Degrade: degraded, Data: fiber.Map{
		"F": sf, "Rows": rows, "Total": t.Total, "TotalLevels": totalLevels, "Dims": stats.Dimensions, "LeaderLevels": scoring.LeaderLevels,
		"Chart": chart, "ExportParams": exportParams, "CanExport": a.stats.export != nil}})
}

func orDash(s string) string {
	if s == "" {
		return "（未填）"
	}
	return s
}

func (a *App) statsItems(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := forbidAdmins(u); err != nil {
		return err
	}
	sf, err := a.parseStatsFilter(c)
	if err != nil {
		return err
	}
	which := c.Query("which", stats.WhichAll)
	pageNo, err := intParam(c, "page", 1, 1, 10000)
	if err != nil {
		return err
	}
	key := c.Query("key")
	p, err := a.stats.stats.Items(c.UserContext(), u.Subject(), sf.Dim, key, which, sf.Filter, pageNo, 50)
	if err != nil {
		return err
	}
	pages := max((p.Total+p.Size-1)/p.Size, 1)
	base := sf.itemsLink(key, which)
	return a.render(c, fiber.StatusOK, "stats_items", page{Title: "统计明细", Nav: "statistics", Data: fiber.Map{
		"F": sf, "Key": orDash(key), "Which": stats.WhichName(which), "Page": p, "Pages": pages, "Base": base,
		"Back": "/statistics?" + sf.period(url.Values{"dim": {sf.Dim}}).Encode()}})
}

// statsTable answers the workflow questions from the database and the document question (how
// many records per value) from the engine's facets, which count the same records (stats tests
// check that they agree); when the engine is unavailable the database's counts stand and the
// page says search is degraded.
func (a *App) statsTable(c *fiber.Ctx, sf statsFilter) (stats.Table, bool, error) {
	sub := sessionOf(c).User.Subject()
	// Endorsements and late/missed solicitations are counted from scoring events.
	if err := a.syncScores(c.UserContext(), false); err != nil {
		a.log.Warn("scoring sync failed", "err", err)
	}
	t, err := a.stats.stats.Table(c.UserContext(), sub, sf.Dim, sf.Filter)
	if err != nil {
		return t, false, err
	}
	counts, _, err := a.stats.stats.EngineCounts(c.UserContext(), sub, sf.Dim, sf.Filter)
	if errors.Is(err, search.ErrUnavailable) {
		return t, true, nil
	}
	if err != nil {
		return t, false, err
	}
	t.Total.Records = 0
	for i := range t.Lines {
		if n, ok := counts[t.Lines[i].Key]; ok && t.Lines[i].Key != "" {
			t.Lines[i].Records = n
		}
		t.Total.Records += t.Lines[i].Records
	}
	return t, false, nil
}

// lineJSON is a statistics line in the API.
type lineJSON struct {
	Key          string         `json:"key"`
	Name         string         `json:"name"`
	Records      int            `json:"records"`
	Submitted    int            `json:"submitted"`
	Adopted      int            `json:"adopted"`
	Merged       int            `json:"merged"`
	Returned     int            `json:"returned"`
	AdoptionRate float64        `json:"adoption_rate"`
	HoursToAdopt float64        `json:"hours_to_adopt"`
	Endorsements map[string]int `json:"endorsements"`
	Late         int            `json:"late"`
	Missed       int            `json:"missed"`
	SearchURL    string         `json:"search_url"`
}

func toLineJSON(l stats.Line, link string) lineJSON {
	e := l.Endorsements
	if e == nil {
		e = map[string]int{}
	}
	return lineJSON{Key: l.Key, Name: l.Name, Records: l.Records, Submitted: l.Submitted, Adopted: l.Adopted, Merged: l.Merged,
		Returned: l.Returned, AdoptionRate: l.AdoptionRate, HoursToAdopt: l.HoursToAdopt, Endorsements: e, Late: l.Late, Missed: l.Missed,
		SearchURL: link}
}

func (a *App) apiStatistics(c *fiber.Ctx) error {
	u := sessionOf(c).User
	if err := forbidAdmins(u); err != nil {
		return err
	}
	sf, err := a.parseStatsFilter(c)
	if err != nil {
		return err
	}
	t, _, err := a.statsTable(c, sf)
	if err != nil {
		return err
	}
	lines := make([]lineJSON, 0, len(t.Lines))
	for _, l := range t.Lines {
		link := ""
		if l.Key != "" {
			link = sf.searchLink(l.Key)
		}
		lines = append(lines, toLineJSON(l, link))
	}
	return c.JSON(fiber.Map{"dimension": sf.Dim, "from": sf.From, "to": sf.To, "lines": lines, "total": toLineJSON(t.Total, "")})
}

type termJSON struct {
	Term           string  `json:"term"`
	Docs           int     `json:"docs"`
	BackgroundDocs int     `json:"background_docs"`
	Score          float64 `json:"score"`
}

func (a *App) trends(c *fiber.Ctx) (stats.Trends, error) {
	if a.opts.Analyzer == nil {
		return stats.Trends{}, errStatus(fiber.StatusServiceUnavailable, "unavailable", "本进程未加载分词器，热点词不可用")
	}
	return a.stats.stats.Trends(c.UserContext(), sessionOf(c).User.Subject(), time.Now(), stats.TrendOptions{Analyzer: a.opts.Analyzer})
}

func (a *App) apiTrends(c *fiber.Ctx) error {
	if err := forbidAdmins(sessionOf(c).User); err != nil {
		return err
	}
	tr, err := a.trends(c)
	if err != nil {
		return err
	}
	conv := func(ts []stats.Term) []termJSON {
		out := make([]termJSON, 0, len(ts))
		for _, t := range ts {
			out = append(out, termJSON{t.Term, t.Docs, t.BackgroundDocs, t.Score})
		}
		return out
	}
	weeks := make([]fiber.Map, 0, len(tr.Weeks))
	for _, w := range tr.Weeks {
		weeks = append(weeks, fiber.Map{"start": w.Start.Format("2006-01-02"), "docs": w.Docs, "terms": conv(w.Terms)})
	}
	return c.JSON(fiber.Map{"weeks": weeks, "rising": conv(tr.Rising)})
}

// chartData feeds a chart: dashboard.js draws it with ECharts; the page shows the same numbers
// as a table for readers without JavaScript.
type chartData struct {
	Kind   string      `json:"kind"` // bar, line, heatmap
	Title  string      `json:"title"`
	Labels []string    `json:"labels"`
	Series []string    `json:"series"`
	Values [][]float64 `json:"values"` // Values[i][j]: label i, series j
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

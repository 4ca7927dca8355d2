package webapp

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/width"

	"infowork/access"
	"infowork/label"
	"infowork/savedsearch"
	"infowork/search"
	"infowork/submission"
)

// searchParams is the URL form of a search; the URL alone reproduces a result page, so results
// can be shared and bookmarked.
type searchParams struct {
	Q               string
	Units           []string
	Categories      []string
	Districts       []string
	Months          []string
	Classifications []string
	Archived        []string // periodical facets (issue 6): "archived"; "open", "closed"
	Endorsed        []string
	States          []string // workflow state codes (issues 5, 7): 办理状态
	From, To        string
	Sort            string
	Page, Size      int
	// More is the facet shown in full (up to moreFacetSize values) instead of its top
	// facetShown; UnitQ filters the unit facet by name; Interval is the date histogram's
	// granularity (day, month or year).
	More, UnitQ, Interval string
}

const (
	// facetShown is how many values a facet shows before its "更多…" link.
	facetShown = 10
	// moreFacetSize is how many values an expanded or searched facet fetches (some 400 units).
	moreFacetSize = 500
)

// finerInterval is where a histogram bar leads: a year to its months, a month to its days.
var finerInterval = map[string]string{search.IntervalYear: search.IntervalMonth, search.IntervalMonth: search.IntervalDay, search.IntervalDay: search.IntervalDay}

func multi(c *fiber.Ctx, key string) []string {
	var out []string
	for _, v := range c.Context().QueryArgs().PeekMulti(key) {
		for _, part := range strings.Split(string(v), ",") {
			if part = strings.TrimSpace(part); part != "" && !slices.Contains(out, part) {
				out = append(out, part)
			}
		}
	}
	return out
}

func parseSearchParams(c *fiber.Ctx) (searchParams, error) {
	p := searchParams{
		Q: strings.TrimSpace(c.Query("q")), Units: multi(c, "unit"), Categories: multi(c, "category"),
		Districts: multi(c, "district"), Months: multi(c, "month"), Classifications: multi(c, "classification"),
		Archived: multi(c, "archived"), Endorsed: multi(c, "endorsed"), States: multi(c, "state"),
		From: c.Query("from"), To: c.Query("to"), Sort: c.Query("sort", search.SortRelevance),
		More: c.Query("more"), UnitQ: strings.TrimSpace(c.Query("unit_q")), Interval: c.Query("interval"),
	}
	var err error
	if p.Page, err = intParam(c, "page", 1, 1, search.MaxResultWindow); err != nil {
		return p, err
	}
	if p.Size, err = intParam(c, "size", search.DefaultPageSize, 1, search.MaxPageSize); err != nil {
		return p, err
	}
	if p.Sort != search.SortRelevance && p.Sort != search.SortDate {
		return p, fmt.Errorf("%w: sort 只能是 relevance 或 date", search.ErrBadQuery)
	}
	if len([]rune(p.Q)) > 500 {
		return p, fmt.Errorf("%w: 检索词最长 500 个字", search.ErrBadQuery)
	}
	if _, ok := facetKeys[p.More]; p.More != "" && !ok {
		return p, fmt.Errorf("%w: more 只能是分面名称（unit、category、district、state、month、classification、archived、endorsed）", search.ErrBadQuery)
	}
	if len([]rune(p.UnitQ)) > 50 {
		return p, fmt.Errorf("%w: 单位筛选词最长 50 个字", search.ErrBadQuery)
	}
	if _, ok := finerInterval[p.Interval]; p.Interval != "" && !ok {
		return p, fmt.Errorf("%w: interval 只能是 day、month 或 year", search.ErrBadQuery)
	}
	return p, nil
}

func intParam(c *fiber.Ctx, key string, def, lo, hi int) (int, error) {
	v := c.Query(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s 必须是 %d 到 %d 之间的整数", search.ErrBadQuery, key, lo, hi)
	}
	return n, nil
}

// parseDate is savedsearch.ParseDate with the error a bad search parameter gets (400).
func parseDate(v string, endOfDay bool) (time.Time, error) {
	t, err := savedsearch.ParseDate(v, endOfDay)
	if err != nil {
		return t, fmt.Errorf("%w: %v", search.ErrBadQuery, err)
	}
	return t, nil
}

// query converts the params with savedsearch.ParseValues, the one parser every consumer of a
// search URL uses (export, subscriptions, periodical seeding, dashboard panels), so the page's
// filters and theirs cannot drift apart.
func (p searchParams) query(sub access.Subject) (search.Query, error) {
	sp, err := savedsearch.ParseValues(p.values())
	if err != nil {
		return search.Query{}, fmt.Errorf("%w: %s", search.ErrBadQuery, err.Error())
	}
	q := sp.Query()
	q.Sort, q.Page, q.Size, q.Facets, q.Scope = p.Sort, p.Page, p.Size, search.AllFacets, access.Scope(sub)
	if p.Page*p.Size > search.MaxResultWindow {
		return q, fmt.Errorf("%w: 最多只能翻到第 %d 条结果，请增加筛选条件", search.ErrBadQuery, search.MaxResultWindow)
	}
	return q, nil
}

// values renders the params as a URL query, with overrides applied.
func (p searchParams) values() url.Values {
	v := url.Values{}
	if p.Q != "" {
		v.Set("q", p.Q)
	}
	for _, pair := range []struct {
		k  string
		vs []string
	}{{"unit", p.Units}, {"category", p.Categories}, {"district", p.Districts}, {"month", p.Months}, {"classification", p.Classifications}, {"state", p.States}, {"archived", p.Archived}, {"endorsed", p.Endorsed}} {
		for _, x := range pair.vs {
			v.Add(pair.k, x)
		}
	}
	if p.From != "" {
		v.Set("from", p.From)
	}
	if p.To != "" {
		v.Set("to", p.To)
	}
	if p.Sort != "" && p.Sort != search.SortRelevance {
		v.Set("sort", p.Sort)
	}
	if p.Size != 0 && p.Size != search.DefaultPageSize {
		v.Set("size", strconv.Itoa(p.Size))
	}
	if p.More != "" {
		v.Set("more", p.More)
	}
	if p.UnitQ != "" {
		v.Set("unit_q", p.UnitQ)
	}
	if p.Interval != "" && p.Interval != search.IntervalMonth {
		v.Set("interval", p.Interval)
	}
	return v
}

func (p searchParams) url(mod func(v url.Values)) string {
	v := p.values()
	if mod != nil {
		mod(v)
	}
	if len(v) == 0 {
		return "/search"
	}
	return "/search?" + v.Encode()
}

// facetKeys maps facet names to their URL parameter.
var facetKeys = map[string]string{
	search.FacetUnit: "unit", search.FacetCategory: "category", search.FacetDistrict: "district",
	search.FacetMonth: "month", search.FacetClassification: "classification",
	search.FacetArchived: "archived", search.FacetEndorsed: "endorsed", search.FacetState: "state",
}

var facetTitles = map[string]string{
	search.FacetUnit: "报送单位", search.FacetCategory: "类别", search.FacetDistrict: "区县",
	search.FacetMonth: "月份", search.FacetClassification: "密级",
	search.FacetArchived: "刊物归档", search.FacetEndorsed: "领导批示", search.FacetState: "办理状态",
}

type facetView struct {
	Name, Title string
	Values      []facetValueView
	// MoreURL expands the facet (set when values were cut); LessURL folds it again.
	MoreURL, LessURL string
	// Searchable facets (unit) show a name filter; UnitQ is its current text.
	Searchable bool
	UnitQ      string
	Hidden     map[string][]string // the other params, kept by the filter form
}

// barView is one bar of the date histogram: Pct is its height relative to the largest bar, in
// twentieths (1–20).
type barView struct {
	Value string
	Count int
	Pct   int
	URL   string
}

// histogramURL filters the search to one bucket (from/to as whole days, so the date inputs
// show them) and moves to the next finer interval.
func (p searchParams) histogramURL(interval, value string) string {
	from, err := parseDate(value, false)
	if err != nil {
		return p.url(nil)
	}
	to, _ := parseDate(value, true)
	return p.url(func(v url.Values) {
		v.Set("from", from.Format("2006-01-02"))
		v.Set("to", to.Format("2006-01-02"))
		v.Del("page")
		if next := finerInterval[interval]; next != search.IntervalMonth {
			v.Set("interval", next)
		} else {
			v.Del("interval")
		}
	})
}

// hiddenFields are the params a form must carry besides the ones it sets itself.
func (p searchParams) hiddenFields(except ...string) map[string][]string {
	out := map[string][]string{}
	for k, vs := range p.values() {
		if !slices.Contains(except, k) {
			out[k] = vs
		}
	}
	return out
}

type facetValueView struct {
	Value, Label string
	Count        int
	Active       bool
	URL          string
}

type chip struct{ Label, URL string }

func (a *App) facetLabel(n *nameCache, facet, value string) string {
	switch facet {
	case search.FacetUnit:
		if u, ok := n.units[value]; ok {
			return u.Name
		}
	case search.FacetClassification:
		return levelName(value)
	case search.FacetDistrict:
		if value == "" {
			return "市级"
		}
	case search.FacetState:
		return submission.StateName(value)
	case search.FacetArchived, search.FacetEndorsed:
		return map[string]string{"archived": "已收入归档刊物", "open": "批示督办中", "closed": "批示已办结"}[value]
	}
	return value
}

func (p searchParams) selected(facet string) []string {
	switch facet {
	case search.FacetUnit:
		return p.Units
	case search.FacetCategory:
		return p.Categories
	case search.FacetDistrict:
		return p.Districts
	case search.FacetMonth:
		return p.Months
	case search.FacetClassification:
		return p.Classifications
	case search.FacetArchived:
		return p.Archived
	case search.FacetEndorsed:
		return p.Endorsed
	case search.FacetState:
		return p.States
	}
	return nil
}

func toggle(v url.Values, key, value string) {
	cur := v[key]
	v.Del(key)
	found := false
	for _, x := range cur {
		if x == value {
			found = true
			continue
		}
		v.Add(key, x)
	}
	if !found {
		v.Add(key, value)
	}
	v.Del("page")
}

func (a *App) searchPage(c *fiber.Ctx) error {
	s := sessionOf(c)
	p, perr := parseSearchParams(c)
	data := fiber.Map{"Params": p, "SortRelevanceURL": p.url(func(v url.Values) { v.Del("sort") }),
		"SortDateURL": p.url(func(v url.Values) { v.Set("sort", search.SortDate) })}
	var q search.Query
	if perr == nil {
		q, perr = p.query(s.User.Subject())
	}
	// One more value than shown tells whether a facet needs its "更多…" link.
	q.FacetSize = facetShown + 1
	if p.More != "" || p.UnitQ != "" {
		q.FacetSize = moreFacetSize
	}
	q.DateHistogram = cmp.Or(p.Interval, search.IntervalMonth)
	if perr != nil {
		he := classify(perr)
		return a.render(c, he.status, "search", page{Title: "信息检索", Nav: "search", Error: he.message, Data: data})
	}
	res, err := a.opts.Engine.Search(c.UserContext(), q)
	if err != nil {
		if errors.Is(err, search.ErrUnavailable) || !errors.Is(err, search.ErrBadQuery) {
			if !errors.Is(err, search.ErrBadQuery) {
				a.log.Error("search failed", "err", err)
			}
			return a.render(c, fiber.StatusServiceUnavailable, "search", page{Title: "信息检索", Nav: "search", Degrade: true,
				Error: "搜索服务暂不可用，请稍后重试；报送信息列表仍可从数据库浏览。", Data: data})
		}
		return a.render(c, fiber.StatusBadRequest, "search", page{Title: "信息检索", Nav: "search", Error: classify(err).message, Data: data})
	}
	n, err := a.lookups(c.UserContext())
	if err != nil {
		return err
	}
	var facets []facetView
	var chips []chip
	for _, name := range search.AllFacets {
		key := facetKeys[name]
		sel := p.selected(name)
		fv := facetView{Name: name, Title: facetTitles[name]}
		if name == search.FacetUnit {
			fv.Searchable, fv.UnitQ, fv.Hidden = true, p.UnitQ, p.hiddenFields("unit_q", "page")
		}
		expanded := p.More == name || (name == search.FacetUnit && p.UnitQ != "")
		seen := map[string]bool{}
		shown := 0
		for _, v := range res.Facets[name] {
			label := a.facetLabel(n, name, v.Value)
			active := slices.Contains(sel, v.Value)
			if name == search.FacetUnit && p.UnitQ != "" && !active && !containsFold(label, p.UnitQ) && !containsFold(v.Value, p.UnitQ) {
				continue
			}
			if !expanded && shown >= facetShown && !active {
				fv.MoreURL = p.url(func(u url.Values) { u.Set("more", name) })
				continue
			}
			shown++
			seen[v.Value] = true
			fv.Values = append(fv.Values, facetValueView{Value: v.Value, Label: label, Count: v.Count,
				Active: active, URL: p.url(func(u url.Values) { toggle(u, key, v.Value) })})
		}
		if p.More == name {
			fv.LessURL = p.url(func(u url.Values) { u.Del("more") })
		}
		for _, v := range sel {
			chips = append(chips, chip{Label: facetTitles[name] + "：" + a.facetLabel(n, name, v), URL: p.url(func(u url.Values) { toggle(u, key, v) })})
			if !seen[v] { // keep a selected value visible even with no hits left
				fv.Values = append(fv.Values, facetValueView{Value: v, Label: a.facetLabel(n, name, v), Active: true,
					URL: p.url(func(u url.Values) { toggle(u, key, v) })})
			}
		}
		facets = append(facets, fv)
	}
	if p.From != "" || p.To != "" {
		chips = append(chips, chip{Label: "日期：" + p.From + " 至 " + p.To, URL: p.url(func(u url.Values) { u.Del("from"); u.Del("to"); u.Del("page") })})
	}
	hits := make([]fiber.Map, 0, len(res.Hits))
	for _, h := range res.Hits {
		hits = append(hits, fiber.Map{"Hit": h, "UnitName": a.facetLabel(n, search.FacetUnit, h.Unit), "StateName": a.facetLabel(n, search.FacetState, h.State)})
	}
	a.searchCompile(c, data, hits) // periodical.go: compile basket, issues a hit appears in (issue 6)
	pages := (res.Total + p.Size - 1) / p.Size
	if max := search.MaxResultWindow / p.Size; pages > max {
		pages = max
	}
	interval := cmp.Or(p.Interval, search.IntervalMonth)
	var bars []barView
	most := 0
	for _, b := range res.Histogram {
		most = max(most, b.Count)
	}
	for _, b := range res.Histogram {
		// Heights in steps of 5 % (CSS classes h1…h20): the page's CSP allows no inline style.
		bars = append(bars, barView{Value: b.Value, Count: b.Count, Pct: max(1, (b.Count*20+most-1)/most), URL: p.histogramURL(interval, b.Value)})
	}
	intervals := []chip{}
	for _, iv := range []struct{ name, label string }{{search.IntervalYear, "按年"}, {search.IntervalMonth, "按月"}, {search.IntervalDay, "按日"}} {
		u := ""
		if iv.name != interval {
			u = p.url(func(v url.Values) {
				if iv.name == search.IntervalMonth {
					v.Del("interval")
				} else {
					v.Set("interval", iv.name)
				}
			})
		}
		intervals = append(intervals, chip{Label: iv.label, URL: u})
	}
	data["Histogram"] = bars
	data["Intervals"] = intervals
	data["Result"] = res
	data["Hits"] = hits
	data["Facets"] = facets
	data["Chips"] = chips
	data["Pages"] = pages
	data["TookMS"] = res.Took.Milliseconds()
	if p.Page > 1 {
		data["PrevURL"] = p.url(func(v url.Values) { v.Set("page", strconv.Itoa(p.Page-1)) })
	}
	if p.Page < pages {
		data["NextURL"] = p.url(func(v url.Values) { v.Set("page", strconv.Itoa(p.Page+1)) })
	}
	data["SaveQuery"] = p.values().Encode() // the 保存检索 link and the export form (issue 7)
	return a.render(c, fiber.StatusOK, "search", page{Title: "信息检索", Nav: "search", Data: data})
}

func (a *App) apiSearch(c *fiber.Ctx) error {
	p, err := parseSearchParams(c)
	if err != nil {
		return err
	}
	q, err := p.query(sessionOf(c).User.Subject())
	if err != nil {
		return err
	}
	if q.FacetSize, err = intParam(c, "facet_size", search.DefaultFacetSize, 1, moreFacetSize); err != nil {
		return err
	}
	q.DateHistogram = p.Interval
	if f := c.Query("facets"); f != "" {
		q.Facets = nil
		for _, name := range strings.Split(f, ",") {
			if _, ok := facetKeys[name]; !ok {
				return fmt.Errorf("%w: 未知的分面 %q", search.ErrBadQuery, name)
			}
			q.Facets = append(q.Facets, name)
		}
	}
	res, err := a.opts.Engine.Search(c.UserContext(), q)
	if err != nil {
		if !errors.Is(err, search.ErrBadQuery) && !errors.Is(err, search.ErrUnavailable) {
			a.log.Error("search failed", "err", err)
			err = fmt.Errorf("%w: %v", search.ErrUnavailable, err)
		}
		return err
	}
	n, err := a.lookups(c.UserContext())
	if err != nil {
		return err
	}
	hits := make([]fiber.Map, 0, len(res.Hits))
	for _, h := range res.Hits {
		hits = append(hits, fiber.Map{
			"id": h.ID, "version": h.Version, "score": h.Score, "title": h.Title, "title_html": h.TitleHTML, "snippet": h.Snippet,
			"unit": h.Unit, "unit_name": a.facetLabel(n, search.FacetUnit, h.Unit), "category": h.Category, "district": h.District,
			"classification": label.Level(h.Classification).String(), "urgency": h.Urgency, "state": h.State,
			"date": h.Date.UTC().Format(time.RFC3339),
		})
		if at := h.Attachment; at != nil { // issue 11: the attachment whose text matched
			hits[len(hits)-1]["attachment"] = fiber.Map{"id": at.ID, "name": at.Name, "snippet": at.Snippet, "url": "/documents/" + at.ID}
		}
	}
	facets := fiber.Map{}
	for name, vals := range res.Facets {
		out := make([]fiber.Map, 0, len(vals))
		for _, v := range vals {
			out = append(out, fiber.Map{"value": v.Value, "count": v.Count, "label": a.facetLabel(n, name, v.Value)})
		}
		facets[name] = out
	}
	out := fiber.Map{"total": res.Total, "took_ms": res.Took.Milliseconds(), "page": p.Page, "size": p.Size, "hits": hits, "facets": facets}
	if q.DateHistogram != "" {
		hist := make([]fiber.Map, 0, len(res.Histogram))
		for _, b := range res.Histogram {
			hist = append(hist, fiber.Map{"value": b.Value, "count": b.Count})
		}
		out["histogram"] = hist
		out["interval"] = q.DateHistogram
	}
	return c.JSON(out)
}

// containsFold reports whether s contains sub, ignoring case and full-width/half-width forms.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(width.Fold.String(s)), strings.ToLower(width.Fold.String(sub)))
}

package export

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"infowork/access"
	"infowork/savedsearch"
	"infowork/search"
	"infowork/stats"
	"infowork/submission"
)

// runSearch exports every hit of a search the subject may read: the rows the search page lists
// for the same URL (the params come from savedsearch.ParseValues, the search page's parser).
// A browse by filters reads the database, except for the periodical filters (archived,
// endorsed), which are computed at indexing time and so are read from the engine like a
// keyword search.
func (s *Service) runSearch(ctx context.Context, j *jobRun, p savedsearch.Params) error {
	if strings.TrimSpace(p.Q) == "" && len(p.Archived) == 0 && len(p.Endorsed) == 0 {
		return s.searchFromDB(ctx, j, p)
	}
	if s.opts.Engine == nil {
		return &ValidationError{"engine", "搜索服务不可用"}
	}
	return s.searchFromEngine(ctx, j, p)
}

func dateRange(p savedsearch.Params) (time.Time, time.Time, error) {
	from, err := parseDay(p.From, false)
	if err != nil {
		return from, from, err
	}
	to, err := parseDay(p.To, true)
	return from, to, err
}

// parseDay is savedsearch.ParseDate with an exclusive end (the first instant after the day,
// month or year), as the database filters here compare with <.
func parseDay(v string, end bool) (time.Time, error) {
	t, err := savedsearch.ParseDate(v, end)
	if err != nil {
		return t, &ValidationError{"from", err.Error()}
	}
	if end && !t.IsZero() {
		t = t.Add(time.Nanosecond)
	}
	return t, nil
}

// searchFromDB streams a search without keywords (a browse by filters) from the database, with
// the same filters and the subject's access predicate (and row-level security).
func (s *Service) searchFromDB(ctx context.Context, j *jobRun, p savedsearch.Params) error {
	pred, args := access.Predicate(j.sub, "s", 1)
	conds := []string{pred}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	from, to, err := dateRange(p)
	if err != nil {
		return err
	}
	if !from.IsZero() {
		add("s.reported_at >= $%d", from)
	}
	if !to.IsZero() {
		add("s.reported_at < $%d", to)
	}
	if len(p.Units) > 0 {
		add("u.code = ANY($%d::text[])", p.Units)
	}
	if len(p.Districts) > 0 {
		add("s.district = ANY($%d::text[])", p.Districts)
	}
	if len(p.Categories) > 0 {
		add("COALESCE(t.top_name, '') = ANY($%d::text[])", p.Categories)
	}
	if len(p.Months) > 0 {
		add("to_char(s.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') = ANY($%d::text[])", p.Months)
	}
	if len(p.Classifications) > 0 {
		add("s.classification = ANY($%d::int[])", p.Classifications)
	}
	if len(p.States) > 0 {
		add("s.state = ANY($%d::text[])", p.States)
	}
	const top = `WITH RECURSIVE top AS (
		SELECT id, name AS top_name FROM categories WHERE parent_id IS NULL
		UNION ALL SELECT c.id, t.top_name FROM categories c JOIN top t ON c.parent_id = t.id) `
	from_ := ` FROM submissions s JOIN units u ON u.id = s.unit_id LEFT JOIN top t ON t.id = s.category_id WHERE ` + strings.Join(conds, " AND ")
	tx, err := access.Begin(ctx, s.opts.ReadDB, j.sub)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	var total int64
	var maxLevel int
	if err := tx.QueryRow(ctx, top+`SELECT count(*), COALESCE(max(s.classification), -1)`+from_, args...).Scan(&total, &maxLevel); err != nil {
		return fmt.Errorf("export: count: %w", err)
	}
	if err := j.begin(ctx, total, maxLevel, "检索结果导出", searchHeader); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, top+`SELECT s.id, s.title, u.name, COALESCE(t.top_name, ''), s.district, s.classification, s.urgency, s.state, s.reported_at`+
		from_+` ORDER BY s.reported_at DESC, s.id DESC`, args...)
	if err != nil {
		return fmt.Errorf("export: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id              int64
			title, unitName string
			cat, district   string
			level           int16
			urgency, state  string
			at              time.Time
		)
		if err := rows.Scan(&id, &title, &unitName, &cat, &district, &level, &urgency, &state, &at); err != nil {
			return fmt.Errorf("export: scan: %w", err)
		}
		if err := j.row(ctx, []any{id, title, unitName, cat, district, levelName(int(level)), submission.UrgencyName(urgency),
			submission.StateName(state), at}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// searchFromEngine pages through a keyword search, split into slices (months, then days) that
// each fit in the engine's result window.
func (s *Service) searchFromEngine(ctx context.Context, j *jobRun, p savedsearch.Params) error {
	if _, _, err := dateRange(p); err != nil {
		return err
	}
	base := p.Query() // every filter, as the search page builds it
	base.Sort, base.Scope = search.SortDate, access.Scope(j.sub)
	head := base
	head.Size = 1
	head.Facets = []string{search.FacetMonth, search.FacetClassification}
	head.FacetSize = search.MaxFacetSize
	res, err := s.opts.Engine.Search(ctx, head)
	if err != nil {
		return fmt.Errorf("export: search: %w", err)
	}
	maxLevel := -1
	for _, v := range res.Facets[search.FacetClassification] {
		for l := 0; l <= 3; l++ {
			if levelName(l) == v.Value || fmt.Sprint(l) == v.Value || levelKey(l) == v.Value {
				maxLevel = max(maxLevel, l)
			}
		}
	}
	if res.Total > 0 && maxLevel < 0 {
		maxLevel = 3 // unknown facet value: label conservatively
	}
	if err := j.begin(ctx, int64(res.Total), maxLevel, "检索结果导出："+p.Describe(), searchHeader); err != nil {
		return err
	}
	months := res.Facets[search.FacetMonth]
	sort.Slice(months, func(a, b int) bool { return months[a].Value > months[b].Value })
	counted := 0
	for _, m := range months {
		counted += m.Count
		start, err := time.ParseInLocation("2006-01", m.Value, search.Location)
		if err != nil {
			return fmt.Errorf("export: month facet %q: %w", m.Value, err)
		}
		if m.Count <= s.opts.Window {
			if err := s.page(ctx, j, base, start, start.AddDate(0, 1, 0), m.Count); err != nil {
				return err
			}
			continue
		}
		for d := start.AddDate(0, 1, -1); !d.Before(start); d = d.AddDate(0, 0, -1) {
			if err := s.page(ctx, j, base, d, d.AddDate(0, 0, 1), -1); err != nil {
				return err
			}
		}
	}
	if counted != res.Total {
		return fmt.Errorf("export: month facets hold %d of %d hits", counted, res.Total)
	}
	return nil
}

func levelKey(l int) string { return []string{"public", "internal", "secret", "confidential"}[l] }

// page writes every hit of base within [from, to); want is the expected count (−1 unknown).
func (s *Service) page(ctx context.Context, j *jobRun, base search.Query, from, to time.Time, want int) error {
	q := base
	if q.From.IsZero() || q.From.Before(from) {
		q.From = from
	}
	end := to.Add(-time.Nanosecond)
	if q.To.IsZero() || q.To.After(end) {
		q.To = end
	}
	q.Size = min(search.MaxPageSize, s.opts.Window)
	got := 0
	for page := 1; ; page++ {
		q.Page = page
		if (page-1)*q.Size >= s.opts.Window {
			return &ValidationError{"q", fmt.Sprintf("%s 一天的命中超过 %d 条，无法完整导出；请增加筛选条件后重试（不会静默截断）",
				from.In(search.Location).Format("2006-01-02"), s.opts.Window)}
		}
		res, err := s.opts.Engine.Search(ctx, q)
		if err != nil {
			return fmt.Errorf("export: search: %w", err)
		}
		if want < 0 {
			want = res.Total
			if want > s.opts.Window {
				return &ValidationError{"q", fmt.Sprintf("%s 一天的命中超过 %d 条，无法完整导出；请增加筛选条件后重试（不会静默截断）",
					from.In(search.Location).Format("2006-01-02"), s.opts.Window)}
			}
		}
		for _, h := range res.Hits {
			if err := j.row(ctx, []any{h.ID, h.Title, h.UnitName, h.Category, h.District, levelName(h.Classification),
				submission.UrgencyName(h.Urgency), submission.StateName(h.State), h.Date}); err != nil {
				return err
			}
			got++
		}
		if len(res.Hits) < q.Size || got >= want {
			break
		}
	}
	return nil
}

// StatsParams are the parameters of a statistics export.
type StatsParams struct {
	Dimension string
	Filter    stats.Filter
	Raw       string
}

// ParseStatsParams parses "dim=unit&from=2026-01-01&to=2026-03-31".
func ParseStatsParams(raw string) (StatsParams, error) {
	v, err := url.ParseQuery(strings.TrimPrefix(raw, "?"))
	if err != nil {
		return StatsParams{}, &ValidationError{"params", "统计条件格式有误"}
	}
	sp := StatsParams{Dimension: v.Get("dim")}
	if sp.Dimension == "" {
		sp.Dimension = stats.ByUnit
	}
	if !stats.ValidDimension(sp.Dimension) {
		return sp, &ValidationError{"dim", "统计维度只能是 unit、district、category 或 month"}
	}
	if sp.Filter.From, err = parseDay(v.Get("from"), false); err != nil {
		return sp, err
	}
	if sp.Filter.To, err = parseDay(v.Get("to"), true); err != nil {
		return sp, err
	}
	sp.Filter.Units, sp.Filter.Districts, sp.Filter.Categories = v["unit"], v["district"], v["category"]
	return sp, nil
}

// runStats exports a statistics table.
func (s *Service) runStats(ctx context.Context, j *jobRun, sp StatsParams) error {
	if s.opts.Stats == nil {
		return &ValidationError{"stats", "统计服务不可用"}
	}
	t, err := s.opts.Stats.Table(ctx, j.sub, sp.Dimension, sp.Filter)
	if err != nil {
		return err
	}
	// Statistics are counts, but counts of records up to the subject's clearance: label the
	// file with the highest level among the records counted.
	maxLevel, err := s.maxLevel(ctx, j.sub, sp.Filter)
	if err != nil {
		return err
	}
	header := []string{stats.DimensionName(sp.Dimension), "信息量", "报送", "采用", "综合采用", "退回", "采用率", "平均采用时长（小时）", "领导批示", "迟报", "漏报"}
	if err := j.begin(ctx, int64(len(t.Lines)+1), maxLevel, "信息统计（按"+stats.DimensionName(sp.Dimension)+"）", header); err != nil {
		return err
	}
	for _, l := range append(t.Lines, t.Total) {
		name := l.Name
		if name == "" {
			name = "（未填）"
		}
		if err := j.row(ctx, []any{name, l.Records, l.Submitted, l.Adopted, l.Merged, l.Returned,
			fmt.Sprintf("%.1f%%", l.AdoptionRate*100), fmt.Sprintf("%.1f", l.HoursToAdopt), l.EndorsementTotal(), l.Late, l.Missed}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) maxLevel(ctx context.Context, sub access.Subject, f stats.Filter) (int, error) {
	pred, args := access.Predicate(sub, "s", 1)
	q := `SELECT COALESCE(max(s.classification), -1) FROM submissions s WHERE ` + pred
	if !f.From.IsZero() {
		args = append(args, f.From)
		q += fmt.Sprintf(" AND s.reported_at >= $%d", len(args))
	}
	if !f.To.IsZero() {
		args = append(args, f.To)
		q += fmt.Sprintf(" AND s.reported_at < $%d", len(args))
	}
	tx, err := access.Begin(ctx, s.opts.ReadDB, sub)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	var lvl int
	if err := tx.QueryRow(ctx, q, args...).Scan(&lvl); err != nil {
		return 0, fmt.Errorf("export: label: %w", err)
	}
	return lvl, nil
}

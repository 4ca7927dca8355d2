package stats

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/search"
)

// Dimensions a table can be grouped by; each is also a search facet, so a number drills down
// to the search filtered by the same value.
const (
	ByUnit     = search.FacetUnit
	ByDistrict = search.FacetDistrict
	ByCategory = search.FacetCategory
	ByMonth    = search.FacetMonth
)

// Dimensions lists the dimensions in display order.
var Dimensions = []string{ByUnit, ByDistrict, ByCategory, ByMonth}

// DimensionName is the zh-CN name of a dimension.
func DimensionName(d string) string {
	return map[string]string{ByUnit: "单位", ByDistrict: "区县", ByCategory: "类别", ByMonth: "月份"}[d]
}

// Filter narrows the records counted. Zero times are open ends; To is exclusive.
type Filter struct {
	From, To   time.Time
	Units      []string
	Districts  []string
	Categories []string
}

// Line is one row of a statistics table.
type Line struct {
	Key  string // the facet value (unit code, district, top category name, 2006-01)
	Name string // display name (unit name; the key otherwise)
	// Records are every record of the group (what a search finds); Submitted those that reached
	// the office (past unit approval).
	Records   int
	Submitted int
	Adopted   int
	Merged    int
	Returned  int // records returned at least once
	// AdoptionRate is (Adopted+Merged)/Submitted, 0 when nothing was submitted.
	AdoptionRate float64
	// HoursToAdopt is the mean hours from reaching the office to adoption, 0 without adoptions.
	HoursToAdopt float64
	// Endorsements counts endorsements (领导批示) of the group's records by leader level.
	Endorsements map[string]int
	Late, Missed int // late and missed solicitations (per unit; 0 for other dimensions)
}

// EndorsementTotal sums Endorsements.
func (l Line) EndorsementTotal() int {
	n := 0
	for _, v := range l.Endorsements {
		n += v
	}
	return n
}

// Table is the answer to a statistics question.
type Table struct {
	Dimension string
	Lines     []Line
	Total     Line
}

// Service computes statistics.
type Service struct {
	db     *pgxpool.Pool
	engine search.Engine
}

// New returns a service reading db (may be a read-only standby pool) and engine.
func New(db *pgxpool.Pool, engine search.Engine) *Service { return &Service{db: db, engine: engine} }

// ValidDimension reports whether d is a dimension.
func ValidDimension(d string) bool { return slices.Contains(Dimensions, d) }

const topCategories = `WITH RECURSIVE top AS (
	SELECT id, name AS top_name FROM categories WHERE parent_id IS NULL
	UNION ALL
	SELECT c.id, t.top_name FROM categories c JOIN top t ON c.parent_id = t.id)
`

// keyExpr is the SQL of a dimension's key over the base rows; it must equal the engine's facet
// value of the same record (search.Document built by submission.Documents).
var keyExpr = map[string]string{
	ByUnit:     "u.code",
	ByDistrict: "s.district",
	ByCategory: "COALESCE(t.top_name, '')",
	ByMonth:    "to_char(s.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')",
}

// where builds the filter and access predicate over submissions s joined with units u and top t.
func where(sub access.Subject, f Filter) (string, []any) {
	pred, args := access.Predicate(sub, "s", 1)
	conds := []string{pred}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if !f.From.IsZero() {
		add("s.reported_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("s.reported_at < $%d", f.To)
	}
	if len(f.Units) > 0 {
		add("u.code = ANY($%d::text[])", f.Units)
	}
	if len(f.Districts) > 0 {
		add("s.district = ANY($%d::text[])", f.Districts)
	}
	if len(f.Categories) > 0 {
		add("COALESCE(t.top_name, '') = ANY($%d::text[])", f.Categories)
	}
	return strings.Join(conds, " AND "), args
}

// Table computes the statistics of the records sub may read, grouped by dim, from the
// database. Every count includes only records sub may read (access predicate in the query, and
// row-level security for the application role).
func (s *Service) Table(ctx context.Context, sub access.Subject, dim string, f Filter) (Table, error) {
	key, ok := keyExpr[dim]
	if !ok {
		return Table{}, fmt.Errorf("%w: 统计维度只能是 unit、district、category 或 month", search.ErrBadQuery)
	}
	w, args := where(sub, f)
	nameExpr := key
	if dim == ByUnit {
		nameExpr = "u.name"
	}
	sql := topCategories + `, base AS (
		SELECT s.id, s.state, s.reported_at, s.unit_id, ` + key + ` AS k, ` + nameExpr + ` AS name
		FROM submissions s JOIN units u ON u.id = s.unit_id LEFT JOIN top t ON t.id = s.category_id
		WHERE ` + w + `),
	timed AS (
		SELECT b.*, (SELECT min(w.at) FROM workflow_events w WHERE w.submission_id = b.id AND w.to_state IN ('adopted', 'merged')) AS adopted_at,
			COALESCE((SELECT min(w.at) FROM workflow_events w WHERE w.submission_id = b.id AND w.to_state = 'submitted'), b.reported_at) AS arrived_at,
			EXISTS (SELECT 1 FROM workflow_events w WHERE w.submission_id = b.id AND w.to_state = 'returned') AS was_returned
		FROM base b)
	SELECT k, min(name), count(*),
		count(*) FILTER (WHERE state NOT IN ('draft', 'unit_approval')),
		count(*) FILTER (WHERE state = 'adopted'),
		count(*) FILTER (WHERE state = 'merged'),
		count(*) FILTER (WHERE was_returned OR state = 'returned'),
		COALESCE(avg(extract(epoch FROM adopted_at - arrived_at) / 3600) FILTER (WHERE adopted_at IS NOT NULL AND state IN ('adopted', 'merged')), 0)::float8
	FROM timed GROUP BY k ORDER BY k`
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return Table{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return Table{}, fmt.Errorf("stats: table by %s: %w", dim, err)
	}
	t := Table{Dimension: dim}
	for rows.Next() {
		var l Line
		if err := rows.Scan(&l.Key, &l.Name, &l.Records, &l.Submitted, &l.Adopted, &l.Merged, &l.Returned, &l.HoursToAdopt); err != nil {
			rows.Close()
			return Table{}, fmt.Errorf("stats: table by %s: %w", dim, err)
		}
		t.Lines = append(t.Lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Table{}, fmt.Errorf("stats: table by %s: %w", dim, err)
	}
	if err := s.endorsements(ctx, tx, dim, key, w, args, &t); err != nil {
		return Table{}, err
	}
	if dim == ByUnit {
		if err := s.solicitations(ctx, tx, sub, f, &t); err != nil {
			return Table{}, err
		}
	}
	var hoursWeighted float64
	for i := range t.Lines {
		l := &t.Lines[i]
		l.AdoptionRate = rate(l.Adopted+l.Merged, l.Submitted)
		t.Total.Records += l.Records
		t.Total.Submitted += l.Submitted
		t.Total.Adopted += l.Adopted
		t.Total.Merged += l.Merged
		t.Total.Returned += l.Returned
		t.Total.Late += l.Late
		t.Total.Missed += l.Missed
		hoursWeighted += l.HoursToAdopt * float64(l.Adopted+l.Merged)
		for k, v := range l.Endorsements {
			if t.Total.Endorsements == nil {
				t.Total.Endorsements = map[string]int{}
			}
			t.Total.Endorsements[k] += v
		}
	}
	t.Total.Key, t.Total.Name = "", "合计"
	t.Total.AdoptionRate = rate(t.Total.Adopted+t.Total.Merged, t.Total.Submitted)
	if n := t.Total.Adopted + t.Total.Merged; n > 0 {
		t.Total.HoursToAdopt = hoursWeighted / float64(n)
	}
	sort.SliceStable(t.Lines, func(i, j int) bool {
		if dim == ByMonth {
			return t.Lines[i].Key < t.Lines[j].Key
		}
		return t.Lines[i].Records > t.Lines[j].Records
	})
	return t, nil
}

func rate(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// endorsements counts endorsement events of the visible records per group and leader level.
func (s *Service) endorsements(ctx context.Context, tx pgx.Tx, dim, key, w string, args []any, t *Table) error {
	rows, err := tx.Query(ctx, topCategories+`SELECT `+key+`, e.attrs->>'level', count(*)
		FROM scoring_events e JOIN submissions s ON s.id = e.submission_id JOIN units u ON u.id = s.unit_id
		LEFT JOIN top t ON t.id = s.category_id
		WHERE e.kind = 'endorsement' AND e.voided_at IS NULL AND `+w+` GROUP BY 1, 2`, args...)
	if err != nil {
		return fmt.Errorf("stats: endorsements by %s: %w", dim, err)
	}
	defer rows.Close()
	idx := map[string]int{}
	for i, l := range t.Lines {
		idx[l.Key] = i
	}
	for rows.Next() {
		var k, level string
		var n int
		if err := rows.Scan(&k, &level, &n); err != nil {
			return fmt.Errorf("stats: endorsements by %s: %w", dim, err)
		}
		if i, ok := idx[k]; ok {
			if t.Lines[i].Endorsements == nil {
				t.Lines[i].Endorsements = map[string]int{}
			}
			t.Lines[i].Endorsements[level] += n
		}
	}
	return rows.Err()
}

// solicitations counts late and missed solicitations per unit, for the units sub may see.
func (s *Service) solicitations(ctx context.Context, tx pgx.Tx, sub access.Subject, f Filter, t *Table) error {
	args := []any{sub.AllUnits(), sub.Units()}
	if args[1] == nil {
		args[1] = []string{}
	}
	cond := ""
	if !f.From.IsZero() {
		args = append(args, f.From)
		cond += fmt.Sprintf(" AND e.occurred_at >= $%d", len(args))
	}
	if !f.To.IsZero() {
		args = append(args, f.To)
		cond += fmt.Sprintf(" AND e.occurred_at < $%d", len(args))
	}
	rows, err := tx.Query(ctx, `SELECT u.code, count(*) FILTER (WHERE e.kind = 'solicitation_late'), count(*) FILTER (WHERE e.kind = 'solicitation_missed')
		FROM scoring_events e JOIN units u ON u.id = e.unit_id
		WHERE e.kind IN ('solicitation_late', 'solicitation_missed') AND e.voided_at IS NULL AND ($1 OR u.code = ANY($2::text[]))`+cond+` GROUP BY u.code`, args...)
	if err != nil {
		return fmt.Errorf("stats: solicitations: %w", err)
	}
	defer rows.Close()
	idx := map[string]int{}
	for i, l := range t.Lines {
		idx[l.Key] = i
	}
	for rows.Next() {
		var code string
		var late, missed int
		if err := rows.Scan(&code, &late, &missed); err != nil {
			return fmt.Errorf("stats: solicitations: %w", err)
		}
		if i, ok := idx[code]; ok {
			t.Lines[i].Late, t.Lines[i].Missed = late, missed
		}
	}
	return rows.Err()
}

// EngineCounts answers "how many records per value of dim" from the search engine's facets,
// within sub's scope and the filter; the values are the same keys as Table's lines.
func (s *Service) EngineCounts(ctx context.Context, sub access.Subject, dim string, f Filter) (map[string]int, int, error) {
	if !ValidDimension(dim) {
		return nil, 0, fmt.Errorf("%w: 统计维度只能是 unit、district、category 或 month", search.ErrBadQuery)
	}
	q := search.Query{Units: f.Units, Districts: f.Districts, Categories: f.Categories, From: f.From, Size: 1,
		Facets: []string{dim}, FacetSize: search.MaxFacetSize, Scope: access.Scope(sub)}
	if !f.To.IsZero() {
		q.To = f.To.Add(-time.Nanosecond) // Query.To is inclusive
	}
	res, err := s.engine.Search(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("stats: engine counts by %s: %w", dim, err)
	}
	out := map[string]int{}
	for _, v := range res.Facets[dim] {
		out[v.Value] = v.Count
	}
	return out, res.Total, nil
}

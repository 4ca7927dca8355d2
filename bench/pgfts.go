package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/analyzers"
	"infowork/search"
)

// PGFTS is the "no search engine" alternative: PostgreSQL full-text search with a GIN index over
// text pre-segmented by the same analyzer (jieba precise mode, terms joined by spaces, the
// 'simple' configuration), facets as GROUP BY over the matching rows, highlighting with
// ts_headline. It answers the same search.Query as the engines (the subset the benchmark uses:
// words, phrases, OR, filters, scope by level and unit, five facets, month histogram).
//
// It lives in its own table bench_fts, created and filled by the harness in the benchmark
// database (never in production: the application has no such table).
type PGFTS struct {
	DB *pgxpool.Pool
	An *analyzers.Analyzer
}

// Name is the label in the tables.
func (p *PGFTS) Name() string { return "pg-fts" }

// Create drops and creates bench_fts without its GIN index (Index builds it after the load).
func (p *PGFTS) Create(ctx context.Context) error {
	_, err := p.DB.Exec(ctx, `DROP TABLE IF EXISTS bench_fts;
		CREATE TABLE bench_fts (
			id bigint PRIMARY KEY, title text NOT NULL, body_seg text NOT NULL,
			unit text NOT NULL, category text NOT NULL, district text NOT NULL, month text NOT NULL,
			level int NOT NULL, date timestamptz NOT NULL, tsv tsvector NOT NULL)`)
	if err != nil {
		return fmt.Errorf("bench: create bench_fts: %w", err)
	}
	return nil
}

// Index builds the GIN index and the filter indexes, then analyzes the table.
func (p *PGFTS) Index(ctx context.Context) error {
	_, err := p.DB.Exec(ctx, `CREATE INDEX bench_fts_tsv ON bench_fts USING gin (tsv);
		CREATE INDEX bench_fts_date ON bench_fts (date);
		CREATE INDEX bench_fts_unit ON bench_fts (unit, date);
		CREATE INDEX bench_fts_category ON bench_fts (category, date);
		ANALYZE bench_fts`)
	if err != nil {
		return fmt.Errorf("bench: index bench_fts: %w", err)
	}
	return nil
}

// Segment joins the analyzer's precise-mode terms with spaces.
func Segment(an *analyzers.Analyzer, text string) string {
	toks := an.Query(text)
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.Term)
	}
	return b.String()
}

// Load inserts documents (segmenting them here, as an application would before writing).
func (p *PGFTS) Load(ctx context.Context, docs []search.Document) error {
	n := len(docs)
	ids := make([]int64, n)
	titles, titleSeg, bodySeg := make([]string, n), make([]string, n), make([]string, n)
	units, cats, dists, months := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	levels := make([]int32, n)
	dates := make([]time.Time, n)
	for i, d := range docs {
		id, err := strconv.ParseInt(d.ID, 10, 64)
		if err != nil {
			return fmt.Errorf("bench: document id %q: %w", d.ID, err)
		}
		ids[i], titles[i] = id, d.Title
		titleSeg[i], bodySeg[i] = Segment(p.An, d.Title), Segment(p.An, d.Body)
		units[i], cats[i], dists[i], months[i] = d.Unit, d.Category, d.District, search.Month(d.Date)
		levels[i] = int32(d.Classification) // #nosec G115 -- 0..3
		dates[i] = d.Date
	}
	_, err := p.DB.Exec(ctx, `INSERT INTO bench_fts (id, title, body_seg, unit, category, district, month, level, date, tsv)
		SELECT id, title, body_seg, unit, category, district, month, level, date,
			setweight(to_tsvector('simple', title_seg), 'A') || to_tsvector('simple', body_seg)
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::timestamptz[])
			AS t(id, title, title_seg, body_seg, unit, category, district, month, level, date)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, body_seg = excluded.body_seg, unit = excluded.unit,
			category = excluded.category, district = excluded.district, month = excluded.month, level = excluded.level,
			date = excluded.date, tsv = excluded.tsv`,
		ids, titles, titleSeg, bodySeg, units, cats, dists, months, levels, dates)
	if err != nil {
		return fmt.Errorf("bench: load bench_fts: %w", err)
	}
	return nil
}

// tsquery translates a parsed query into to_tsquery('simple', …) syntax; "" means no text
// condition (browse).
func (p *PGFTS) tsquery(n search.Node) (string, error) {
	switch n := n.(type) {
	case search.All:
		return "", nil
	case search.Word:
		return p.phrase(n.Text), nil
	case search.Phrase:
		return p.phrase(n.Text), nil
	case search.Or:
		var parts []string
		for _, c := range n.Nodes {
			s, err := p.tsquery(c)
			if err != nil {
				return "", err
			}
			if s != "" {
				parts = append(parts, "("+s+")")
			}
		}
		return strings.Join(parts, " | "), nil
	case search.And:
		var parts []string
		for _, c := range n.Nodes {
			neg := false
			if nn, ok := c.(search.Not); ok {
				neg, c = true, nn.Node
			}
			s, err := p.tsquery(c)
			if err != nil {
				return "", err
			}
			if s == "" {
				continue
			}
			if neg {
				s = "!(" + s + ")"
			} else {
				s = "(" + s + ")"
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " & "), nil
	}
	return "", fmt.Errorf("bench: pg-fts: %w: unsupported query %s", search.ErrBadQuery, n)
}

// phrase is a word's or phrase's tokens at consecutive positions (a <-> b).
func (p *PGFTS) phrase(text string) string {
	var terms []string
	for _, t := range p.An.Query(text) {
		terms = append(terms, "'"+strings.ReplaceAll(t.Term, "'", "''")+"'")
	}
	return strings.Join(terms, " <-> ")
}

// Search answers q: one statement for the total, the five facets and the histogram over the
// matching rows, one for the top hits with highlighting.
func (p *PGFTS) Search(ctx context.Context, q search.Query) (search.Result, error) {
	start := time.Now()
	node, err := search.ParseQuery(q.Text)
	if err != nil {
		return search.Result{}, err
	}
	tsq, err := p.tsquery(node)
	if err != nil {
		return search.Result{}, err
	}
	var where []string
	args := []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if tsq != "" {
		where = append(where, "tsv @@ to_tsquery('simple', "+arg(tsq)+")")
	}
	where = append(where, "level <= "+arg(q.Scope.MaxLevel))
	if !q.Scope.AllUnits {
		where = append(where, "unit = ANY("+arg(q.Scope.Units)+"::text[])")
	}
	for col, vals := range map[string][]string{"unit": q.Units, "category": q.Categories, "district": q.Districts, "month": q.Months} {
		if len(vals) > 0 {
			where = append(where, col+" = ANY("+arg(vals)+"::text[])")
		}
	}
	if !q.From.IsZero() {
		where = append(where, "date >= "+arg(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "date <= "+arg(q.To))
	}
	cond := strings.Join(where, " AND ")
	facetSize := q.FacetSize
	if facetSize == 0 {
		facetSize = search.DefaultFacetSize
	}
	fs := strconv.Itoa(facetSize)
	agg := `WITH m AS MATERIALIZED (SELECT unit, category, district, month, level FROM bench_fts WHERE ` + cond + `)
		SELECT 'total', '', count(*) FROM m
		UNION ALL (SELECT 'unit', unit, count(*) FROM m GROUP BY unit ORDER BY 3 DESC, 2 LIMIT ` + fs + `)
		UNION ALL (SELECT 'category', category, count(*) FROM m GROUP BY category ORDER BY 3 DESC, 2 LIMIT ` + fs + `)
		UNION ALL (SELECT 'district', district, count(*) FROM m WHERE district <> '' GROUP BY district ORDER BY 3 DESC, 2 LIMIT ` + fs + `)
		UNION ALL (SELECT 'month', month, count(*) FROM m GROUP BY month ORDER BY 2 DESC LIMIT ` + fs + `)
		UNION ALL (SELECT 'classification', level::text, count(*) FROM m GROUP BY level ORDER BY 3 DESC LIMIT ` + fs + `)
		UNION ALL (SELECT '_histogram', month, count(*) FROM m GROUP BY month)`
	res := search.Result{Facets: map[string][]search.FacetValue{}}
	rows, err := p.DB.Query(ctx, agg, args...)
	if err != nil {
		return res, fmt.Errorf("bench: pg-fts facets: %w", err)
	}
	for rows.Next() {
		var kind, val string
		var n int
		if err := rows.Scan(&kind, &val, &n); err != nil {
			rows.Close()
			return res, err
		}
		switch kind {
		case "total":
			res.Total = n
		case "_histogram":
			res.Histogram = append(res.Histogram, search.FacetValue{Value: val, Count: n})
		default:
			res.Facets[kind] = append(res.Facets[kind], search.FacetValue{Value: val, Count: n})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("bench: pg-fts facets: %w", err)
	}
	size := q.Size
	if size == 0 {
		size = search.DefaultPageSize
	}
	order := "date DESC, id"
	rank := "0"
	if tsq != "" && q.Sort != search.SortDate {
		rank = "ts_rank(tsv, to_tsquery('simple', $1))"
		order = "r DESC, date DESC, id"
	}
	hl := "left(body_seg, 160)"
	if tsq != "" {
		hl = "ts_headline('simple', body_seg, to_tsquery('simple', $1), 'StartSel=<mark>, StopSel=</mark>, MaxWords=60, MinWords=20')"
	}
	hits := `SELECT id, title, ` + hl + `, unit, category, district, level, date FROM (
		SELECT id, title, body_seg, unit, category, district, level, date, ` + rank + ` AS r FROM bench_fts WHERE ` + cond + `
		ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(size) + `) t ORDER BY ` + order
	hrows, err := p.DB.Query(ctx, hits, args...)
	if err != nil {
		return res, fmt.Errorf("bench: pg-fts hits: %w", err)
	}
	res.Hits, err = pgx.CollectRows(hrows, func(r pgx.CollectableRow) (search.Hit, error) {
		var h search.Hit
		var id int64
		err := r.Scan(&id, &h.Title, &h.Snippet, &h.Unit, &h.Category, &h.District, &h.Classification, &h.Date)
		h.ID = strconv.FormatInt(id, 10)
		return h, err
	})
	if err != nil {
		return res, fmt.Errorf("bench: pg-fts hits: %w", err)
	}
	res.Took = time.Since(start)
	return res, nil
}

// ErrNoOpenSearch is returned when the OpenSearch alternative was asked for but cannot be reached.
var ErrNoOpenSearch = errors.New("bench: OpenSearch not reachable")

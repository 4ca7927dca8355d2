package embedded

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"infowork/analyzers"
	"infowork/search"
)

// facetFetch is how many values Bleve returns per facet before we sort and cut; the counts are
// exact for every value, only the list is trimmed.
const facetFetch = search.MaxFacetSize

// histogramFacet is the Bleve facet behind Result.Histogram, and histogramFetch its size: every
// day of some 270 years, so a histogram is never cut.
const (
	histogramFacet = "_histogram"
	histogramFetch = 100000
)

// histogramFields are the keyword fields a histogram counts; years are summed from months.
var histogramFields = map[string]string{search.IntervalDay: fDay, search.IntervalMonth: fMonth, search.IntervalYear: fMonth}

// hitFields are the stored fields a hit shows; att_id only tells whether the record has
// attachments (setAttachmentHits reads those hits again for the passage).
var hitFields = []string{fTitle, fBody, fUnit, fUnitName, fCategory, fDistrict, fLevel, fUrgency, fState, fDateText, fVersion, fLabelText, fAttID}

// Search implements search.Engine.
func (e *Engine) Search(ctx context.Context, q search.Query) (search.Result, error) {
	start := time.Now()
	page, size, facetSize, err := limits(q)
	if err != nil {
		return search.Result{}, err
	}
	node, err := search.ParseQuery(q.Text)
	if err != nil {
		return search.Result{}, fmt.Errorf("embedded: search: %w", err)
	}
	bq := e.query(q, node)

	req := bleve.NewSearchRequestOptions(bq, size, (page-1)*size, false)
	req.Fields = hitFields
	if q.Sort == search.SortDate {
		req.Score = "none"
	}
	for _, name := range q.Facets {
		if _, ok := facetFields[name]; !ok {
			return search.Result{}, fmt.Errorf("embedded: search: %w: 不支持的分面 %q", search.ErrBadQuery, name)
		}
	}
	// Facets and the histogram are counted from per-segment columns while Bleve collects the
	// hits (facets.go); should that be impossible the search runs again with Bleve's facets.
	// The date sort key comes from the same columns (dateSort).
	fc := &facetCounter{cache: &e.columns}
	for _, name := range q.Facets {
		fc.fields = append(fc.fields, facetFields[name])
	}
	if q.DateHistogram != "" {
		fc.fields = append(fc.fields, histogramFields[q.DateHistogram])
	}
	slices.Sort(fc.fields)
	fc.fields = slices.Compact(fc.fields)
	req.Query = &countingQuery{Query: bq, fc: fc}
	byDate := &dateSort{fc: fc, desc: true}
	byID := &idSort{fc: fc}
	if q.Sort == search.SortDate {
		req.Sort = bsearch.SortOrder{byDate, byID}
	} else {
		req.Sort = bsearch.SortOrder{&bsearch.SortScore{Desc: true}, byDate, byID}
	}
	var res *bleve.SearchResult
	if e.columnsOff || !e.columns.warm(e.idx) {
		fc.err = errNoColumns // (or a large segment's columns are still being built)
	} else {
		res, err = e.idx.SearchInContext(ctx, req)
	}
	if err == nil && fc.err != nil {
		fc = nil
		req.Query = bq
		req.Sort = nil
		if q.Sort == search.SortDate {
			req.SortBy([]string{"-" + fDate, "_id"})
		} else {
			req.SortBy([]string{"-_score", "-" + fDate, "_id"})
		}
		bleveFacets(req, q)
		res, err = e.idx.SearchInContext(ctx, req)
	}
	if err != nil {
		if ctx.Err() != nil {
			return search.Result{}, fmt.Errorf("embedded: search: %w", ctx.Err())
		}
		return search.Result{}, fmt.Errorf("embedded: search: %w: %w", search.ErrUnavailable, err)
	}

	terms := highlightTerms(e.an, node)
	out := search.Result{Total: int(res.Total), Hits: make([]search.Hit, 0, len(res.Hits))} // #nosec G115 -- a hit count; int is 64-bit on every supported platform
	bodies := make([]string, 0, len(res.Hits))
	withAtt := make([]bool, 0, len(res.Hits))
	for _, h := range res.Hits {
		withAtt = append(withAtt, h.Fields[fAttID] != nil)
		str := func(f string) string { s, _ := h.Fields[f].(string); return s }
		hit := search.Hit{
			ID:       h.ID,
			Score:    h.Score,
			Title:    str(fTitle),
			Unit:     str(fUnit),
			UnitName: str(fUnitName),
			Category: str(fCategory),
			District: str(fDistrict),
			Urgency:  str(fUrgency),
			State:    str(fState),
		}
		if math.IsNaN(hit.Score) || q.Sort == search.SortDate {
			hit.Score = 0
		}
		if lv, ok := h.Fields[fLevel].(float64); ok {
			hit.Classification = int(lv)
		}
		hit.Version, _ = strconv.ParseInt(str(fVersion), 10, 64)
		if lc := str(fLabelText); lc != "" {
			hit.LabelCategories = strings.Split(lc, labelCatSep)
		}
		if d := str(fDateText); d != "" {
			hit.Date, _ = time.Parse(time.RFC3339Nano, d)
		}
		out.Hits = append(out.Hits, hit)
		bodies = append(bodies, str(fBody))
	}
	ids := make([]string, len(out.Hits))
	titles := make([]string, len(out.Hits))
	for i := range out.Hits {
		ids[i], titles[i] = out.Hits[i].ID, out.Hits[i].Title
	}
	title := &highlightField{name: fTitle, texts: titles}
	body := &highlightField{name: fBody, texts: bodies, maxRunes: snippetRunes}
	e.highlight(ctx, ids, terms, title, body)
	for i := range out.Hits {
		out.Hits[i].TitleHTML, out.Hits[i].Snippet = title.out[i], body.out[i]
	}
	e.setAttachmentHits(out.Hits, withAtt, terms) // attachments.go
	if fc != nil && (len(q.Facets) > 0 || q.DateHistogram != "") {
		e.columnCount.Add(1)
	}
	counts := func(name, field string) map[string]int {
		if fc != nil {
			return fc.result(field)
		}
		return termCounts(res.Facets[name])
	}
	if len(q.Facets) > 0 {
		out.Facets = make(map[string][]search.FacetValue, len(q.Facets))
		for _, name := range q.Facets {
			out.Facets[name] = facetValues(name, counts(name, facetFields[name]), facetSize)
		}
	}
	if q.DateHistogram != "" {
		name := histogramFacet
		if histogramFields[q.DateHistogram] == fMonth && slices.Contains(q.Facets, search.FacetMonth) {
			name = search.FacetMonth
		}
		out.Histogram = histogram(q.DateHistogram, counts(name, histogramFields[q.DateHistogram]))
	}
	out.Took = time.Since(start)
	return out, nil
}

// query is the Bleve query of q: the text query filtered by the scope and the filters. The
// scope and keyword filters are one bitmap query (scope.go); a search without text walks that
// bitmap instead of every document. Without the columns (tests) the filters are plain Bleve
// queries, as filterSpec.fallback is.
func (e *Engine) query(q search.Query, node search.Node) *query.BooleanQuery {
	if e.columnsOff {
		bq := query.NewBooleanQuery([]query.Query{e.textQuery(node)}, nil, nil)
		bq.AddFilter(query.NewConjunctionQuery(append(scopeFilter(q.Scope), filters(q)...)))
		return bq
	}
	fq := &filterQuery{spec: newFilterSpec(q), cache: &e.columns}
	dq := dateFilter(q)
	if _, all := node.(search.All); all {
		bq := query.NewBooleanQuery([]query.Query{fq}, nil, nil)
		if dq != nil {
			bq.AddFilter(dq)
		}
		return bq
	}
	bq := query.NewBooleanQuery([]query.Query{e.textQuery(node)}, nil, nil)
	if dq != nil {
		bq.AddFilter(query.NewConjunctionQuery([]query.Query{fq, dq}))
	} else {
		bq.AddFilter(fq)
	}
	return bq
}

// bleveFacets asks Bleve for the facets and the histogram (the fallback of the column counter).
// A month or year histogram counts the month field, like the month facet: one facet request
// serves both.
func bleveFacets(req *bleve.SearchRequest, q search.Query) {
	for _, name := range q.Facets {
		req.AddFacet(name, bleve.NewFacetRequest(facetFields[name], facetFetch))
	}
	if q.DateHistogram != "" {
		f := histogramFields[q.DateHistogram]
		if f == fMonth && slices.Contains(q.Facets, search.FacetMonth) {
			req.Facets[search.FacetMonth].Size = histogramFetch
		} else {
			req.AddFacet(histogramFacet, bleve.NewFacetRequest(f, histogramFetch))
		}
	}
}

// termCounts are the counts of a Bleve terms facet.
func termCounts(fr *bsearch.FacetResult) map[string]int {
	out := map[string]int{}
	if fr != nil && fr.Terms != nil {
		for _, t := range fr.Terms.Terms() {
			out[t.Term] += t.Count
		}
	}
	return out
}

// histogram turns the day or month counts into Result.Histogram, oldest first.
func histogram(interval string, terms map[string]int) []search.FacetValue {
	counts := map[string]int{}
	for k, n := range terms {
		if interval == search.IntervalYear && len(k) >= 4 {
			k = k[:4]
		}
		counts[k] += n
	}
	out := make([]search.FacetValue, 0, len(counts))
	for k, n := range counts {
		out = append(out, search.FacetValue{Value: k, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

const snippetRunes = 160

func limits(q search.Query) (page, size, facetSize int, err error) {
	page, size, facetSize = q.Page, q.Size, q.FacetSize
	if page == 0 {
		page = 1
	}
	if size == 0 {
		size = search.DefaultPageSize
	}
	if facetSize == 0 {
		facetSize = search.DefaultFacetSize
	}
	switch {
	case page < 1:
		return 0, 0, 0, fmt.Errorf("embedded: search: %w: 页码必须大于 0（page=%d）", search.ErrBadQuery, q.Page)
	case size < 1 || size > search.MaxPageSize:
		return 0, 0, 0, fmt.Errorf("embedded: search: %w: 每页条数须在 1–%d 之间（size=%d）", search.ErrBadQuery, search.MaxPageSize, q.Size)
	case page > search.MaxResultWindow/size:
		return 0, 0, 0, fmt.Errorf("embedded: search: %w: 翻页过深，最多查看前 %d 条结果", search.ErrBadQuery, search.MaxResultWindow)
	case facetSize < 1 || facetSize > facetFetch:
		return 0, 0, 0, fmt.Errorf("embedded: search: %w: 分面条数须在 1–%d 之间（facet_size=%d）", search.ErrBadQuery, facetFetch, q.FacetSize)
	case q.Sort != "" && q.Sort != search.SortRelevance && q.Sort != search.SortDate:
		return 0, 0, 0, fmt.Errorf("embedded: search: %w: 不支持的排序方式 %q", search.ErrBadQuery, q.Sort)
	case q.DateHistogram != "" && histogramFields[q.DateHistogram] == "":
		return 0, 0, 0, fmt.Errorf("embedded: search: %w: 日期分布的间隔只能是 day、month 或 year（%q）", search.ErrBadQuery, q.DateHistogram)
	case !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From):
		return 0, 0, 0, fmt.Errorf("embedded: search: %w: 结束日期早于开始日期", search.ErrBadQuery)
	}
	return page, size, facetSize, nil
}

func facetValues(name string, counts map[string]int, size int) []search.FacetValue {
	vals := []search.FacetValue{}
	for term, n := range counts {
		if n > 0 {
			vals = append(vals, search.FacetValue{Value: term, Count: n})
		}
	}
	if name == search.FacetMonth {
		sort.Slice(vals, func(i, j int) bool { return vals[i].Value > vals[j].Value })
	} else {
		sort.Slice(vals, func(i, j int) bool {
			if vals[i].Count != vals[j].Count {
				return vals[i].Count > vals[j].Count
			}
			return vals[i].Value < vals[j].Value
		})
	}
	if len(vals) > size {
		vals = vals[:size]
	}
	return vals
}

// scopeFilter restricts results to what q.Scope may see; the zero Scope matches nothing.
func scopeFilter(s search.Scope) []query.Query {
	if s.MaxLevel < 0 {
		return []query.Query{query.NewMatchNoneQuery()}
	}
	var fs []query.Query
	maxLevel, incl := float64(s.MaxLevel), true
	fs = append(fs, query.NewNumericRangeInclusiveQuery(nil, &maxLevel, nil, &incl))
	fs[0].(*query.NumericRangeQuery).SetField(fLevel)
	if !s.AllUnits {
		fs = append(fs, anyTerm(fUnit, s.Units))
	}
	readers := []string{noReaders}
	for _, p := range s.Principals {
		if p != "" {
			readers = append(readers, readerPrefix+p)
		}
	}
	fs = append(fs, anyTerm(fReaders, readers))
	// Label categories: the document's set must be a subset of s.Categories. Bleve (like
	// Elasticsearch) has no "field values ⊆ set" query, and a deny list built from a registry of
	// known categories would let a document with a category missing from that list through. So
	// the filter excludes every document holding any labelcats term outside the allowed set
	// {noLabelCats} ∪ {labelCatTerm(c)}: the terms outside a finite sorted set are exactly the
	// open ranges between consecutive allowed values plus the two unbounded ends.
	allowed := []string{noLabelCats}
	for _, c := range s.Categories {
		allowed = append(allowed, labelCatTerm(c))
	}
	fs = append(fs, query.NewBooleanQuery([]query.Query{query.NewMatchAllQuery()}, nil,
		[]query.Query{termsOutside(fLabelCats, allowed)}))
	return fs
}

// termsOutside matches documents whose keyword field holds a term that is not in allowed
// (which must not be empty). The field's terms must not contain zero bytes (see labelCatTerm).
func termsOutside(field string, allowed []string) query.Query {
	allowed = slices.Clone(allowed)
	slices.Sort(allowed)
	allowed = slices.Compact(allowed)
	incl, excl := true, false
	gap := func(min, max string, minIncl, maxIncl *bool) query.Query {
		q := query.NewTermRangeInclusiveQuery(min, max, minIncl, maxIncl)
		q.SetField(field)
		return q
	}
	var qs []query.Query
	if allowed[0] != "" { // "" as min means unbounded; the empty term is below every other
		qs = append(qs, gap("", allowed[0], &incl, &excl))
	}
	for i := 1; i < len(allowed); i++ {
		qs = append(qs, gap(allowed[i-1], allowed[i], &excl, &excl))
	}
	qs = append(qs, gap(allowed[len(allowed)-1], "", &excl, &excl))
	return query.NewDisjunctionQuery(qs)
}

func filters(q search.Query) []query.Query {
	var fs []query.Query
	for _, ts := range keywordFilters(q) {
		fs = append(fs, anyTerm(ts.field, ts.terms))
	}
	if dq := dateFilter(q); dq != nil {
		fs = append(fs, dq)
	}
	return fs
}

// keywordFilters are q's keyword filters as (field, values), empty ones left out.
func keywordFilters(q search.Query) []termSet {
	var out []termSet
	add := func(field string, values []string) {
		if len(values) > 0 {
			out = append(out, termSet{field, values})
		}
	}
	add(fUnit, q.Units)
	add(fCategory, q.Categories)
	add(fDistrict, q.Districts)
	add(fMonth, q.Months)
	if len(q.Classifications) > 0 {
		names := make([]string, len(q.Classifications))
		for i, l := range q.Classifications {
			names[i] = levelName(l)
		}
		add(fClassification, names)
	}
	add(fArchived, q.Archived)
	add(fEndorsed, q.Endorsed)
	add(fState, q.States)
	return out
}

// dateFilter is q's date range (nil: none).
func dateFilter(q search.Query) query.Query {
	if q.From.IsZero() && q.To.IsZero() {
		return nil
	}
	incl := true
	dq := query.NewDateRangeInclusiveQuery(q.From, q.To, &incl, &incl)
	dq.SetField(fDate)
	return dq
}

// anyTerm matches documents whose keyword field holds one of values (none: nothing).
func anyTerm(field string, values []string) query.Query {
	if len(values) == 0 {
		return query.NewMatchNoneQuery()
	}
	qs := make([]query.Query, len(values))
	for i, v := range values {
		tq := query.NewTermQuery(v)
		tq.SetField(field)
		qs[i] = tq
	}
	if len(qs) == 1 {
		return qs[0]
	}
	return query.NewDisjunctionQuery(qs)
}

// textQuery translates the parsed query. Words and phrases become term or phrase queries over
// the analyzer's precise tokens; a word without tokens (a stop word) drops out.
func (e *Engine) textQuery(n search.Node) query.Query {
	if q := e.translate(n); q != nil {
		return q
	}
	return query.NewMatchNoneQuery()
}

func (e *Engine) translate(n search.Node) query.Query {
	switch n := n.(type) {
	case search.All:
		return query.NewMatchAllQuery()
	case search.Word:
		return e.match(n.Text, n.Field)
	case search.Phrase:
		return e.match(n.Text, n.Field)
	case search.Or:
		var qs []query.Query
		for _, c := range n.Nodes {
			if q := e.translate(c); q != nil {
				qs = append(qs, q)
			}
		}
		if len(qs) == 0 {
			return nil
		}
		return query.NewDisjunctionQuery(qs)
	case search.And:
		var must, not []query.Query
		for _, c := range n.Nodes {
			if nn, ok := c.(search.Not); ok {
				if q := e.translate(nn.Node); q != nil {
					not = append(not, q)
				}
				continue
			}
			if q := e.translate(c); q != nil {
				must = append(must, q)
			}
		}
		if len(must) == 0 {
			return nil
		}
		if len(not) == 0 {
			return query.NewConjunctionQuery(must)
		}
		return query.NewBooleanQuery(must, nil, not)
	case search.Not:
		// The parser only puts Not under And; treat a stray one as "everything but".
		if q := e.translate(n.Node); q != nil {
			return query.NewBooleanQuery([]query.Query{query.NewMatchAllQuery()}, nil, []query.Query{q})
		}
	}
	return nil
}

// match is a word or phrase: each alternative of analyzers.Expand (the text itself and its
// synonym variants) is a term query when it is one token (which also finds it as a sub-word)
// and a phrase at consecutive positions otherwise; any alternative matches.
func (e *Engine) match(text, field string) query.Query {
	var qs []query.Query
	for _, toks := range e.an.Expand(text) {
		terms := make([]string, len(toks))
		for i, t := range toks {
			terms[i] = t.Term
		}
		one := func(f string, boost float64) query.Query {
			if len(terms) == 1 {
				q := query.NewTermQuery(terms[0])
				q.SetField(f)
				q.SetBoost(boost)
				return q
			}
			q := query.NewPhraseQuery(terms, f)
			q.SetBoost(boost)
			return q
		}
		switch field {
		case search.FieldTitle:
			qs = append(qs, one(fTitle, 1))
		case search.FieldBody:
			qs = append(qs, one(fBody, 1))
		default:
			qs = append(qs, one(fTitle, titleBoost), one(fBody, 1), one(fAttText, attBoost))
		}
	}
	if len(qs) == 0 {
		return nil
	}
	return query.NewDisjunctionQuery(qs)
}

// highlightTerms are the terms to mark in a hit: the tokens of every positive word and phrase
// and of their synonym variants, so whichever alternative matched is marked.
func highlightTerms(an *analyzers.Analyzer, n search.Node) []string {
	var terms []string
	for _, t := range search.PositiveTexts(n) {
		for _, alt := range an.Expand(t) {
			for _, tok := range alt {
				terms = append(terms, tok.Term)
			}
		}
	}
	return terms
}

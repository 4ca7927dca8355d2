package esengine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"infowork/search"
)

const (
	snippetRunes = 160
	// maxFacetSize bounds Query.FacetSize (the "more" list of a facet), as in the embedded
	// engine, so a query valid on one engine is valid on every engine.
	maxFacetSize = search.MaxFacetSize
	// histogramAgg names the date_histogram aggregation behind Result.Histogram.
	histogramAgg = "_histogram"
)

var hitSource = []string{"id", "title", "body", "unit", "unit_name", "category", "district", "level", "urgency", "state", "date", "labelcats",
	"att_id", "att_name", "att_text"}

// Search implements search.Engine.
func (e *Engine) Search(ctx context.Context, q search.Query) (search.Result, error) {
	start := time.Now()
	page, size, facetSize, err := e.limits(q)
	if err != nil {
		return search.Result{}, err
	}
	node, err := search.ParseQuery(q.Text)
	if err != nil {
		return search.Result{}, fmt.Errorf("%s: search: %w", e.cfg.Name, err)
	}
	aggs := obj{}
	for _, name := range q.Facets {
		f, ok := facetFields[name]
		if !ok {
			return search.Result{}, fmt.Errorf("%s: search: %w: 不支持的分面 %q", e.cfg.Name, search.ErrBadQuery, name)
		}
		order := []any{obj{"_count": "desc"}, obj{"_key": "asc"}}
		if name == search.FacetMonth {
			order = []any{obj{"_key": "desc"}} // newest months first, like the embedded engine
		}
		aggs[name] = obj{"terms": obj{"field": f, "size": facetSize, "order": order}}
	}
	if q.DateHistogram != "" {
		// On the date itself, in the office's calendar: no field per granularity is needed.
		aggs[histogramAgg] = obj{"date_histogram": obj{
			"field": fDate, "calendar_interval": q.DateHistogram, "time_zone": "Asia/Shanghai", // search.Location
			"format": histogramFormats[q.DateHistogram], "min_doc_count": 1,
		}}
	}
	filter := append(scopeFilter(q.Scope), facetFilters(q)...)
	body := obj{
		"query": obj{"bool": obj{
			"must":     []any{e.textQuery(node)},
			"filter":   filter,
			"must_not": []any{isTombstone},
		}},
		"from":             (page - 1) * size,
		"size":             size,
		"track_total_hits": true,
		"version":          true,
		"_source":          hitSource,
	}
	if q.Sort == search.SortDate {
		body["sort"] = []any{obj{fDate: obj{"order": "desc", "missing": "_last"}}, obj{fID: "asc"}}
	} else {
		body["sort"] = []any{obj{"_score": "desc"}, obj{fDate: obj{"order": "desc", "missing": "_last"}}, obj{fID: "asc"}}
	}
	if len(aggs) > 0 {
		body["aggs"] = aggs
	}
	if err := e.ensure(ctx); err != nil {
		return search.Result{}, fmt.Errorf("%s: search: %w", e.cfg.Name, err)
	}
	reqBody, err := json.Marshal(body)
	if err != nil {
		return search.Result{}, fmt.Errorf("%s: search: encode: %w", e.cfg.Name, err)
	}
	st, resp, err := e.do(ctx, http.MethodPost, "/"+e.alias+"/_search", nil, reqBody)
	if err != nil {
		if ctx.Err() != nil {
			return search.Result{}, fmt.Errorf("%s: search: %w", e.cfg.Name, ctx.Err())
		}
		return search.Result{}, fmt.Errorf("%s: search: %w", e.cfg.Name, err)
	}
	if st != http.StatusOK {
		return search.Result{}, fmt.Errorf("%s: search: %w", e.cfg.Name, unavailable(st, resp))
	}
	var r searchResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		return search.Result{}, fmt.Errorf("%s: search: decode: %w", e.cfg.Name, err)
	}
	// A partial answer would under-count totals and facets; report it as degraded instead.
	if err := r.Shards.check(); err != nil {
		return search.Result{}, fmt.Errorf("%s: search: %w", e.cfg.Name, err)
	}

	terms := highlightTerms(e.an, node)
	out := search.Result{Total: r.Hits.Total.Value, Hits: make([]search.Hit, 0, len(r.Hits.Hits))}
	for _, h := range r.Hits.Hits {
		s := h.Source
		hit := search.Hit{
			ID: h.ID, Version: h.Version, Title: s.Title,
			Unit: s.Unit, UnitName: s.UnitName, Category: s.Category, District: s.District,
			Urgency: s.Urgency, State: s.State,
		}
		if h.Score != nil && q.Sort != search.SortDate {
			hit.Score = *h.Score
		}
		if s.Level != nil {
			hit.Classification = *s.Level
		}
		for _, c := range s.LabelCats {
			if cat, ok := strings.CutPrefix(c, labelCatPrefix); ok {
				hit.LabelCategories = append(hit.LabelCategories, cat)
			}
		}
		if s.Date != "" {
			hit.Date, _ = time.Parse(dateLayout, s.Date)
		}
		hit.TitleHTML = e.an.Highlight(hit.Title, terms, 0)
		hit.Snippet = e.an.Highlight(s.Body, terms, snippetRunes)
		hit.Attachment = search.MatchAttachment(e.an, s.attachments(), terms, snippetRunes)
		out.Hits = append(out.Hits, hit)
	}
	if len(q.Facets) > 0 {
		out.Facets = make(map[string][]search.FacetValue, len(q.Facets))
		for _, name := range q.Facets {
			vals := []search.FacetValue{}
			for _, b := range r.Aggregations[name].Buckets {
				vals = append(vals, search.FacetValue{Value: bucketKey(b.Key), Count: b.DocCount})
			}
			if name != search.FacetMonth {
				// The engine orders by count then key already; sort again so ties are ordered
				// the same way as in the embedded engine whatever the engine's key order.
				sort.SliceStable(vals, func(i, j int) bool {
					if vals[i].Count != vals[j].Count {
						return vals[i].Count > vals[j].Count
					}
					return vals[i].Value < vals[j].Value
				})
			}
			out.Facets[name] = vals
		}
	}
	if q.DateHistogram != "" {
		out.Histogram = []search.FacetValue{}
		for _, b := range r.Aggregations[histogramAgg].Buckets {
			if b.DocCount > 0 {
				out.Histogram = append(out.Histogram, search.FacetValue{Value: b.KeyAsString, Count: b.DocCount})
			}
		}
	}
	out.Took = time.Since(start)
	return out, nil
}

// histogramFormats are the bucket keys of each interval, as search.HistogramKey writes them.
var histogramFormats = map[string]string{search.IntervalDay: "yyyy-MM-dd", search.IntervalMonth: "yyyy-MM", search.IntervalYear: "yyyy"}

type searchResponse struct {
	Shards shardStats `json:"_shards"`
	Hits   struct {
		Total struct {
			Value int `json:"value"`
		} `json:"total"`
		Hits []struct {
			ID      string   `json:"_id"`
			Version int64    `json:"_version"`
			Score   *float64 `json:"_score"`
			Source  source   `json:"_source"`
		} `json:"hits"`
	} `json:"hits"`
	Aggregations map[string]struct {
		Buckets []struct {
			Key         json.RawMessage `json:"key"`
			KeyAsString string          `json:"key_as_string"`
			DocCount    int             `json:"doc_count"`
		} `json:"buckets"`
	} `json:"aggregations"`
}

func bucketKey(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func (e *Engine) limits(q search.Query) (page, size, facetSize int, err error) {
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
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: search: %w: %s", e.cfg.Name, search.ErrBadQuery, fmt.Sprintf(format, args...))
	}
	switch {
	case page < 1:
		return 0, 0, 0, bad("页码必须大于 0（page=%d）", q.Page)
	case size < 1 || size > search.MaxPageSize:
		return 0, 0, 0, bad("每页条数须在 1–%d 之间（size=%d）", search.MaxPageSize, q.Size)
	case page > search.MaxResultWindow/size:
		return 0, 0, 0, bad("翻页过深，最多查看前 %d 条结果", search.MaxResultWindow)
	case facetSize < 1 || facetSize > maxFacetSize:
		return 0, 0, 0, bad("分面条数须在 1–%d 之间（facet_size=%d）", maxFacetSize, q.FacetSize)
	case q.Sort != "" && q.Sort != search.SortRelevance && q.Sort != search.SortDate:
		return 0, 0, 0, bad("不支持的排序方式 %q", q.Sort)
	case q.DateHistogram != "" && histogramFormats[q.DateHistogram] == "":
		return 0, 0, 0, bad("日期分布的间隔只能是 day、month 或 year（%q）", q.DateHistogram)
	case !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From):
		return 0, 0, 0, bad("结束日期早于开始日期")
	}
	return page, size, facetSize, nil
}

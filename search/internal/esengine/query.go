package esengine

import (
	"slices"

	"infowork/analyzers"
	"infowork/search"
)

const (
	titleBoost = 3.0
	attBoost   = 0.5 // a word in an attached file ranks below the same word in the report
)

// Field names of the index (mappings/submissions).
const (
	fTitleTerms     = "title_terms"
	fBodyTerms      = "body_terms"
	fAttTerms       = "att_terms" // mapping v3
	fUnit           = "unit"
	fCategory       = "category"
	fDistrict       = "district"
	fMonth          = "month"
	fClassification = "classification"
	fLevel          = "level"
	fReaders        = "readers"
	fLabelCats      = "labelcats"
	fDate           = "date"
	fID             = "id"
	fArchived       = "archived"
	fEndorsed       = "endorsed"
	fState          = "state" // a keyword with doc values since mapping v1
)

var facetFields = map[string]string{
	search.FacetUnit:           fUnit,
	search.FacetCategory:       fCategory,
	search.FacetDistrict:       fDistrict,
	search.FacetMonth:          fMonth,
	search.FacetClassification: fClassification,
	search.FacetArchived:       fArchived,
	search.FacetEndorsed:       fEndorsed,
	search.FacetState:          fState,
}

var matchNone = obj{"match_none": obj{}}

// scopeFilter restricts results to what s may see; the zero Scope matches nothing. It mirrors
// search/embedded scopeFilter clause by clause.
func scopeFilter(s search.Scope) []any {
	if s.MaxLevel < 0 {
		return []any{matchNone}
	}
	fs := []any{obj{"range": obj{fLevel: obj{"lte": s.MaxLevel}}}}
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
	// Label categories: the document's set must be a subset of s.Categories. There is no
	// "values ⊆ set" query, and a deny list of known categories would let an unknown one
	// through, so exclude every document holding a labelcats term outside the allowed set:
	// the terms outside a sorted finite set are the open ranges between consecutive allowed
	// values plus the two unbounded ends (keyword ranges compare UTF-8 bytes, like Go).
	allowed := []string{noLabelCats}
	for _, c := range s.Categories {
		allowed = append(allowed, labelCatPrefix+c)
	}
	fs = append(fs, obj{"bool": obj{"must_not": termsOutside(fLabelCats, allowed)}})
	return fs
}

// termsOutside returns range queries that together match documents whose keyword field holds
// a term not in allowed (which must not be empty).
func termsOutside(field string, allowed []string) []any {
	allowed = slices.Clone(allowed)
	slices.Sort(allowed)
	allowed = slices.Compact(allowed)
	var qs []any
	if allowed[0] != "" { // nothing sorts below the empty term
		qs = append(qs, obj{"range": obj{field: obj{"lt": allowed[0]}}})
	}
	for i := 1; i < len(allowed); i++ {
		qs = append(qs, obj{"range": obj{field: obj{"gt": allowed[i-1], "lt": allowed[i]}}})
	}
	qs = append(qs, obj{"range": obj{field: obj{"gt": allowed[len(allowed)-1]}}})
	return qs
}

func facetFilters(q search.Query) []any {
	var fs []any
	if len(q.Units) > 0 {
		fs = append(fs, anyTerm(fUnit, q.Units))
	}
	if len(q.Categories) > 0 {
		fs = append(fs, anyTerm(fCategory, q.Categories))
	}
	if len(q.Districts) > 0 {
		fs = append(fs, anyTerm(fDistrict, q.Districts))
	}
	if len(q.Months) > 0 {
		fs = append(fs, anyTerm(fMonth, q.Months))
	}
	if len(q.Classifications) > 0 {
		names := make([]string, len(q.Classifications))
		for i, l := range q.Classifications {
			names[i] = levelName(l)
		}
		fs = append(fs, anyTerm(fClassification, names))
	}
	if len(q.Archived) > 0 {
		fs = append(fs, anyTerm(fArchived, q.Archived))
	}
	if len(q.Endorsed) > 0 {
		fs = append(fs, anyTerm(fEndorsed, q.Endorsed))
	}
	if len(q.States) > 0 {
		fs = append(fs, anyTerm(fState, q.States))
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		r := obj{}
		if !q.From.IsZero() {
			r["gte"] = q.From.Format(dateLayout)
		}
		if !q.To.IsZero() {
			r["lte"] = q.To.Format(dateLayout)
		}
		fs = append(fs, obj{"range": obj{fDate: r}})
	}
	return fs
}

// anyTerm matches documents whose keyword field holds one of values (none: nothing).
func anyTerm(field string, values []string) any {
	if len(values) == 0 {
		return matchNone
	}
	return obj{"terms": obj{field: values}}
}

// textQuery translates the parsed query; a query that keeps no word (only stop words)
// matches nothing.
func (e *Engine) textQuery(n search.Node) any {
	if q := e.translate(n); q != nil {
		return q
	}
	return matchNone
}

func (e *Engine) translate(n search.Node) any {
	switch n := n.(type) {
	case search.All:
		return obj{"match_all": obj{}}
	case search.Word:
		return e.match(n.Text, n.Field)
	case search.Phrase:
		return e.match(n.Text, n.Field)
	case search.Or:
		var qs []any
		for _, c := range n.Nodes {
			if q := e.translate(c); q != nil {
				qs = append(qs, q)
			}
		}
		if len(qs) == 0 {
			return nil
		}
		return obj{"bool": obj{"should": qs, "minimum_should_match": 1}}
	case search.And:
		var must, not []any
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
		b := obj{"must": must}
		if len(not) > 0 {
			b["must_not"] = not
		}
		return obj{"bool": b}
	case search.Not:
		// The parser only puts Not under And; treat a stray one as "everything but".
		if q := e.translate(n.Node); q != nil {
			return obj{"bool": obj{"must": []any{obj{"match_all": obj{}}}, "must_not": []any{q}}}
		}
	}
	return nil
}

// match is a word or phrase: each alternative of analyzers.Expand (the text itself and its
// synonym variants) is a term query when it is one precise-mode term (which also finds it as a
// sub-word) and a phrase at consecutive positions otherwise; any alternative matches.
func (e *Engine) match(text, field string) any {
	var qs []any
	for _, toks := range e.an.Expand(text) {
		terms := queryTerms(toks)
		if len(terms) == 0 {
			continue
		}
		one := func(f string, boost float64) any {
			if len(terms) == 1 {
				return obj{"term": obj{f: obj{"value": terms[0], "boost": boost}}}
			}
			return obj{"match_phrase": obj{f: obj{"query": joinTerms(terms), "analyzer": "iw_query", "boost": boost}}}
		}
		switch field {
		case search.FieldTitle:
			qs = append(qs, one(fTitleTerms, 1))
		case search.FieldBody:
			qs = append(qs, one(fBodyTerms, 1))
		default:
			qs = append(qs, one(fTitleTerms, titleBoost), one(fBodyTerms, 1), one(fAttTerms, attBoost))
		}
	}
	switch len(qs) {
	case 0:
		return nil
	case 1:
		return qs[0]
	}
	return obj{"bool": obj{"should": qs, "minimum_should_match": 1}}
}

func joinTerms(terms []string) string {
	n := 0
	for _, t := range terms {
		n += len(t) + 1
	}
	b := make([]byte, 0, n)
	for i, t := range terms {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, t...)
	}
	return string(b)
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

package embedded

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/scorer"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"

	"infowork/search"
)

// The scope and keyword filters of a search as one bitmap per segment.
//
// Written as Bleve queries, the scope is a conjunction of a numeric range (the level), two
// disjunctions (units, readers) and a match-all minus term ranges (label categories), and the
// filtering searcher advances every one of them for every candidate of the text query: at 100k
// documents that was the largest cost of a search after the facets (BENCHMARKS.md). Segments are
// immutable, so the set of documents of a segment that a scope and a set of keyword filters
// admit never changes: it is computed once from the segment's postings with bitmap operations,
// cached per segment under the canonical form of the filter, and a search only walks or probes
// the bitmap (deleted documents are skipped from the snapshot's own deletion bitmap). The
// documents are exactly those the Bleve queries of scopeFilter and filters match (tested
// against them and against a brute-force evaluation); the date range stays a Bleve query.

// filterSpec is a search's keyword filters in a form the bitmaps are built from.
type filterSpec struct {
	none     bool         // matches nothing (no clearance, or a filter with no values)
	anyOf    []termSet    // AND over the sets, OR within a set
	levelMax int          // classification levels above this are excluded
	outside  *termSet     // exclude documents holding any term of this field outside terms
	key      string       // canonical form: the cache key
	q        search.Query // the search, for the same filter as Bleve queries (fallback)
}

// fallback is the same filter as Bleve queries, for readers that are not scorch snapshots.
func (fs *filterSpec) fallback() query.Query {
	return query.NewConjunctionQuery(append(scopeFilter(fs.q.Scope), filters(withoutDates(fs.q))...))
}

type termSet struct {
	field string
	terms []string
}

// newFilterSpec is the filter of q: its scope and keyword filters (not the date range).
func newFilterSpec(q search.Query) *filterSpec {
	s := q.Scope
	fs := &filterSpec{levelMax: s.MaxLevel, q: q}
	if s.MaxLevel < 0 {
		fs.none, fs.key = true, "none"
		return fs
	}
	add := func(field string, terms []string) {
		terms = slices.Clone(terms)
		slices.Sort(terms)
		terms = slices.Compact(terms)
		if len(terms) == 0 {
			fs.none = true
		}
		fs.anyOf = append(fs.anyOf, termSet{field, terms})
	}
	if !s.AllUnits {
		add(fUnit, s.Units)
	}
	readers := []string{noReaders}
	for _, p := range s.Principals {
		if p != "" {
			readers = append(readers, readerPrefix+p)
		}
	}
	add(fReaders, readers)
	allowed := []string{noLabelCats}
	for _, c := range s.Categories {
		allowed = append(allowed, labelCatTerm(c))
	}
	slices.Sort(allowed)
	fs.outside = &termSet{fLabelCats, slices.Compact(allowed)}
	for _, ts := range keywordFilters(q) {
		add(ts.field, ts.terms)
	}
	// The key: every set in order, values joined by a byte no term holds (label category
	// terms are hex, the others are codes and names without control characters).
	var b strings.Builder
	fmt.Fprintf(&b, "L%d", fs.levelMax)
	for _, ts := range append(slices.Clone(fs.anyOf), *fs.outside) {
		b.WriteString("\x1e" + ts.field + "=")
		for _, t := range ts.terms {
			b.WriteString(strconv.Quote(t))
		}
	}
	if fs.none {
		fs.key = "none"
	} else {
		fs.key = b.String()
	}
	return fs
}

func withoutDates(q search.Query) search.Query {
	q.From, q.To = time.Time{}, time.Time{}
	return q
}

// levelOf is the level of a classification term (levelName's inverse); ok false for a term
// that is not a level name.
func levelOf(term string) (int, bool) {
	if i := slices.Index(levelNames, term); i >= 0 {
		return i, true
	}
	if s, ok := strings.CutPrefix(term, "level("); ok {
		if s, ok := strings.CutSuffix(s, ")"); ok {
			if n, err := strconv.Atoi(s); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// filterCacheMax bounds the cached filters per segment (a key is a reader class and its
// keyword filters; a dense bitmap is an eighth of a byte per document).
const filterCacheMax = 256

// segFilters is the filter cache of one segment.
type segFilters struct {
	mu sync.Mutex
	m  map[string]*roaring.Bitmap
}

func (sf *segFilters) get(key string) *roaring.Bitmap {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	return sf.m[key]
}

func (sf *segFilters) put(key string, bm *roaring.Bitmap) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.m == nil || len(sf.m) >= filterCacheMax {
		sf.m = map[string]*roaring.Bitmap{}
	}
	sf.m[key] = bm
}

// filterQuery is a filterSpec as a Bleve query.
type filterQuery struct {
	spec  *filterSpec
	cache *columnCache
}

func (q *filterQuery) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, o bsearch.SearcherOptions) (bsearch.Searcher, error) {
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return q.spec.fallback().Searcher(ctx, r, m, o)
	}
	segs := snap.Segments()
	entries := q.cache.filters(segs)
	// Terms of the fields whose allowed set is derived from the snapshot's dictionary: every
	// term of a segment is in the dictionary of any snapshot holding it, and segments never
	// change, so a bitmap built here stays right for the segment's lifetime.
	var levels, cats []string
	if !q.spec.none {
		var err error
		if levels, err = fieldTerms(snap, fClassification); err != nil {
			return nil, err
		}
		if cats, err = fieldTerms(snap, q.spec.outside.field); err != nil {
			return nil, err
		}
	}
	s := &bitmapSearcher{scorer: scorer.NewConstantScorer(1.0, 1.0, o)}
	var off uint64
	for i, ss := range segs {
		n := ss.Segment().Count()
		bm := entries[i].get(q.spec.key)
		if bm == nil {
			var err error
			bm, err = q.spec.build(ss.Segment(), levels, cats)
			if err != nil {
				return nil, err
			}
			entries[i].put(q.spec.key, bm)
		}
		if !bm.IsEmpty() {
			del := ss.Deleted()
			if del != nil && del.IsEmpty() {
				del = nil
			}
			s.segs = append(s.segs, bitmapSeg{off: off, n: n, bm: bm, del: del})
			s.count += bm.GetCardinality()
			if del != nil {
				s.count -= bm.AndCardinality(del)
			}
		}
		off += n
	}
	return s, nil
}

// fieldTerms lists the terms of field in the snapshot.
func fieldTerms(snap *scorch.IndexSnapshot, field string) ([]string, error) {
	fd, err := snap.FieldDict(field)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	var out []string
	for {
		e, err := fd.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return out, nil
		}
		out = append(out, e.Term)
	}
}

// build is the bitmap of the documents of seg the filter admits; levels and cats are the
// classification and label-category terms of the snapshot.
func (fs *filterSpec) build(seg segment.Segment, levels, cats []string) (*roaring.Bitmap, error) {
	if fs.none {
		return roaring.New(), nil
	}
	var allowedLevels []string
	for _, t := range levels {
		if l, ok := levelOf(t); ok && l <= fs.levelMax {
			allowedLevels = append(allowedLevels, t)
		}
	}
	sets := append(slices.Clone(fs.anyOf), termSet{fClassification, allowedLevels})
	var bm *roaring.Bitmap
	for _, ts := range sets {
		u, err := postingsUnion(seg, ts.field, ts.terms)
		if err != nil {
			return nil, err
		}
		if bm == nil {
			bm = u
		} else {
			bm.And(u)
		}
		if bm.IsEmpty() {
			return bm, nil
		}
	}
	var outside []string
	for _, t := range cats {
		if _, ok := slices.BinarySearch(fs.outside.terms, t); !ok {
			outside = append(outside, t)
		}
	}
	if len(outside) > 0 {
		x, err := postingsUnion(seg, fs.outside.field, outside)
		if err != nil {
			return nil, err
		}
		bm.AndNot(x)
	}
	bm.RunOptimize()
	return bm, nil
}

// postingsUnion is the bitmap of the documents of seg holding any of terms in field.
func postingsUnion(seg segment.Segment, field string, terms []string) (*roaring.Bitmap, error) {
	out := roaring.New()
	if len(terms) == 0 {
		return out, nil
	}
	dict, err := seg.Dictionary(field)
	if err != nil {
		return nil, err
	}
	if dict == nil {
		return out, nil
	}
	var pl segment.PostingsList
	var it segment.PostingsIterator
	for _, t := range terms {
		pl, err = dict.PostingsList([]byte(t), nil, pl)
		if err != nil {
			return nil, err
		}
		if pl == nil {
			continue
		}
		it = pl.Iterator(false, false, false, it)
		if opt, ok := it.(segment.OptimizablePostingsIterator); ok {
			if bm := opt.ActualBitmap(); bm != nil {
				out.Or(bm)
				continue
			}
			if d, ok := opt.DocNum1Hit(); ok {
				out.Add(uint32(d)) // #nosec G115 -- a local document number of a segment (zap numbers them in uint32)
				continue
			}
		}
		for {
			p, err := it.Next()
			if err != nil {
				return nil, err
			}
			if p == nil {
				break
			}
			out.Add(uint32(p.Number())) // #nosec G115 -- as above
		}
	}
	return out, nil
}

// bitmapSearcher walks the filter bitmaps of a snapshot's segments in global document order,
// scoring every document like Bleve's match-all searcher (a constant).
type bitmapSearcher struct {
	segs   []bitmapSeg
	seg    int
	it     roaring.IntPeekable
	count  uint64
	scorer *scorer.ConstantScorer
}

type bitmapSeg struct {
	off, n  uint64
	bm, del *roaring.Bitmap
}

func (s *bitmapSearcher) Next(ctx *bsearch.SearchContext) (*bsearch.DocumentMatch, error) {
	for s.seg < len(s.segs) {
		sg := &s.segs[s.seg]
		if s.it == nil {
			s.it = sg.bm.Iterator()
		}
		for s.it.HasNext() {
			d := s.it.Next()
			if sg.del != nil && sg.del.Contains(d) {
				continue
			}
			return s.scorer.Score(ctx, index.NewIndexInternalID(nil, sg.off+uint64(d))), nil
		}
		s.seg++
		s.it = nil
	}
	return nil, nil
}

func (s *bitmapSearcher) Advance(ctx *bsearch.SearchContext, id index.IndexInternalID) (*bsearch.DocumentMatch, error) {
	g := id.Value()
	for s.seg < len(s.segs) && g >= s.segs[s.seg].off+s.segs[s.seg].n {
		s.seg++
		s.it = nil
	}
	if s.seg >= len(s.segs) {
		return nil, nil
	}
	sg := &s.segs[s.seg]
	if s.it == nil {
		s.it = sg.bm.Iterator()
	}
	if g > sg.off {
		s.it.AdvanceIfNeeded(uint32(g - sg.off)) // #nosec G115 -- a local document number, below the segment's count
	}
	return s.Next(ctx)
}

func (s *bitmapSearcher) Close() error               { return nil }
func (s *bitmapSearcher) Weight() float64            { return s.scorer.Weight() }
func (s *bitmapSearcher) SetQueryNorm(qnorm float64) { s.scorer.SetQueryNorm(qnorm) }
func (s *bitmapSearcher) Count() uint64              { return s.count }
func (s *bitmapSearcher) Min() int                   { return 0 }
func (s *bitmapSearcher) DocumentMatchPoolSize() int { return 1 }
func (s *bitmapSearcher) Size() int                  { return 64 + 48*len(s.segs) }

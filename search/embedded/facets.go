package embedded

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// Facets from columns instead of walking doc values.
//
// Bleve computes a terms facet by visiting, for every matching document, the doc values of the
// field, decompressing a doc-value chunk (snappy) whenever the next hit lies in another chunk.
// With five facets and a histogram that was most of a search's CPU (BENCHMARKS.md). Segments
// are immutable, so the engine keeps, per segment, one ordinal per document for each facet
// field (uint32, built once from the doc values when a search first meets the segment) and
// counts a hit with one array lookup per field. The counter sits in the search itself: the
// query is wrapped so that its searcher counts every match it hands to Bleve's collector, on
// the very snapshot Bleve searches, so counts, total and hits always agree. Anything unusual
// (a reader that is not a scorch snapshot, a field with two values in one document) makes the
// counter give up and the search runs again with Bleve's own facets.

// columnFields are the keyword fields a facet or a histogram can count.
func columnFields() []string {
	seen := map[string]bool{}
	var fs []string
	for _, f := range facetFields {
		if !seen[f] {
			seen[f] = true
			fs = append(fs, f)
		}
	}
	for _, f := range histogramFields {
		if !seen[f] {
			seen[f] = true
			fs = append(fs, f)
		}
	}
	fs = append(fs, fDate) // the sort key (dateSort)
	sort.Strings(fs)
	return fs
}

// column is one field of one segment: ord[localDoc] is 1 + the index of the document's term in
// terms, 0 when the document has none.
type column struct {
	terms []string
	ord   []uint32
	multi bool // some document holds two terms: the counter cannot use this column
}

type segColumns struct {
	filt    segFilters // filter bitmaps (scope.go)
	once    sync.Once
	done    chan struct{} // closed when the columns are built
	started atomic.Bool   // a background build was started
	cols    map[string]*column
	ids     []string // external id per local document (idSort)
	err     error
}

// build builds the columns of seg (once; later calls wait for the first).
func (sc *segColumns) build(seg segment.Segment) {
	sc.once.Do(func() {
		defer close(sc.done)
		sc.cols, sc.err = buildColumns(seg, columnFields())
		if sc.err == nil {
			sc.ids, sc.err = buildIDs(seg)
		}
	})
}

func (sc *segColumns) built() bool {
	select {
	case <-sc.done:
		return true
	default:
		return false
	}
}

// inlineBuildMax is the size up to which a segment's columns are built by the search that
// first meets it (tens of milliseconds: the indexer's fresh segments). A larger one — what a
// merge produces, seconds at a million documents — is built in the background, and searches
// meanwhile count with Bleve's own facets instead of waiting for it (the first search after a
// merge took 2.7 s at 1M documents, which is what the freshness p99 measured).
const inlineBuildMax = 50_000

// columnCache holds the columns of the segments recent searches met.
type columnCache struct {
	inlineMax uint64 // inlineBuildMax (tests lower it)
	mu        sync.Mutex
	segs      map[segment.Segment]*segColumns
	bg        sync.WaitGroup // background builds (close waits)
	closed    bool           // no more background builds (under mu)
}

// close waits for the background builds and starts no more.
func (c *columnCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.bg.Wait()
}

// errColumnsPending: a large segment's columns are still being built.
var errColumnsPending = errors.New("embedded: facet columns being built")

// get returns the columns of the snapshot's segments, building small missing ones inline and
// starting background builds of large ones (errColumnsPending until they are done), and
// forgets segments that are no longer in the snapshot (merged away).
func (c *columnCache) get(segs []*scorch.SegmentSnapshot) ([]*segColumns, error) {
	out := c.entries(segs)
	pending := false
	for i, sc := range out {
		if !sc.built() {
			if !c.prepare(sc, segs[i].Segment()) {
				pending = true
				continue
			}
		}
		if sc.err != nil {
			return nil, sc.err
		}
	}
	if pending {
		return nil, errColumnsPending
	}
	return out, nil
}

// prepare builds a small segment's columns inline and reports true, or starts the
// background build of a large one (holding a reference to the segment while it reads it) and
// reports false.
func (c *columnCache) prepare(sc *segColumns, seg segment.Segment) bool {
	if seg.Count() <= c.inlineMax {
		sc.build(seg)
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && sc.started.CompareAndSwap(false, true) {
		seg.AddRef()
		c.bg.Add(1)
		go func() {
			defer c.bg.Done()
			defer func() { _ = seg.DecRef() }()
			sc.build(seg)
		}()
	}
	return false
}

// warm starts the background builds of the large segments of the index's current snapshot,
// so that a merged segment is usually ready before a search meets it. It reports whether
// every segment's columns are built or small enough to be built inline.
func (c *columnCache) warm(idx bleve.Index) bool {
	adv, err := idx.Advanced()
	if err != nil {
		return false
	}
	r, err := adv.Reader()
	if err != nil {
		return false
	}
	defer r.Close()
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return false
	}
	segs := snap.Segments()
	ready := true
	for i, sc := range c.entries(segs) {
		if seg := segs[i].Segment(); !sc.built() && seg.Count() > c.inlineMax {
			c.prepare(sc, seg)
			ready = false
		}
	}
	return ready
}

// warmLoop runs warm every interval until stop is closed.
func (c *columnCache) warmLoop(idx bleve.Index, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			c.warm(idx)
		}
	}
}

// filters returns the filter caches of the snapshot's segments.
func (c *columnCache) filters(segs []*scorch.SegmentSnapshot) []*segFilters {
	out := make([]*segFilters, len(segs))
	for i, sc := range c.entries(segs) {
		out[i] = &sc.filt
	}
	return out
}

// entries returns the cache entries of the snapshot's segments, adding the missing ones, and
// forgets segments that are no longer in the snapshot (merged away).
func (c *columnCache) entries(segs []*scorch.SegmentSnapshot) []*segColumns {
	c.mu.Lock()
	if c.segs == nil {
		c.segs = map[segment.Segment]*segColumns{}
	}
	out := make([]*segColumns, len(segs))
	live := make(map[segment.Segment]bool, len(segs))
	for i, ss := range segs {
		s := ss.Segment()
		live[s] = true
		sc := c.segs[s]
		if sc == nil {
			sc = &segColumns{done: make(chan struct{})}
			c.segs[s] = sc
		}
		out[i] = sc
	}
	if len(c.segs) > 2*len(segs)+8 {
		for s := range c.segs {
			if !live[s] {
				delete(c.segs, s)
			}
		}
	}
	c.mu.Unlock()
	return out
}

var errNoColumns = errors.New("embedded: facet columns unavailable")

func buildColumns(s segment.Segment, fields []string) (map[string]*column, error) {
	dvv, ok := s.(segment.DocValueVisitable)
	if !ok {
		return nil, errNoColumns
	}
	n := s.Count()
	cols := make(map[string]*column, len(fields))
	ords := make(map[string]map[string]uint32, len(fields))
	for _, f := range fields {
		cols[f] = &column{ord: make([]uint32, n)}
		ords[f] = map[string]uint32{}
	}
	var state segment.DocVisitState
	var err error
	for doc := uint64(0); doc < n; doc++ {
		state, err = dvv.VisitDocValues(doc, fields, func(field string, term []byte) {
			col := cols[field]
			if col == nil {
				return
			}
			if field == fDate && (len(term) == 0 || term[0] != numeric.ShiftStartInt64) {
				return // a numeric field also indexes lower-precision terms; the sort uses the full one
			}
			m := ords[field]
			o, ok := m[string(term)]
			if !ok {
				col.terms = append(col.terms, string(term))
				o = uint32(len(col.terms)) // #nosec G115 -- distinct facet values of one segment
				m[col.terms[o-1]] = o
			}
			switch prev := col.ord[doc]; {
			case prev == 0:
				col.ord[doc] = o
			case prev != o:
				col.multi = true
			}
		}, state)
		if err != nil {
			return nil, err
		}
	}
	return cols, nil
}

// buildIDs reads the external id of every document of the segment once, so the id tie-break
// of the sort does not look it up (decoding stored fields) for every hit of every search.
func buildIDs(s segment.Segment) ([]string, error) {
	n := s.Count()
	ids := make([]string, n)
	for doc := uint64(0); doc < n; doc++ {
		id, err := s.DocID(doc)
		if err != nil {
			return nil, err
		}
		ids[doc] = string(id)
	}
	return ids, nil
}

// facetCounter counts the matches of one search per facet field.
type facetCounter struct {
	cache  *columnCache
	fields []string
	offs   []uint64 // global doc number of each segment's first document
	segs   []segCount
	err    error
}

type segCount struct {
	n      uint64
	date   *column
	ids    []string
	cols   []*column // per fields[i]
	counts [][]int   // per fields[i], per ordinal
}

func (fc *facetCounter) prepare(r index.IndexReader) {
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		fc.err = errNoColumns
		return
	}
	segs := snap.Segments()
	cols, err := fc.cache.get(segs)
	if err != nil {
		fc.err = err
		return
	}
	fc.offs = make([]uint64, len(segs))
	fc.segs = make([]segCount, len(segs))
	var running uint64
	for i, ss := range segs {
		fc.offs[i] = running
		n := ss.Segment().Count()
		running += n
		sc := segCount{n: n, date: cols[i].cols[fDate], cols: make([]*column, len(fc.fields)), counts: make([][]int, len(fc.fields))}
		sc.ids = cols[i].ids
		if sc.date == nil || sc.date.multi || uint64(len(sc.date.ord)) != n || uint64(len(sc.ids)) != n {
			fc.err = errNoColumns
			return
		}
		for j, f := range fc.fields {
			col := cols[i].cols[f]
			if col == nil || col.multi || uint64(len(col.ord)) != n {
				fc.err = errNoColumns
				return
			}
			sc.cols[j] = col
			sc.counts[j] = make([]int, len(col.terms)+1)
		}
		fc.segs[i] = sc
	}
}

func (fc *facetCounter) count(id index.IndexInternalID) {
	sc, local, ok := fc.locate(id)
	if !ok {
		if fc.err == nil {
			fc.err = errNoColumns
		}
		return
	}
	for j, col := range sc.cols {
		sc.counts[j][col.ord[local]]++
	}
}

// locate returns the segment and local document number of a match.
func (fc *facetCounter) locate(id index.IndexInternalID) (*segCount, uint64, bool) {
	if fc.err != nil || len(id) != 8 || len(fc.offs) == 0 {
		return nil, 0, false
	}
	g := id.Value()
	i := sort.Search(len(fc.offs), func(k int) bool { return fc.offs[k] > g }) - 1
	if i < 0 || g-fc.offs[i] >= fc.segs[i].n {
		return nil, 0, false
	}
	return &fc.segs[i], g - fc.offs[i], true
}

// result is the term counts of field (one of fc.fields) over every match.
func (fc *facetCounter) result(field string) map[string]int {
	out := map[string]int{}
	for j, f := range fc.fields {
		if f != field {
			continue
		}
		for _, sc := range fc.segs {
			for o, n := range sc.counts[j] {
				if o > 0 && n > 0 {
					out[sc.cols[j].terms[o-1]] += n
				}
			}
		}
	}
	return out
}

// countingQuery wraps the search's query so that its searcher feeds fc.
type countingQuery struct {
	query.Query
	fc *facetCounter
}

func (q *countingQuery) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, o bsearch.SearcherOptions) (bsearch.Searcher, error) {
	s, err := q.Query.Searcher(ctx, r, m, o)
	if err != nil {
		return nil, err
	}
	q.fc.prepare(r)
	return &countingSearcher{Searcher: s, fc: q.fc}, nil
}

type countingSearcher struct {
	bsearch.Searcher
	fc *facetCounter
}

func (s *countingSearcher) Next(ctx *bsearch.SearchContext) (*bsearch.DocumentMatch, error) {
	m, err := s.Searcher.Next(ctx)
	if m != nil {
		s.fc.count(m.IndexInternalID)
	}
	return m, err
}

// Advance is not used by Bleve's collector; were it used, matches could be skipped or seen
// twice, so the counter gives up.
func (s *countingSearcher) Advance(ctx *bsearch.SearchContext, id index.IndexInternalID) (*bsearch.DocumentMatch, error) {
	s.fc.err = errNoColumns
	return s.Searcher.Advance(ctx, id)
}

// dateSort orders hits by the date column, like search.SortField{Field: fDate} (the
// full-precision term of the numeric field; a document without a date sorts last), without
// Bleve visiting the date's doc values for every hit: that visit, decompressing a doc-value
// chunk for each hit in another chunk, was the largest cost left once the facets came from the
// columns.
type dateSort struct {
	fc   *facetCounter
	desc bool
}

func (s *dateSort) UpdateVisitor(string, []byte) {}

func (s *dateSort) Value(d *bsearch.DocumentMatch) string {
	if sc, local, ok := s.fc.locate(d.IndexInternalID); ok {
		if o := sc.date.ord[local]; o > 0 {
			return sc.date.terms[o-1]
		}
	} else if s.fc.err == nil {
		s.fc.err = errNoColumns
	}
	if s.desc {
		return bsearch.LowTerm
	}
	return bsearch.HighTerm
}

func (s *dateSort) DecodeValue(v string) string { return v }
func (s *dateSort) Descending() bool            { return s.desc }
func (s *dateSort) RequiresDocID() bool         { return false }
func (s *dateSort) RequiresScoring() bool       { return false }
func (s *dateSort) RequiresFields() []string    { return nil }
func (s *dateSort) Reverse()                    { s.desc = !s.desc }
func (s *dateSort) Copy() bsearch.SearchSort    { c := *s; return &c }

// idSort is search.SortDocID (ascending external id) read from the segment's id column.
type idSort struct {
	fc   *facetCounter
	desc bool
}

func (s *idSort) UpdateVisitor(string, []byte) {}

func (s *idSort) Value(d *bsearch.DocumentMatch) string {
	if sc, local, ok := s.fc.locate(d.IndexInternalID); ok {
		return sc.ids[local]
	}
	if s.fc.err == nil {
		s.fc.err = errNoColumns
	}
	return d.ID
}

func (s *idSort) DecodeValue(v string) string { return v }
func (s *idSort) Descending() bool            { return s.desc }
func (s *idSort) RequiresDocID() bool         { return false }
func (s *idSort) RequiresScoring() bool       { return false }
func (s *idSort) RequiresFields() []string    { return nil }
func (s *idSort) Reverse()                    { s.desc = !s.desc }
func (s *idSort) Copy() bsearch.SearchSort    { c := *s; return &c }

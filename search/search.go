// Package search is the engine-neutral contract between infowork and its search engines.
//
// The database is the system of record; an engine holds a derived, rebuildable copy of the
// searchable records. Every engine (embedded Bleve, Elasticsearch, OpenSearch) implements Engine
// and passes the shared conformance suite in search/searchtest.
//
// Access control is part of the query, never a post-filter: every Query carries a Scope and an
// engine must apply it inside the engine query so that totals and facet counts only count what the
// caller may open. The zero Scope sees nothing.
package search

import (
	"context"
	"errors"
	"time"
)

// Facet names every engine supports.
const (
	FacetUnit           = "unit"
	FacetCategory       = "category"
	FacetDistrict       = "district"
	FacetMonth          = "month"
	FacetClassification = "classification"
	// FacetArchived counts records compiled into archived periodical issues (value "archived");
	// FacetEndorsed counts records with leader endorsements by follow-up status ("open",
	// "closed"). Records without the fact hold no value, so the facet lists only those with it.
	FacetArchived = "archived"
	FacetEndorsed = "endorsed"
	// FacetState counts records by workflow state (Document.State: the state code, e.g.
	// "submitted", "adopted"; the web layer names them with submission.StateName).
	FacetState = "state"
)

// AllFacets is the default facet set of a search page, in display order.
var AllFacets = []string{FacetUnit, FacetCategory, FacetDistrict, FacetState, FacetMonth, FacetClassification, FacetArchived, FacetEndorsed}

// Sort orders.
const (
	SortRelevance = "relevance"
	SortDate      = "date"
)

// Limits applied by every engine.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxResultWindow bounds page*size so deep paging cannot exhaust an engine.
	MaxResultWindow = 10000
	// DefaultFacetSize is how many values a facet returns unless the query asks for more.
	DefaultFacetSize = 10
	// MaxFacetSize is the largest Query.FacetSize every engine honours (a "more" list, the
	// searchable unit facet over some 400 units).
	MaxFacetSize = 1000
)

// ErrBadQuery is wrapped by errors about a query the user typed or a parameter out of range; the
// web layer shows its message to the user (HTTP 400).
var ErrBadQuery = errors.New("bad query")

// ErrUnavailable is wrapped when the engine cannot be reached; lists keep working from the
// database and the UI says search is degraded.
var ErrUnavailable = errors.New("search engine unavailable")

// Document is one searchable record as the indexer builds it from the database row.
// Text fields hold the original text; engines segment them with the analyzers package.
type Document struct {
	ID             string    // stable record id (decimal submission id)
	Version        int64     // row version; an engine never lets a lower version overwrite a higher one
	Kind           string    // "submission"
	Title          string    // original title
	Body           string    // original body as plain text (HTML stripped)
	Unit           string    // owning unit code
	UnitName       string    // owning unit display name
	Category       string    // top-level category name
	Subcategory    string    // leaf category name, may be empty
	District       string    // district name, may be empty
	Classification int       // classification level (label.Level as int): 0 public … 3 confidential
	Urgency        string    // normal | urgent | very_urgent
	State          string    // workflow state
	Date           time.Time // report date (submitted or created)
	// Readers, when not empty, restricts reading to these principals (Notes-style readers list);
	// a Scope sees the document only if one of its Principals is listed.
	Readers []string
	// LabelCategories are the label categories (compartments) of the record; a Scope sees the
	// document only if every one of them is in its Categories.
	LabelCategories []string
	// Archived is true when the record is an item of an archived periodical issue (package
	// periodical); Endorsement is "", "open" or "closed" (leader endorsements and their follow-up).
	Archived    bool
	Endorsement string
	// Attachments hold the text extracted from the record's current attachments (issue 11):
	// searched with the record, under the record's label, and named in Hit.Attachment when
	// they match.
	Attachments []AttachmentText
}

// Month is the facet value of a date: "2006-01" in the Asia/Shanghai calendar.
func Month(t time.Time) string { return t.In(Location).Format("2006-01") }

// Intervals of a date histogram (Query.DateHistogram).
const (
	IntervalDay   = "day"
	IntervalMonth = "month"
	IntervalYear  = "year"
)

// HistogramKey is the bucket of a date in a date histogram, in the Asia/Shanghai calendar:
// "2006-01-02" (day), "2006-01" (month) or "2006" (year); "" for another interval.
func HistogramKey(t time.Time, interval string) string {
	switch interval {
	case IntervalDay:
		return t.In(Location).Format("2006-01-02")
	case IntervalMonth:
		return Month(t)
	case IntervalYear:
		return t.In(Location).Format("2006")
	}
	return ""
}

// Location is the calendar the office works in; dates, months and day boundaries use it.
var Location = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// Scope is what the caller may see. It is applied inside the engine query.
// The zero value sees nothing: MaxLevel 0 (public only) and no units.
type Scope struct {
	MaxLevel   int      // highest classification level the caller may read
	AllUnits   bool     // true: any unit; false: only Units
	Units      []string // unit codes readable when AllUnits is false
	Principals []string // the caller's principals for readers lists (user:NAME, unit:CODE, role:ROLE)
	// Categories are the caller's label categories: a document is visible only if each of its
	// LabelCategories is listed here (exact strings). An engine must express "the document's set
	// is a subset of Categories" inside the query and must not depend on knowing every category
	// that exists: embedded and Elasticsearch/OpenSearch exclude documents holding any term
	// outside the allowed set, written as term ranges over the gaps between the allowed values
	// (see search/embedded scopeFilter).
	Categories []string
}

// Query is a search request. Text uses the query language of ParseQuery.
type Query struct {
	Text            string
	Units           []string // filter: unit codes (OR within a facet, AND across facets)
	Categories      []string
	Districts       []string
	Months          []string // "2006-01"
	Classifications []int
	Archived        []string  // FacetArchived values ("archived")
	Endorsed        []string  // FacetEndorsed values ("open", "closed")
	States          []string  // FacetState values: workflow state codes
	From, To        time.Time // inclusive date range on Document.Date; zero means open
	Sort            string    // SortRelevance (default) or SortDate (newest first)
	Page            int       // 1-based
	Size            int       // hits per page, default DefaultPageSize, at most MaxPageSize
	Facets          []string  // facet names to compute; nil means none
	FacetSize       int       // values per facet, default DefaultFacetSize, at most MaxFacetSize
	// DateHistogram, when set (IntervalDay, IntervalMonth or IntervalYear), counts the hits per
	// calendar day, month or year into Result.Histogram, within the scope and every filter.
	DateHistogram string
	Scope         Scope
}

// Hit is one result. TitleHTML and Snippet are HTML-escaped original text with <mark> around
// matched words; they are safe to insert into a page.
type Hit struct {
	ID             string
	Version        int64
	Score          float64
	Title          string
	TitleHTML      string
	Snippet        string
	Unit           string
	UnitName       string
	Category       string
	District       string
	Classification int
	Urgency        string
	State          string
	Date           time.Time
	// LabelCategories are the document's label categories (for the label shown beside the hit).
	LabelCategories []string
	// Attachment, when an attachment's text holds a query word, names the first such
	// attachment and shows the passage (nil otherwise).
	Attachment *AttachmentHit
}

// FacetValue is one value of a facet with its document count under the current query.
type FacetValue struct {
	Value string
	Count int
}

// Result is the answer to a Query.
type Result struct {
	Total  int
	Took   time.Duration
	Hits   []Hit
	Facets map[string][]FacetValue
	// Histogram holds the hits per Query.DateHistogram bucket (Value from HistogramKey), oldest
	// first, only buckets with hits; nil without DateHistogram.
	Histogram []FacetValue
}

// OpKind says whether an operation writes or removes a document.
type OpKind int

const (
	OpUpsert OpKind = iota
	OpDelete
)

// Op is one write the indexer asks an engine to apply.
type Op struct {
	Kind    OpKind
	ID      string
	Version int64
	Doc     *Document // set for OpUpsert
}

// OpResult reports what happened to one Op. Stale is true when the engine already held the same
// or a newer version (the write was a harmless no-op). Err is a per-item failure; Permanent marks
// failures that retrying cannot fix (mapping errors) and that go to the dead-letter state.
type OpResult struct {
	ID        string
	Stale     bool
	Err       error
	Permanent bool
}

// Engine is implemented by every search engine.
type Engine interface {
	// Name is the engine's configuration name: embedded, elasticsearch or opensearch.
	Name() string
	// Apply writes a batch. A non-nil error means the whole batch failed (engine unreachable);
	// otherwise each Op has an OpResult at the same index.
	Apply(ctx context.Context, ops []Op) ([]OpResult, error)
	// Search runs a query within q.Scope.
	Search(ctx context.Context, q Query) (Result, error)
	// Versions returns the stored version of each id that the engine holds (missing ids absent).
	Versions(ctx context.Context, ids []string) (map[string]int64, error)
	// Count returns the number of documents in the index, regardless of scope (operators only).
	Count(ctx context.Context) (int, error)
	// Ping reports whether the engine can serve.
	Ping(ctx context.Context) error
	Close() error
}

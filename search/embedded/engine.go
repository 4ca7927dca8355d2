package embedded

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
	bolterrors "go.etcd.io/bbolt/errors"

	"infowork/analyzers"
	"infowork/search"
)

// IndexName is the directory of the index under Options.Dir; the suffix is the version of the
// document layout and changes whenever a field changes (a reindex builds the next one).
const IndexName = "submissions.v7" // v5: archived and endorsed facets; v6: attachment text; v7: state facet

const (
	defaultBatchSize = 1000
	titleBoost       = 3.0
	noReaders        = "*"  // readers value of a document without a readers list
	readerPrefix     = "r:" // prefix of listed principals, so no principal can equal noReaders
	noLabelCats      = "-"  // labelcats value of a document without label categories
	labelCatPrefix   = "c:" // prefix of label category terms (labelCatTerm)
	labelCatSep      = "\x1f"
	lockTimeout      = "2s"
)

// Field names in the index.
const (
	fTitle          = "title"
	fBody           = "body"
	fUnit           = "unit"
	fCategory       = "category"
	fDistrict       = "district"
	fMonth          = "month"
	fDay            = "day" // "2006-01-02", Asia/Shanghai: the day histogram (v4)
	fClassification = "classification"
	fLevel          = "level"
	fReaders        = "readers"
	fLabelCats      = "labelcats"
	fDate           = "date"
	fArchived       = "archived" // v5
	fEndorsed       = "endorsed" // v5
	fState          = "state"    // v7: indexed keyword (facet, filter); stored only before
	// stored only
	fUnitName    = "unit_name"
	fSubcategory = "subcategory"
	fUrgency     = "urgency"
	fKind        = "kind"
	fVersion     = "version"
	fDateText    = "date_text"
	fLabelText   = "labelcats_text" // label categories joined by labelCatSep
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

// Options configures the engine.
type Options struct {
	Dir       string              // data directory; the index lives in Dir/IndexName
	Analyzer  *analyzers.Analyzer // required; shared with the rest of the process
	Logger    *slog.Logger        // default slog.Default()
	BatchSize int                 // documents per Bleve batch inside one Apply; default 1000
	// Index names the index directory under Dir; default: the one named by the CURRENT file
	// that `infowork reindex` writes, else IndexName (see IndexDir).
	Index string
}

// Engine is the embedded Bleve engine.
type Engine struct {
	idx       bleve.Index
	an        *analyzers.Analyzer
	log       *slog.Logger
	batchSize int
	path      string

	applyMu sync.Mutex // makes version check + write atomic

	columns     columnCache // facet columns per segment (facets.go)
	stopWarm    chan struct{}
	warmDone    chan struct{}
	closeOnce   sync.Once
	columnCount atomic.Int64 // searches whose facets came from the columns (tests)
	columnsOff  bool         // tests: always take the path without columns (Bleve's facets and sort)
}

var _ search.Engine = (*Engine)(nil)

// ErrLocked is returned by Open when another process holds the index directory.
var ErrLocked = errors.New("索引目录已被另一个进程占用 (index directory in use by another process)")

// Open opens the index under opts.Dir, creating it if missing.
func Open(opts Options) (*Engine, error) {
	if opts.Dir == "" {
		return nil, errors.New("embedded: Options.Dir is required")
	}
	if opts.Analyzer == nil {
		return nil, errors.New("embedded: Options.Analyzer is required")
	}
	if opts.BatchSize < 0 {
		return nil, fmt.Errorf("embedded: Options.BatchSize %d must not be negative", opts.BatchSize)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = defaultBatchSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("component", "search_embedded")
	if opts.Index == "" {
		opts.Index = IndexDir(opts.Dir)
	} else if !validIndexDir(opts.Index) {
		return nil, fmt.Errorf("embedded: Options.Index %q: want %s or %s-<suffix>", opts.Index, IndexName, IndexName)
	}
	path := filepath.Join(opts.Dir, opts.Index)
	cfg := map[string]any{"bolt_timeout": lockTimeout}

	var idx bleve.Index
	var err error
	if _, statErr := os.Stat(filepath.Join(path, "index_meta.json")); statErr == nil {
		idx, err = bleve.OpenUsing(path, cfg)
	} else {
		if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("embedded: create data dir: %w", err)
		}
		idx, err = bleve.NewUsing(path, newMapping(), bleve.Config.DefaultIndexType, bleve.Config.DefaultKVStore, cfg)
		if err == nil {
			log.Info("created search index", "path", path)
		}
	}
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("embedded: open %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	e := &Engine{idx: idx, an: opts.Analyzer, log: log, batchSize: opts.BatchSize, path: path,
		stopWarm: make(chan struct{}), warmDone: make(chan struct{})}
	e.columns.inlineMax = inlineBuildMax
	go func() {
		defer close(e.warmDone)
		e.columns.warmLoop(idx, warmInterval, e.stopWarm)
	}()
	return e, nil
}

// warmInterval is how often the engine looks for new large segments (merges) whose facet
// columns to build in the background (facets.go).
const warmInterval = 200 * time.Millisecond

// newMapping is the stored mapping. Documents are built by hand (IndexAdvanced), so it only
// switches off dynamic indexing; it names no custom analyzer.
func newMapping() mapping.IndexMapping {
	m := bleve.NewIndexMapping()
	m.DefaultMapping.Dynamic = false
	m.DefaultMapping.Enabled = true
	m.DefaultAnalyzer = "keyword"
	return m
}

// Name implements search.Engine.
func (e *Engine) Name() string { return "embedded" }

// Ping implements search.Engine.
func (e *Engine) Ping(ctx context.Context) error {
	if _, err := e.idx.DocCount(); err != nil {
		return fmt.Errorf("embedded: ping: %w: %w", search.ErrUnavailable, err)
	}
	return nil
}

// Count implements search.Engine.
func (e *Engine) Count(ctx context.Context) (int, error) {
	n, err := e.idx.DocCount()
	if err != nil {
		return 0, fmt.Errorf("embedded: count: %w", err)
	}
	return int(n), nil // #nosec G115 -- a document count; int is 64-bit on every supported platform
}

// Close implements search.Engine.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		close(e.stopWarm)
		<-e.warmDone
	})
	defer e.columns.close() // background builds hold their segments; let them finish
	if err := e.idx.Close(); err != nil {
		return fmt.Errorf("embedded: close: %w", err)
	}
	return nil
}

// Tombstones live in the internal store under "v/<id>": 8 bytes version, 1 byte state.
const (
	stateLive    = 1
	stateDeleted = 2
)

func versionKey(id string) []byte { return []byte("v/" + id) }

func encodeVersion(v int64, state byte) []byte {
	b := make([]byte, 9)
	binary.BigEndian.PutUint64(b, uint64(v)) // #nosec G115 -- two's-complement bit pattern, decoded back with int64() in versions.get
	b[8] = state
	return b
}

// The version of a live document is its stored version field; the internal store holds only
// tombstones (and records written by releases before the benchmark, which kept one record per
// document there). Scorch copies the whole internal map into every new snapshot and writes all
// of it to disk at every persist, so one record per document made indexing O(N²): at 100k
// documents each batch rewrote 100k records (BENCHMARKS.md, docs/benchmarks.md).

// versions reads stored versions from one index snapshot.
type versions struct{ r index.IndexReader }

func (e *Engine) openVersions() (*versions, error) {
	adv, err := e.idx.Advanced()
	if err != nil {
		return nil, err
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, err
	}
	return &versions{r}, nil
}

func (vs *versions) close() { _ = vs.r.Close() }

// get returns the version the index holds for id and its state (0: never seen), and whether an
// internal record exists: the higher of the document's stored version and the record's.
func (vs *versions) get(id string) (v int64, state byte, internal bool, err error) {
	b, err := vs.r.GetInternal(versionKey(id))
	if err != nil {
		return 0, 0, false, err
	}
	if len(b) == 9 {
		v, state, internal = int64(binary.BigEndian.Uint64(b)), b[8], true // #nosec G115 -- decodes the bit pattern encodeVersion wrote from an int64; round trip is exact
	}
	doc, err := vs.r.Document(id)
	if err != nil {
		return 0, 0, false, err
	}
	if doc != nil {
		var sv int64
		found := false
		doc.VisitFields(func(f index.Field) {
			if f.Name() == fVersion {
				sv, err = strconv.ParseInt(string(f.Value()), 10, 64)
				found = err == nil
			}
		})
		if found && (state == 0 || sv >= v) {
			v, state = sv, stateLive
		}
	}
	return v, state, internal, nil
}

// Versions implements search.Engine.
func (e *Engine) Versions(ctx context.Context, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	vs, err := e.openVersions()
	if err != nil {
		return nil, fmt.Errorf("embedded: versions: %w", err)
	}
	defer vs.close()
	for _, id := range ids {
		v, state, _, err := vs.get(id)
		if err != nil {
			return nil, fmt.Errorf("embedded: versions: %w", err)
		}
		if state == stateLive {
			out[id] = v
		}
	}
	return out, nil
}

// Apply implements search.Engine.
//
// The documents are built (and their text segmented) ahead of the Bleve batches, a chunk of
// BatchSize documents at a time on every CPU, outside the lock: while Bleve turns one chunk
// into a segment, which runs on one goroutine, the next chunk is being segmented. Bleve's own
// analysis then only counts the prepared tokens.
func (e *Engine) Apply(ctx context.Context, ops []search.Op) ([]search.OpResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan []builtDoc, 1)
	go func() {
		defer close(chunks)
		for lo := 0; lo < len(ops); lo += e.batchSize {
			b := e.buildChunk(ops[lo:min(lo+e.batchSize, len(ops))])
			select {
			case chunks <- b:
			case <-ctx.Done():
				return
			}
		}
	}()

	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	results := make([]search.OpResult, len(ops))
	// pending holds the version each id gets from this call, so duplicates within one call
	// are checked against each other too.
	pending := map[string]int64{}
	vs, err := e.openVersions()
	if err != nil {
		return nil, fmt.Errorf("embedded: apply: %w: %w", search.ErrUnavailable, err)
	}
	defer vs.close()
	i := 0
	for chunk := range chunks {
		batch := e.idx.NewBatch()
		inBatch := 0
		for _, b := range chunk {
			op := ops[i]
			res := &results[i]
			i++
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("embedded: apply: %w", err)
			}
			res.ID = op.ID
			if op.ID == "" {
				res.Err, res.Permanent = errors.New("embedded: empty document id"), true
				continue
			}
			cur, ok := pending[op.ID]
			internal := false
			if !ok {
				v, state, rec, err := vs.get(op.ID)
				if err != nil {
					return nil, fmt.Errorf("embedded: apply: read version of %s: %w", op.ID, err)
				}
				if state != 0 {
					cur, ok = v, true
				}
				internal = rec
			}
			if ok && op.Version <= cur {
				res.Stale = true
				continue
			}
			switch op.Kind {
			case search.OpUpsert:
				if b.err != nil {
					res.Err, res.Permanent = b.err, true
					continue
				}
				if err := batch.IndexAdvanced(b.doc); err != nil {
					res.Err, res.Permanent = fmt.Errorf("embedded: index %s: %w", op.ID, err), true
					continue
				}
				if internal { // a tombstone or an old per-document record: the document's field takes over
					batch.DeleteInternal(versionKey(op.ID))
				}
			case search.OpDelete:
				batch.Delete(op.ID)
				batch.SetInternal(versionKey(op.ID), encodeVersion(op.Version, stateDeleted))
			default:
				res.Err, res.Permanent = fmt.Errorf("embedded: unknown op kind %d", op.Kind), true
				continue
			}
			pending[op.ID] = op.Version
			inBatch++
		}
		if inBatch > 0 {
			// Each chunk gets a fresh batch: scorch's analysis goroutine may still be ranging
			// over a batch's map when Batch returns (reported by -race), so none is reused.
			if err := e.idx.Batch(batch); err != nil {
				return nil, fmt.Errorf("embedded: apply: %w: %w", search.ErrUnavailable, err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded: apply: %w", err)
	}
	return results, nil
}

// builtDoc is the Bleve document of an upsert (nil for other ops) or why it cannot be built.
type builtDoc struct {
	doc *document.Document
	err error
}

// buildChunk builds the documents of ops's upserts on every CPU.
func (e *Engine) buildChunk(ops []search.Op) []builtDoc {
	out := make([]builtDoc, len(ops))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ops)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ops) {
					return
				}
				op := ops[i]
				switch {
				case op.Kind != search.OpUpsert || op.ID == "":
				case op.Doc == nil:
					out[i].err = fmt.Errorf("embedded: upsert %s without a document", op.ID)
				default:
					out[i].doc, out[i].err = e.buildDocument(op)
				}
			}
		}()
	}
	wg.Wait()
	return out
}

var levelNames = []string{"public", "internal", "secret", "confidential"}

// levelName is the facet value of a classification level (label.Level names).
func levelName(l int) string {
	if l >= 0 && l < len(levelNames) {
		return levelNames[l]
	}
	return "level(" + strconv.Itoa(l) + ")"
}

const (
	textOpts    = index.IndexField | index.StoreField | index.IncludeTermVectors
	keywordOpts = index.IndexField | index.DocValues
	storedOpts  = index.StoreField
)

func (e *Engine) buildDocument(op search.Op) (*document.Document, error) {
	d := op.Doc
	doc := document.NewDocument(op.ID)
	doc.AddField(e.textField(fTitle, nil, d.Title))
	doc.AddField(e.textField(fBody, nil, d.Body))
	keyword := func(name, v string, opts index.FieldIndexingOptions, pos []uint64) {
		doc.AddField(document.NewTextFieldWithIndexingOptions(name, pos, []byte(v), opts))
	}
	keyword(fUnit, d.Unit, keywordOpts|index.StoreField, nil)
	keyword(fCategory, d.Category, keywordOpts|index.StoreField, nil)
	if d.District != "" {
		keyword(fDistrict, d.District, keywordOpts|index.StoreField, nil)
	}
	month := ""
	if !d.Date.IsZero() {
		month = search.Month(d.Date)
		keyword(fMonth, month, keywordOpts, nil)
		keyword(fDay, search.HistogramKey(d.Date, search.IntervalDay), keywordOpts, nil)
		dt, err := document.NewDateTimeFieldWithIndexingOptions(fDate, nil, d.Date, "", keywordOpts)
		if err != nil {
			return nil, fmt.Errorf("embedded: index %s: date: %w", op.ID, err)
		}
		doc.AddField(dt)
		keyword(fDateText, d.Date.Format("2006-01-02T15:04:05.999999999Z07:00"), storedOpts, nil)
	}
	keyword(fClassification, levelName(d.Classification), keywordOpts, nil)
	if d.Archived {
		keyword(fArchived, "archived", keywordOpts, nil)
	}
	if d.Endorsement != "" {
		keyword(fEndorsed, d.Endorsement, keywordOpts, nil)
	}
	doc.AddField(document.NewNumericFieldWithIndexingOptions(fLevel, nil, float64(d.Classification), index.IndexField|index.StoreField))
	if len(d.Readers) == 0 {
		keyword(fReaders, noReaders, index.IndexField, nil)
	}
	for i, r := range d.Readers {
		keyword(fReaders, readerPrefix+r, index.IndexField, []uint64{uint64(i)})
	}
	if len(d.LabelCategories) == 0 {
		keyword(fLabelCats, noLabelCats, index.IndexField, nil)
	} else {
		for i, c := range d.LabelCategories {
			keyword(fLabelCats, labelCatTerm(c), index.IndexField, []uint64{uint64(i)})
		}
		keyword(fLabelText, strings.Join(d.LabelCategories, labelCatSep), storedOpts, nil)
	}
	keyword(fUnitName, d.UnitName, storedOpts, nil)
	keyword(fSubcategory, d.Subcategory, storedOpts, nil)
	keyword(fUrgency, d.Urgency, storedOpts, nil)
	if d.State != "" {
		keyword(fState, d.State, keywordOpts|index.StoreField, nil)
	}
	keyword(fKind, d.Kind, storedOpts, nil)
	keyword(fVersion, strconv.FormatInt(op.Version, 10), storedOpts, nil)
	e.addAttachments(doc, d)
	return doc, nil
}

// labelCatTerm is the labelcats term of a label category: a prefix, so no category can equal
// noLabelCats, and the name in hex, so no term contains a zero byte. The scope filter uses term
// ranges with exclusive upper bounds, and Bleve's term range searcher wrongly includes the term
// bound+"\x00" when it exists; hex terms never have that form.
func labelCatTerm(c string) string { return labelCatPrefix + hex.EncodeToString([]byte(c)) }

// textField is a text field whose tokens are computed now, by the caller's goroutine: Bleve
// asks the field's analyzer for them during its batch, and gets the prepared stream.
func (e *Engine) textField(name string, pos []uint64, text string) *document.TextField {
	return document.NewTextFieldCustom(name, pos, []byte(text), textOpts, prepared(tokenStream(e.an.Index(text))))
}

// prepared is an analyzer that returns one precomputed token stream.
type prepared analysis.TokenStream

func (p prepared) Analyze([]byte) analysis.TokenStream { return analysis.TokenStream(p) }

// tokenStream hands the analyzers package's index tokens to Bleve unchanged, in one
// allocation for the tokens and one for their bytes.
func tokenStream(toks []analyzers.Token) analysis.TokenStream {
	n := 0
	for _, t := range toks {
		n += len(t.Term)
	}
	buf := make([]byte, 0, n)
	slab := make([]analysis.Token, len(toks))
	out := make(analysis.TokenStream, len(toks))
	for i, tok := range toks {
		start := len(buf)
		buf = append(buf, tok.Term...)
		slab[i] = analysis.Token{
			Term:     buf[start:len(buf):len(buf)],
			Start:    tok.Start,
			End:      tok.End,
			Position: tok.Position + 1, // Bleve positions are 1-based
			Type:     analysis.Ideographic,
		}
		out[i] = &slab[i]
	}
	return out
}

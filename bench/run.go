package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/analyzers"
	"infowork/auth"
	"infowork/demo"
	"infowork/indexer"
	"infowork/label"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/search/opensearch"
	"infowork/submission"
)

// Scenario names.
const (
	ScenarioLoad      = "load"
	ScenarioFreshness = "freshness"
	ScenarioSearch    = "search"
	ScenarioHTTP      = "http"
	ScenarioMemory    = "memory"
)

// AllScenarios in run order.
var AllScenarios = []string{ScenarioLoad, ScenarioFreshness, ScenarioSearch, ScenarioHTTP, ScenarioMemory}

// Config is one benchmark run.
type Config struct {
	Docs int    // documents to generate and load
	Seed uint64 // generator seed
	// DB is a migrated database of the benchmark's own: Run refuses a database holding reports
	// it did not generate.
	DB       *pgxpool.Pool
	Analyzer *analyzers.Analyzer
	Dataset  *demo.Dataset
	Auth     *auth.Service // for the demo accounts the HTTP scenario logs in with
	IndexDir string        // embedded index directory (emptied first)
	// OpenSearchURL, when set, adds OpenSearch as an alternative (an index prefix of its own).
	OpenSearchURL string
	Scenarios     []string // default AllScenarios; "load" always runs (the others need the data)
	Clients       []int    // concurrent search clients, default 1, 8, 32
	// SearchDuration is the measuring time per engine and client count (default 15s), after a
	// warm-up of 100 queries.
	SearchDuration time.Duration
	FreshWrites    int     // freshness: writes per engine (default 100)
	FreshRate      float64 // freshness: writes per second (default 20)
	HTTPRate       int     // HTTP: requests per second (default 1000)
	HTTPDuration   time.Duration
	// HTTPSteps are rates run before the target rate, each for HTTPStepDuration (default 10s),
	// to report the highest rate the machine holds within the target's bounds (none: skipped).
	HTTPSteps        []int
	HTTPStepDuration time.Duration
	ProfileDir       string // write CPU and heap profiles here when set
	// BulkInsert loads the reports with multi-row INSERTs (no outbox rows) and fills the
	// embedded engine through the reindex path, for corpora too large for the end-to-end path
	// on a small machine; the end-to-end load is then not measured.
	BulkInsert bool
	// Report, when set, is the Markdown file each table is appended to as its scenario ends
	// (after StartReport wrote the run's head).
	Report string
	Out    io.Writer
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.DB == nil || c.Analyzer == nil || c.Dataset == nil || c.IndexDir == "" {
		return errors.New("bench: Config.DB, Analyzer, Dataset and IndexDir are required")
	}
	if c.Docs <= 0 {
		return fmt.Errorf("bench: --docs must be positive (%d)", c.Docs)
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = AllScenarios
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return fmt.Errorf("bench: unknown scenario %q (want %s)", s, strings.Join(AllScenarios, ", "))
		}
	}
	if len(c.Clients) == 0 {
		c.Clients = []int{1, 8, 32}
	}
	if c.SearchDuration <= 0 {
		c.SearchDuration = 15 * time.Second
	}
	if c.FreshWrites <= 0 {
		c.FreshWrites = 100
	}
	if c.FreshRate <= 0 {
		c.FreshRate = 20
	}
	if c.HTTPRate <= 0 {
		c.HTTPRate = 1000
	}
	if c.HTTPStepDuration <= 0 {
		c.HTTPStepDuration = 10 * time.Second
	}
	if c.HTTPDuration <= 0 {
		c.HTTPDuration = 30 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

func (c *Config) wants(s string) bool { return slices.Contains(c.Scenarios, s) }

// Searcher is what the search scenario measures: the engines and the PostgreSQL alternative.
type Searcher interface {
	Name() string
	Search(ctx context.Context, q search.Query) (search.Result, error)
}

// Result is everything a run measured.
type Result struct {
	Tables []*Table
	// Figures the tests and the targets look at.
	LoadDocsPerSec, SegmentDocsPerSec float64
	SearchP99                         map[string]map[int]time.Duration // engine → clients → p99
	SearchErrors                      map[string]int
	FreshP99                          map[string]time.Duration
	Indexed                           int // documents the embedded engine holds after the load
	HTTPSuccess                       float64
	HTTPRequests                      int
	HTTPP99                           time.Duration
	HTTPThroughput                    float64
	HTTPCapacity                      int // highest step rate within the bounds (HTTPSteps)
}

type env struct {
	cfg     Config
	gen     *Generator
	engine  *embedded.Engine
	os      *opensearch.Engine
	pg      *PGFTS
	subs    *submission.Service
	res     *Result
	ixStop  func()
	docsLen int64
	osIdx   string // OpenSearch index prefix of this run, deleted at the end
}

// Run generates the corpus, loads it and runs the scenarios, printing each table to cfg.Out.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	gen, err := NewGenerator(cfg.Dataset, cfg.Seed)
	if err != nil {
		return nil, err
	}
	if cfg.Docs > gen.Max() {
		return nil, fmt.Errorf("bench: %d documents exceed the %d distinct ones the generator can make", cfg.Docs, gen.Max())
	}
	e := &env{cfg: cfg, gen: gen, subs: submission.New(cfg.DB), res: &Result{SearchP99: map[string]map[int]time.Duration{},
		SearchErrors: map[string]int{}, FreshP99: map[string]time.Duration{}}}
	if err := e.prepare(ctx); err != nil {
		return nil, err
	}
	defer e.close()
	if err := e.load(ctx); err != nil {
		return e.res, err
	}
	if cfg.wants(ScenarioFreshness) {
		if err := e.freshness(ctx); err != nil {
			return e.res, err
		}
	}
	if cfg.wants(ScenarioSearch) {
		if err := e.searchScenario(ctx); err != nil {
			return e.res, err
		}
	}
	if cfg.wants(ScenarioHTTP) {
		if err := e.httpScenario(ctx); err != nil {
			return e.res, err
		}
	}
	if cfg.wants(ScenarioMemory) {
		e.memory(ctx)
	}
	return e.res, nil
}

func (e *env) table(t *Table) {
	t.Text(e.cfg.Out)
	e.res.Tables = append(e.res.Tables, t)
	if e.cfg.Report != "" {
		if err := AppendTable(e.cfg.Report, t); err != nil {
			e.logf("%v", err)
		}
	}
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.cfg.Out, "bench: "+format+"\n", args...)
}

// prepare checks the database is the benchmark's own, seeds units, categories and the demo
// accounts, opens the engines and starts the embedded indexer.
func (e *env) prepare(ctx context.Context) error {
	var foreign, ours int
	err := pgx.BeginFunc(ctx, e.cfg.DB, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE source_ref IS NULL OR source_ref NOT LIKE 'bench:%'),
			count(*) FILTER (WHERE source_ref LIKE 'bench:%') FROM submissions`).Scan(&foreign, &ours)
	})
	if err != nil {
		return fmt.Errorf("bench: check database: %w", err)
	}
	if foreign > 0 || ours > 0 {
		return fmt.Errorf("bench: the database already holds %d reports; the benchmark needs an empty database of its own (infowork bench creates one)", foreign+ours)
	}
	ds := *e.cfg.Dataset
	ds.Messages = nil
	if e.cfg.Auth != nil {
		if _, err := demo.Seed(ctx, e.cfg.DB, e.cfg.Auth, e.subs, &ds, nil); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(e.cfg.IndexDir); err != nil {
		return fmt.Errorf("bench: clear index dir: %w", err)
	}
	e.engine, err = embedded.Open(embedded.Options{Dir: e.cfg.IndexDir, Analyzer: e.cfg.Analyzer, Logger: e.cfg.Logger})
	if err != nil {
		return err
	}
	e.pg = &PGFTS{DB: e.cfg.DB, An: e.cfg.Analyzer}
	if e.cfg.OpenSearchURL != "" {
		octx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		prefix := fmt.Sprintf("bench%d-%d-", e.cfg.Seed, time.Now().UnixNano())
		e.osIdx = prefix
		e.os, err = opensearch.Open(octx, opensearch.Options{URLs: []string{e.cfg.OpenSearchURL}, IndexPrefix: prefix,
			Analyzer: e.cfg.Analyzer, Logger: e.cfg.Logger, Replicas: 0})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNoOpenSearch, err)
		}
		if err := e.os.Ping(octx); err != nil {
			return fmt.Errorf("%w at %s: %w", ErrNoOpenSearch, e.cfg.OpenSearchURL, err)
		}
	}
	e.startIndexer(ctx, e.engine)
	return nil
}

func (e *env) close() {
	if e.ixStop != nil {
		e.ixStop()
	}
	if e.engine != nil {
		if err := e.engine.Close(); err != nil {
			e.logf("close engine: %v", err)
		}
	}
	if e.os != nil {
		if err := e.os.Close(); err != nil {
			e.logf("close OpenSearch engine: %v", err)
		}
		// The run's indices go; the node may be the shared test node.
		req, err := http.NewRequest(http.MethodDelete, strings.TrimRight(e.cfg.OpenSearchURL, "/")+"/"+e.osIdx+"*", nil)
		if err == nil {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_ = resp.Body.Close() // nothing is read; a close error loses nothing
			} else {
				e.logf("delete the run's OpenSearch indices: %v", err)
			}
		}
	}
}

// startIndexer runs an outbox indexer into eng (stopping the previous one).
func (e *env) startIndexer(ctx context.Context, eng search.Engine) {
	if e.ixStop != nil {
		e.ixStop()
	}
	ix, err := indexer.New(indexer.Options{DB: e.cfg.DB, Engine: eng, Logger: e.cfg.Logger,
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}})
	if err != nil {
		panic(err) // options are fixed above
	}
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ix.Run(ictx)
	}()
	e.ixStop = func() { cancel(); <-done; e.ixStop = nil }
}

// writer is the subject benchmark reports are written as (a trusted loader, like the demo).
var writer = access.Subject{Username: "bench", Clearance: label.Confidential, Roles: []string{access.RoleReporter}}

func input(d Doc) submission.Input {
	return submission.Input{Title: d.Title, Body: d.Body, CategoryCode: d.CategoryCode, Urgency: d.Urgency,
		Classification: d.Classification, Source: "import", SourceRef: d.SourceRef, ReportedAt: d.Time}
}

// insert writes docs [from, to) in transactions of batch reports.
func (e *env) insert(ctx context.Context, from, to, batch int, bytes *atomic.Int64) error {
	for i := from; i < to; i += batch {
		end := min(i+batch, to)
		err := pgx.BeginFunc(ctx, e.cfg.DB, func(tx pgx.Tx) error {
			if err := access.SetBypass(ctx, tx); err != nil {
				return err
			}
			for k := i; k < end; k++ {
				d := e.gen.Doc(k)
				if bytes != nil {
					bytes.Add(int64(len(d.Title) + len(d.Body)))
				}
				if _, err := e.subs.CreateTx(ctx, tx, d.UnitCode, writer, input(d)); err != nil {
					return fmt.Errorf("document %d: %w", k, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bench: insert: %w", err)
		}
	}
	return nil
}

// segmentCeiling measures the raw jieba segmentation throughput (index mode, what the engine
// does per document) over the first n documents with one worker per CPU.
func (e *env) segmentCeiling(n int) (docsPerSec, mbPerSec float64) {
	texts := make([]string, n)
	var bytes int64
	for i := range texts {
		d := e.gen.Doc(i)
		texts[i] = d.Title + "\n" + d.Body
		bytes += int64(len(texts[i]))
	}
	workers := runtime.GOMAXPROCS(0)
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				_ = e.cfg.Analyzer.Index(texts[i])
			}
		}()
	}
	wg.Wait()
	sec := time.Since(start).Seconds()
	return float64(n) / sec, float64(bytes) / sec / 1e6
}

// load is scenario 1: PostgreSQL insert → outbox → embedded index, then the same documents into
// PostgreSQL full-text search and OpenSearch.
func (e *env) load(ctx context.Context) error {
	n := e.cfg.Docs
	sample := min(n, 20000)
	e.logf("segmentation ceiling over %d documents", sample)
	segDocs, segMB := e.segmentCeiling(sample)
	e.res.SegmentDocsPerSec = segDocs

	if e.cfg.BulkInsert {
		return e.loadBulk(ctx, segDocs, segMB)
	}
	e.logf("loading %d documents: insert → outbox → embedded index", n)
	var bytes atomic.Int64
	var prof func()
	if e.cfg.ProfileDir != "" {
		prof = e.cpuProfile("load-embedded")
	}
	start := time.Now()
	const writers = 2
	errc := make(chan error, writers)
	per := (n + writers - 1) / writers
	for w := range writers {
		go func() { errc <- e.insert(ctx, w*per, min((w+1)*per, n), 500, &bytes) }()
	}
	var insertErr error
	for range writers {
		if err := <-errc; err != nil && insertErr == nil {
			insertErr = err
		}
	}
	if insertErr != nil {
		return insertErr
	}
	inserted := time.Since(start)
	if err := e.waitIndexed(ctx, e.engine, n, 0); err != nil {
		return err
	}
	total := time.Since(start)
	if prof != nil {
		prof()
	}
	e.res.Indexed, _ = e.engine.Count(ctx)
	mb := float64(bytes.Load()) / 1e6
	embDocs := float64(n) / total.Seconds()
	e.res.LoadDocsPerSec = embDocs

	t := &Table{Title: fmt.Sprintf("Bulk load, %d documents (%.0f MB of title and body text)", n, mb),
		Header: []string{"path", "seconds", "docs/s", "MB/s", "÷ segmentation ceiling", "embedded from rows ÷ this"}}
	t.add("raw jieba segmentation (ceiling, index mode, all CPUs)", "–", fmt.Sprintf("%.0f", segDocs), fmt.Sprintf("%.2f", segMB), "1.00×", "–")
	t.add("embedded: PG insert → outbox → Bleve (end to end)", fmt.Sprintf("%.1f", total.Seconds()), fmt.Sprintf("%.0f", embDocs),
		fmt.Sprintf("%.2f", mb/total.Seconds()), ratio(embDocs, segDocs), "–")
	t.add("  of which PG insert + outbox (2 writers)", fmt.Sprintf("%.1f", inserted.Seconds()), fmt.Sprintf("%.0f", float64(n)/inserted.Seconds()),
		fmt.Sprintf("%.2f", mb/inserted.Seconds()), "–", "–")

	// The engines read the same rows back (as a reindex does) and write them their way: first
	// the embedded engine into a second index, so its figure compares with the alternatives'.
	reStart := time.Now()
	reDir := e.cfg.IndexDir + "-reindex"
	if err := os.RemoveAll(reDir); err != nil {
		return err
	}
	re, err := embedded.Open(embedded.Options{Dir: reDir, Analyzer: e.cfg.Analyzer, Logger: e.cfg.Logger})
	if err != nil {
		return err
	}
	err = e.feed(ctx, func(docs []search.Document) error { return applyAll(ctx, re, docs) })
	if err == nil {
		err = e.waitIndexed(ctx, re, n, 0)
	}
	if cerr := re.Close(); cerr != nil && err == nil {
		err = cerr
	}
	_ = os.RemoveAll(reDir)
	if err != nil {
		return err
	}
	reSec := time.Since(reStart).Seconds()
	reDocs := float64(n) / reSec
	t.add("embedded: Bleve from the same rows (reindex path)", fmt.Sprintf("%.1f", reSec), fmt.Sprintf("%.0f", reDocs), fmt.Sprintf("%.2f", mb/reSec),
		ratio(reDocs, segDocs), "1.00×")

	return e.loadAlternatives(ctx, t, n, mb, segDocs, reDocs)
}

// applyAll upserts docs into eng and fails on any per-document error.
func applyAll(ctx context.Context, eng search.Engine, docs []search.Document) error {
	ops := make([]search.Op, len(docs))
	for i := range docs {
		ops[i] = search.Op{Kind: search.OpUpsert, ID: docs[i].ID, Version: docs[i].Version, Doc: &docs[i]}
	}
	res, err := eng.Apply(ctx, ops)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("bench: %s %s: %w", eng.Name(), r.ID, r.Err)
		}
	}
	return nil
}

// feed pages over the stored reports by id and hands them to fn as search documents, with two
// workers.
func (e *env) feed(ctx context.Context, fn func([]search.Document) error) error {
	var lo, hi int64
	if err := e.cfg.DB.QueryRow(ctx, `SELECT COALESCE(min(id), 0), COALESCE(max(id), 0) FROM submissions`).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("bench: feed: %w", err)
	}
	const page = 1000
	var next atomic.Int64
	next.Store(lo)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := next.Add(page) - page
				if from > hi || ctx.Err() != nil {
					return
				}
				ids := make([]int64, 0, page)
				for id := from; id < from+page && id <= hi; id++ {
					ids = append(ids, id)
				}
				m, err := submission.Documents(ctx, e.cfg.DB, ids)
				if err == nil && len(m) > 0 {
					docs := make([]search.Document, 0, len(m))
					for _, id := range ids {
						if d, ok := m[id]; ok {
							docs = append(docs, d)
						}
					}
					err = fn(docs)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// waitIndexed waits until eng counts at least n documents (and, for the embedded engine, the
// outbox is empty).
func (e *env) waitIndexed(ctx context.Context, eng search.Engine, n int, timeout time.Duration) error {
	if timeout == 0 {
		timeout = time.Duration(max(n/50, 600)) * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		c, err := eng.Count(ctx)
		if err == nil && c >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s holds %d of %d documents after %s (err %v)", eng.Name(), c, n, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freshness is scenario 2: commit-to-searchable latency under a steady write rate, per engine.
func (e *env) freshness(ctx context.Context) error {
	t := &Table{Title: fmt.Sprintf("Freshness: commit → searchable, %d writes at %.0f/s", e.cfg.FreshWrites, e.cfg.FreshRate),
		Header: []string{"engine", "writes", "p50 ms", "p90 ms", "p99 ms", "max ms", "target p99"}}
	type target struct {
		eng    search.Engine
		limit  time.Duration
		offset int
	}
	targets := []target{{e.engine, 500 * time.Millisecond, 0}}
	if e.os != nil {
		targets = append(targets, target{e.os, 1500 * time.Millisecond, 1})
	}
	for _, tg := range targets {
		e.startIndexer(ctx, tg.eng)
		lat, err := e.freshOne(ctx, tg.eng, tg.offset)
		if err != nil {
			return err
		}
		p := percentiles(lat)
		e.res.FreshP99[tg.eng.Name()] = p.P99
		verdict := "met"
		if p.P99 > tg.limit || p.N < e.cfg.FreshWrites {
			verdict = "MISSED"
		}
		t.add(tg.eng.Name(), strconv.Itoa(p.N), ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max), fmt.Sprintf("≤ %s: %s", tg.limit, verdict))
	}
	e.startIndexer(ctx, e.engine)
	t.Notes = append(t.Notes, "each write is one transaction through submission.CreateTx; a poller searches for the pending writes' marker words every 5 ms",
		"OpenSearch writes with refresh interval 1 s (the default of the mapping); the embedded engine is searchable when its batch commits")
	e.table(t)
	return nil
}

func (e *env) freshOne(ctx context.Context, eng search.Engine, round int) ([]time.Duration, error) {
	type pending struct {
		marker    string
		committed time.Time
	}
	var mu sync.Mutex
	waiting := map[string]time.Time{}
	var lat []time.Duration
	done := make(chan struct{})
	pollErr := make(chan error, 1)
	go func() {
		defer close(pollErr)
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			mu.Lock()
			markers := make([]string, 0, len(waiting))
			for m := range waiting {
				markers = append(markers, m)
				if len(markers) == 20 { // queries are limited to 500 characters
					break
				}
			}
			mu.Unlock()
			if len(markers) == 0 {
				continue
			}
			res, err := eng.Search(ctx, search.Query{Text: strings.Join(markers, " OR "), Size: 100,
				Scope: search.Scope{MaxLevel: 3, AllUnits: true}})
			now := time.Now()
			if err != nil {
				pollErr <- err
				return
			}
			mu.Lock()
			for _, h := range res.Hits {
				for _, m := range markers {
					if c, ok := waiting[m]; ok && strings.Contains(h.Title, m) {
						lat = append(lat, now.Sub(c))
						delete(waiting, m)
					}
				}
			}
			mu.Unlock()
		}
	}()
	interval := time.Duration(float64(time.Second) / e.cfg.FreshRate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	base := e.cfg.Docs + round*e.cfg.FreshWrites
	for k := 0; k < e.cfg.FreshWrites; k++ {
		<-tick.C
		d := e.gen.Doc(base + k)
		marker := fmt.Sprintf("fresh%dx%d", e.cfg.Seed, base+k)
		d.Title = d.Title + " " + marker
		d.SourceRef = fmt.Sprintf("bench:%d:fresh:%d", e.cfg.Seed, base+k)
		err := pgx.BeginFunc(ctx, e.cfg.DB, func(tx pgx.Tx) error {
			if err := access.SetBypass(ctx, tx); err != nil {
				return err
			}
			_, err := e.subs.CreateTx(ctx, tx, d.UnitCode, writer, input(d))
			return err
		})
		if err != nil {
			close(done)
			return nil, fmt.Errorf("bench: freshness write: %w", err)
		}
		mu.Lock()
		waiting[marker] = time.Now()
		mu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		left := len(waiting)
		mu.Unlock()
		if left == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(done)
	if err := <-pollErr; err != nil {
		return nil, fmt.Errorf("bench: freshness poll on %s: %w", eng.Name(), err)
	}
	mu.Lock()
	defer mu.Unlock()
	return lat, nil
}

// searchScenario is scenario 3 with the alternatives (6): the same queries against every
// engine at each client count, engines interleaved per client count.
func (e *env) searchScenario(ctx context.Context) error {
	queries := Queries(e.gen, e.cfg.Analyzer, 2000)
	searchers := []Searcher{e.engine, e.pg}
	if e.os != nil {
		searchers = append(searchers, e.os)
	}
	t := &Table{Title: fmt.Sprintf("Search, %d documents: query mix with five facets, month histogram and highlighting", e.cfg.Docs),
		Header: []string{"engine", "clients", "queries", "QPS", "p50 ms", "p90 ms", "p99 ms", "errors", "p99 ÷ embedded p99"}}
	agree := e.agreement(ctx, queries[:min(200, len(queries))], searchers)
	for _, c := range e.cfg.Clients {
		var embP99 time.Duration
		for _, s := range searchers {
			var prof func()
			if e.cfg.ProfileDir != "" && s == Searcher(e.engine) && c == 8 {
				prof = e.cpuProfile("search-embedded-8")
			}
			p, qps, errs := e.runSearch(ctx, s, queries, c)
			if prof != nil {
				prof()
			}
			if e.res.SearchP99[s.Name()] == nil {
				e.res.SearchP99[s.Name()] = map[int]time.Duration{}
			}
			e.res.SearchP99[s.Name()][c] = p.P99
			e.res.SearchErrors[s.Name()] += errs
			if s == Searcher(e.engine) {
				embP99 = p.P99
			}
			t.add(s.Name(), strconv.Itoa(c), strconv.Itoa(p.N), fmt.Sprintf("%.0f", qps), ms(p.P50), ms(p.P90), ms(p.P99), strconv.Itoa(errs),
				ratio(float64(p.P99), float64(embP99)))
		}
	}
	t.Notes = append(t.Notes,
		fmt.Sprintf("query mix (2,000 queries from real titles, seed %d): 45%% two words, 20%% three words, 15%% quoted phrases, 20%% browse by unit or category sorted by date; a third of the text queries also filter by category, district or date; scope: researcher (all units, up to secret)", e.cfg.Seed),
		fmt.Sprintf("each cell: %s of closed-loop clients after 100 warm-up queries; engines interleaved per client count", e.cfg.SearchDuration),
		"targets at 1M documents: embedded p99 ≤ 100 ms at 8 clients, and pg-fts p99 ÷ embedded p99 ≥ 3",
		agree)
	e.table(t)
	return nil
}

// agreement compares totals between the embedded engine and each alternative on the same
// queries (a sanity check that they answer the same question).
func (e *env) agreement(ctx context.Context, qs []search.Query, ss []Searcher) string {
	var parts []string
	for _, s := range ss[1:] {
		same, near, n := 0, 0, 0
		for _, q := range qs {
			a, err1 := ss[0].Search(ctx, q)
			b, err2 := s.Search(ctx, q)
			if err1 != nil || err2 != nil {
				continue
			}
			n++
			if a.Total == b.Total {
				same++
			}
			if d := a.Total - b.Total; d*d*100 <= a.Total*a.Total { // within 10%
				near++
			}
		}
		parts = append(parts, fmt.Sprintf("%s: totals equal on %d of %d queries, within 10%% on %d", s.Name(), same, n, near))
	}
	return "agreement with embedded (sub-word indexing makes the engines match a little more than pg-fts): " + strings.Join(parts, "; ")
}

func (e *env) runSearch(ctx context.Context, s Searcher, queries []search.Query, clients int) (Percentiles, float64, int) {
	for i := 0; i < 100; i++ {
		_, _ = s.Search(ctx, queries[i%len(queries)])
	}
	var next atomic.Int64
	var errs atomic.Int64
	lats := make([][]time.Duration, clients)
	stop := time.Now().Add(e.cfg.SearchDuration)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) && ctx.Err() == nil {
				q := queries[int(next.Add(1)-1)%len(queries)]
				t0 := time.Now()
				_, err := s.Search(ctx, q)
				lats[c] = append(lats[c], time.Since(t0))
				if err != nil {
					if errs.Add(1) == 1 {
						e.cfg.Logger.Warn("bench search error", "engine", s.Name(), "query", q.Text, "err", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return percentiles(all), float64(len(all)) / elapsed.Seconds(), int(errs.Load())
}

// cpuProfile starts a CPU profile into ProfileDir/name.pprof and returns its stop function.
func (e *env) cpuProfile(name string) func() {
	if err := os.MkdirAll(e.cfg.ProfileDir, 0o750); err != nil {
		e.logf("profile: %v", err)
		return func() {}
	}
	path := filepath.Join(e.cfg.ProfileDir, name+".pprof")
	f, err := os.Create(path) // #nosec G304 -- operator-chosen profile directory
	if err != nil {
		e.logf("profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close() // empty file; the StartCPUProfile error is the one reported
		e.logf("profile: %v", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			e.logf("profile: %v", err)
			return
		}
		e.logf("CPU profile written to %s (go tool pprof -top bin/infowork %s)", path, path)
	}
}

// loadAlternatives loads PostgreSQL full-text search and OpenSearch from the stored rows and
// finishes the load table.
func (e *env) loadAlternatives(ctx context.Context, t *Table, n int, mb, segDocs, reDocs float64) error {
	pgStart := time.Now()
	if err := e.pg.Create(ctx); err != nil {
		return err
	}
	if err := e.feed(ctx, func(docs []search.Document) error { return e.pg.Load(ctx, docs) }); err != nil {
		return err
	}
	if err := e.pg.Index(ctx); err != nil {
		return err
	}
	pgSec := time.Since(pgStart).Seconds()
	pgDocs := float64(n) / pgSec
	t.add("pg-fts: segment + INSERT, then GIN index", fmt.Sprintf("%.1f", pgSec), fmt.Sprintf("%.0f", pgDocs), fmt.Sprintf("%.2f", mb/pgSec),
		ratio(pgDocs, segDocs), ratio(reDocs, pgDocs))
	if e.os != nil {
		e.logf("loading %d documents into OpenSearch", n)
		osStart := time.Now()
		err := e.feed(ctx, func(docs []search.Document) error { return applyAll(ctx, e.os, docs) })
		if err != nil {
			return err
		}
		if err := e.waitIndexed(ctx, e.os, n, 0); err != nil {
			return err
		}
		osSec := time.Since(osStart).Seconds()
		osDocs := float64(n) / osSec
		t.add("opensearch: bulk API from the same rows", fmt.Sprintf("%.1f", osSec), fmt.Sprintf("%.0f", osDocs), fmt.Sprintf("%.2f", mb/osSec),
			ratio(osDocs, segDocs), ratio(reDocs, osDocs))
	}
	t.Notes = append(t.Notes,
		"target: embedded end to end ≥ 0.5× the segmentation ceiling",
		"end to end includes the inserts through submission.CreateTx on the same cores; the \"from the same rows\" lines read the stored rows back in pages of 1,000 (as a reindex does), and \"embedded from rows ÷ this\" compares those like for like")
	e.table(t)
	return nil
}

// loadBulk is the load for large corpora (Config.BulkInsert): reports are written with
// multi-row INSERTs (as submission.CreateTx stores them, without outbox rows), then every engine
// loads from the stored rows.
func (e *env) loadBulk(ctx context.Context, segDocs, segMB float64) error {
	n := e.cfg.Docs
	e.logf("bulk insert of %d documents", n)
	units := map[string]int64{}
	cats := map[string]int64{}
	for q, m := range map[string]map[string]int64{`SELECT code, id FROM units`: units, `SELECT code, id FROM categories`: cats} {
		rows, err := e.cfg.DB.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		for rows.Next() {
			var code string
			var id int64
			if err := rows.Scan(&code, &id); err != nil {
				rows.Close()
				return err
			}
			m[code] = id
		}
		rows.Close()
	}
	var bytes int64
	start := time.Now()
	const batch = 2000
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		var unitIDs, catIDs []int64
		var titles, htmls, texts, urg, refs []string
		var levels []int32
		var dates []time.Time
		for i := from; i < to; i++ {
			d := e.gen.Doc(i)
			bytes += int64(len(d.Title) + len(d.Body))
			lv, err := label.Parse(d.Classification)
			if err != nil {
				return fmt.Errorf("bench: document %d: %w", i, err)
			}
			h := submission.TextToHTML(d.Body)
			unitIDs, catIDs = append(unitIDs, units[d.UnitCode]), append(catIDs, cats[d.CategoryCode])
			titles, htmls, texts = append(titles, d.Title), append(htmls, h), append(texts, submission.HTMLToText(h))
			urg, refs, levels, dates = append(urg, d.Urgency), append(refs, d.SourceRef), append(levels, int32(lv)), append(dates, d.Time) // #nosec G115 -- 0..3
		}
		err := pgx.BeginFunc(ctx, e.cfg.DB, func(tx pgx.Tx) error {
			if err := access.SetBypass(ctx, tx); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, category_id, district, urgency,
					classification, source, source_ref, reported_at)
				SELECT t.unit_id, t.title, t.html, t.text, NULLIF(t.cat_id, 0), u.district, t.urgency, t.level, 'import', t.ref, t.date
				FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::text[], $9::timestamptz[])
					AS t(unit_id, title, html, text, cat_id, urgency, level, ref, date)
				JOIN units u ON u.id = t.unit_id`,
				unitIDs, titles, htmls, texts, catIDs, urg, levels, refs, dates)
			return err
		})
		if err != nil {
			return fmt.Errorf("bench: bulk insert: %w", err)
		}
		if (from/batch)%50 == 0 {
			e.logf("inserted %d of %d", to, n)
		}
	}
	insSec := time.Since(start).Seconds()
	mb := float64(bytes) / 1e6
	t := &Table{Title: fmt.Sprintf("Bulk load, %d documents (%.0f MB of title and body text; bulk insert, then every engine from the rows)", n, mb),
		Header: []string{"path", "seconds", "docs/s", "MB/s", "÷ segmentation ceiling", "embedded from rows ÷ this"}}
	t.add("raw jieba segmentation (ceiling, index mode, all CPUs)", "–", fmt.Sprintf("%.0f", segDocs), fmt.Sprintf("%.2f", segMB), "1.00×", "–")
	t.add("PG multi-row INSERT (no outbox)", fmt.Sprintf("%.1f", insSec), fmt.Sprintf("%.0f", float64(n)/insSec), fmt.Sprintf("%.2f", mb/insSec), "–", "–")

	e.logf("loading %d documents into the embedded engine from the rows", n)
	var prof func()
	if e.cfg.ProfileDir != "" {
		prof = e.cpuProfile("load-embedded")
	}
	reStart := time.Now()
	err := e.feed(ctx, func(docs []search.Document) error { return applyAll(ctx, e.engine, docs) })
	if err == nil {
		err = e.waitIndexed(ctx, e.engine, n, 0)
	}
	if prof != nil {
		prof()
	}
	if err != nil {
		return err
	}
	reSec := time.Since(reStart).Seconds()
	reDocs := float64(n) / reSec
	e.res.LoadDocsPerSec = reDocs
	e.res.Indexed, _ = e.engine.Count(ctx)
	t.add("embedded: Bleve from the same rows (reindex path)", fmt.Sprintf("%.1f", reSec), fmt.Sprintf("%.0f", reDocs), fmt.Sprintf("%.2f", mb/reSec),
		ratio(reDocs, segDocs), "1.00×")
	return e.loadAlternatives(ctx, t, n, mb, segDocs, reDocs)
}

package indexer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/access"
	"infowork/analyzers"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/outbox"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
)

var shared struct {
	once sync.Once
	an   *analyzers.Analyzer
	err  error
}

func analyzer(t testing.TB) *analyzers.Analyzer {
	t.Helper()
	shared.once.Do(func() { shared.an, shared.err = analyzers.New(analyzers.Options{}) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.an
}

func openEngine(t testing.TB, dir string) *embedded.Engine {
	t.Helper()
	e, err := embedded.Open(embedded.Options{Dir: dir, Analyzer: analyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var reporter = access.Subject{UserID: 0, Username: "loader", UnitCode: "Z001", Roles: []string{access.RoleReporter}, Clearance: label.Confidential}

func setupUnit(t testing.TB, db *pgxpool.Pool) {
	t.Helper()
	if _, err := unit.Upsert(context.Background(), db, unit.Unit{Code: "Z001", Name: "A1区测试直报点", Kind: unit.KindDirect, District: "A1区"}); err != nil {
		t.Fatal(err)
	}
}

// word returns a distinct token that jieba keeps whole (Latin letters and digits).
func word(i int) string { return fmt.Sprintf("zq%05dx", i) }

// create stores n reports in one transaction per report and returns their ids.
func create(t testing.TB, db *pgxpool.Pool, from, n int) []int64 {
	t.Helper()
	subs := submission.New(db)
	ids := make([]int64, 0, n)
	for i := from; i < from+n; i++ {
		err := pgx.BeginFunc(context.Background(), db, func(tx pgx.Tx) error {
			c, err := subs.CreateTx(context.Background(), tx, "Z001", reporter, submission.Input{
				Title: "关于小区停车问题的报告 " + word(i), Body: "居民反映小区停车位不足，" + word(i) + "。"})
			ids = append(ids, c.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func newIndexer(t testing.TB, db *pgxpool.Pool, e search.Engine, mod func(*indexer.Options)) *indexer.Indexer {
	t.Helper()
	o := indexer.Options{DB: db, Engine: e, Logger: testenv.Logger(t), BatchSize: 50, PollInterval: 100 * time.Millisecond,
		BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}}
	if mod != nil {
		mod(&o)
	}
	ix, err := indexer.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// assertIndexed checks that every id is in the index exactly once, at its database version,
// and findable by its word.
func assertIndexed(t *testing.T, db *pgxpool.Pool, e search.Engine, ids []int64, firstWord int) {
	t.Helper()
	ctx := context.Background()
	n, err := e.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ids) {
		t.Fatalf("index holds %d documents, want %d", n, len(ids))
	}
	strIDs := make([]string, len(ids))
	for i, id := range ids {
		strIDs[i] = strconv.FormatInt(id, 10)
	}
	versions, err := e.Versions(ctx, strIDs)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		var v int64
		if err := db.QueryRow(ctx, `SELECT version FROM submissions WHERE id = $1`, id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if got := versions[strconv.FormatInt(id, 10)]; got != v {
			t.Fatalf("submission %d: index version %d, database version %d", id, got, v)
		}
	}
	scope := search.Scope{MaxLevel: 3, AllUnits: true}
	for i := range ids {
		if i%7 != 0 { // a sample keeps the test fast; Count and Versions cover the rest
			continue
		}
		res, err := e.Search(ctx, search.Query{Text: word(firstWord + i), Scope: scope, Size: 5})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 1 {
			t.Fatalf("search %s: %d hits, want exactly 1", word(firstWord+i), res.Total)
		}
	}
	st, err := outbox.ReadStats(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if st.Backlog != 0 || st.Dead != 0 {
		t.Fatalf("outbox after indexing: backlog %d, dead %d; want 0, 0", st.Backlog, st.Dead)
	}
}

func waitEmpty(t *testing.T, db *pgxpool.Pool, ix *indexer.Indexer, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		st, err := outbox.ReadStats(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if st.Backlog == 0 {
			return
		}
		select {
		case <-ix.Batched():
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("outbox still holds %d rows after %s", st.Backlog, timeout)
		}
	}
}

// TestLateCommitsAreNeverSkipped runs writers whose transactions commit out of id order while
// the indexer runs. A high-water-mark poller would skip the rows that commit late.
func TestLateCommitsAreNeverSkipped(t *testing.T) {
	db := testenv.DB(t)
	setupUnit(t, db)
	e := openEngine(t, t.TempDir())
	defer e.Close()
	ix := newIndexer(t, db, e, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()

	subs := submission.New(db)
	const writers, each = 6, 15
	var mu sync.Mutex
	var ids []int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n := w*each + i
				err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
					c, err := subs.CreateTx(ctx, tx, "Z001", reporter, submission.Input{Title: "迟到的提交 " + word(n), Body: "正文 " + word(n)})
					if err != nil {
						return err
					}
					// Hold the transaction open after the id and outbox row exist, so later ids
					// commit first.
					time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
					mu.Lock()
					ids = append(ids, c.ID)
					mu.Unlock()
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitEmpty(t, db, ix, 20*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Words were numbered by writer, not by id; check every one.
	if n, _ := e.Count(context.Background()); n != writers*each {
		t.Fatalf("index holds %d documents, want %d", n, writers*each)
	}
	for n := 0; n < writers*each; n++ {
		res, err := e.Search(context.Background(), search.Query{Text: word(n), Scope: search.Scope{MaxLevel: 3, AllUnits: true}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 1 {
			t.Fatalf("%s: %d hits, want 1", word(n), res.Total)
		}
	}
}

// TestNotifyWakesTheIndexer sets the backstop poll to an hour: only LISTEN/NOTIFY can make a new
// report searchable quickly.
func TestNotifyWakesTheIndexer(t *testing.T) {
	db := testenv.DB(t)
	setupUnit(t, db)
	e := openEngine(t, t.TempDir())
	defer e.Close()
	ix := newIndexer(t, db, e, func(o *indexer.Options) { o.PollInterval = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ix.Run(ctx)                     //nolint:errcheck
	time.Sleep(300 * time.Millisecond) // let the first (empty) batch pass and LISTEN start
	start := time.Now()
	create(t, db, 0, 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := e.Search(ctx, search.Query{Text: word(0), Scope: search.Scope{MaxLevel: 3, AllUnits: true}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total == 1 {
			t.Logf("searchable %s after commit", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("report not searchable within 5 s although the poll interval is 1 h: NOTIFY did not wake the indexer")
		}
		select {
		case <-ix.Batched():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// flaky fails whole batches, then single items, before letting writes through.
type flaky struct {
	search.Engine
	mu           sync.Mutex
	batchFails   int
	itemFailID   string
	itemFails    int
	permanentIDs map[string]bool
}

func (f *flaky) Apply(ctx context.Context, ops []search.Op) ([]search.OpResult, error) {
	f.mu.Lock()
	if f.batchFails > 0 {
		f.batchFails--
		f.mu.Unlock()
		return nil, fmt.Errorf("%w: connection refused", search.ErrUnavailable)
	}
	f.mu.Unlock()
	var pass []search.Op
	var idx []int
	out := make([]search.OpResult, len(ops))
	for i, op := range ops {
		f.mu.Lock()
		switch {
		case f.permanentIDs[op.ID]:
			out[i] = search.OpResult{ID: op.ID, Err: errors.New("mapper_parsing_exception"), Permanent: true}
		case op.ID == f.itemFailID && f.itemFails > 0:
			f.itemFails--
			out[i] = search.OpResult{ID: op.ID, Err: errors.New("429 too many requests")}
		default:
			pass = append(pass, op)
			idx = append(idx, i)
		}
		f.mu.Unlock()
	}
	res, err := f.Engine.Apply(ctx, pass)
	if err != nil {
		return nil, err
	}
	for j, r := range res {
		out[idx[j]] = r
	}
	return out, nil
}

func TestFailuresRetryAndPoisonRowsGoToDeadLetters(t *testing.T) {
	db := testenv.DB(t)
	setupUnit(t, db)
	e := openEngine(t, t.TempDir())
	defer e.Close()
	ids := create(t, db, 0, 30)
	poison := strconv.FormatInt(ids[3], 10)
	f := &flaky{Engine: e, batchFails: 2, itemFailID: strconv.FormatInt(ids[5], 10), itemFails: 2, permanentIDs: map[string]bool{poison: true}}
	reg := prometheus.NewRegistry()
	ix := newIndexer(t, db, f, func(o *indexer.Options) { o.Registerer = reg })
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := ix.ProcessBatch(ctx)
		if err != nil && !errors.Is(err, search.ErrUnavailable) {
			t.Fatal(err)
		}
		st, err := outbox.ReadStats(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if st.Backlog == 0 {
			if st.Dead != 1 {
				t.Fatalf("dead letters = %d, want 1 (the poison row)", st.Dead)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var attempts int
	var lastErr string
	if err := db.QueryRow(ctx, `SELECT attempts, last_error FROM outbox WHERE dead_at IS NOT NULL`).Scan(&attempts, &lastErr); err != nil {
		t.Fatal(err)
	}
	if lastErr != "mapper_parsing_exception" {
		t.Fatalf("dead letter records error %q", lastErr)
	}
	if n, _ := e.Count(ctx); n != len(ids)-1 {
		t.Fatalf("index holds %d documents, want %d (all but the poison row)", n, len(ids)-1)
	}
	if got := counterValue(t, reg, "infowork_indexer_documents_total", "upsert", "dead"); got != 1 {
		t.Fatalf("dead counter = %v, want 1", got)
	}
	// An operator fixes the cause and replays: the row is indexed.
	delete(f.permanentIDs, poison)
	if n, err := outbox.Replay(ctx, db); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	if err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	assertIndexed(t, db, e, ids, 0)
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := true
			for i, lp := range m.GetLabel() {
				if i < len(labels) && lp.GetValue() != labels[i] {
					match = false
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// TestUpdatesAndDeletesFollowTheDatabase changes rows behind the indexer's back and checks the
// index converges to the current rows (the outbox carries ids; the indexer re-reads).
func TestUpdatesAndDeletesFollowTheDatabase(t *testing.T) {
	db := testenv.DB(t)
	setupUnit(t, db)
	e := openEngine(t, t.TempDir())
	defer e.Close()
	ids := create(t, db, 0, 3)
	ix := newIndexer(t, db, e, nil)
	ctx := context.Background()
	if err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// Update one row (version 2) and enqueue it twice; enqueue an id that has no row.
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE submissions SET title = '更新后的标题 zqupdatedx', version = version + 1 WHERE id = $1`, ids[0]); err != nil {
			return err
		}
		return outbox.Enqueue(ctx, tx, submission.Entity, ids[0], ids[0], 999999)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	scope := search.Scope{MaxLevel: 3, AllUnits: true}
	res, err := e.Search(ctx, search.Query{Text: "zqupdatedx", Scope: scope})
	if err != nil || res.Total != 1 || res.Hits[0].Version != 2 {
		t.Fatalf("updated row: %+v, %v", res, err)
	}
	v, err := e.Versions(ctx, []string{"999999"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v["999999"]; ok {
		t.Fatal("a missing row must be absent from the index")
	}
}

// The crash test runs the indexer in a child process (this test binary re-executed) that
// SIGKILLs itself after the engine write of its second batch and before the acknowledgement.
const childEnv = "INFOWORK_INDEXER_CRASH_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

func runChild(mode string) int {
	ctx := context.Background()
	pool, err := store.Open(ctx, os.Getenv("CHILD_DSN"), 4)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	an, err := analyzers.New(analyzers.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	e, err := embedded.Open(embedded.Options{Dir: os.Getenv("CHILD_INDEX"), Analyzer: an})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	batches := 0
	ix, err := indexer.New(indexer.Options{DB: pool, Engine: e, BatchSize: 40,
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents},
		AfterApply: func(ctx context.Context, items []outbox.Item) error {
			batches++
			if mode == "crash" && batches == 2 {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL) // die between engine write and ack
				time.Sleep(time.Minute)
			}
			return nil
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err := ix.Drain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	if err := e.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 5
	}
	return 0
}

func TestIndexerKilledMidBatchLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dsn := testenv.DSN(t)
	db, err := store.Open(context.Background(), dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	setupUnit(t, db)
	ids := create(t, db, 0, 130)
	dir := t.TempDir()
	child := func(mode string) error {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+mode, "CHILD_DSN="+dsn, "CHILD_INDEX="+dir)
		out, err := cmd.CombinedOutput()
		if len(out) > 0 {
			t.Logf("child %s output: %s", mode, out)
		}
		return err
	}
	err = child("crash")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("crash child: want death by SIGKILL, got %v", err)
	}
	st, err := outbox.ReadStats(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if st.Backlog != int64(len(ids)-40) {
		t.Fatalf("after the crash the outbox holds %d rows, want %d (only the first batch acknowledged)", st.Backlog, len(ids)-40)
	}
	if err := child("resume"); err != nil {
		t.Fatalf("resume child: %v", err)
	}
	e := openEngine(t, dir)
	defer e.Close()
	assertIndexed(t, db, e, ids, 0)
}

package reindex_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/analyzers"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/outbox"
	"infowork/reindex"
	"infowork/search"
	"infowork/search/embedded"
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

var reporter = access.Subject{UserID: 0, Username: "loader", UnitCode: "Z001", Roles: []string{access.RoleReporter}, Clearance: label.Confidential}

func fixture(t *testing.T, n int) (*pgxpool.Pool, []int64) {
	t.Helper()
	db := testenv.DB(t)
	ctx := context.Background()
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "Z001", Name: "A1区测试直报点", Kind: unit.KindDirect, District: "A1区"}); err != nil {
		t.Fatal(err)
	}
	subs := submission.New(db)
	var ids []int64
	for i := 0; i < n; i++ {
		c, err := subs.Create(ctx, reporter, submission.Input{Title: fmt.Sprintf("关于停车问题的报告 rz%05dx", i), Body: "居民反映停车位不足。"}, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return db, ids
}

func bump(t *testing.T, db *pgxpool.Pool, id int64) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE submissions SET body_text = body_text || '又', version = version + 1, updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		return outbox.Enqueue(ctx, tx, submission.Entity, id)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func drain(t *testing.T, db *pgxpool.Pool, e search.Engine) {
	t.Helper()
	ix, err := indexer.New(indexer.Options{DB: db, Engine: e, Logger: testenv.Logger(t), BatchSize: 100,
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedRebuildResumesAndSwitchesCurrent rebuilds an embedded index offline, interrupted
// after the first batch and resumed, then switches CURRENT; the reopened engine serves the
// new directory with every row at its database version.
func TestEmbeddedRebuildResumesAndSwitchesCurrent(t *testing.T) {
	db, ids := fixture(t, 23)
	ctx := context.Background()
	dir := t.TempDir()
	old, err := embedded.Open(embedded.Options{Dir: dir, Analyzer: analyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, db, old)
	// A second process cannot open the serving index: reindex tells the operator to stop serve.
	if _, err := embedded.Open(embedded.Options{Dir: dir, Analyzer: analyzer(t)}); err == nil {
		t.Fatal("second open of a locked index succeeded")
	}
	bump(t, db, ids[3]) // a change the old index does not have yet (serve is "stopped")

	key := "embedded:" + dir
	run, err := reindex.StartRun(ctx, db, key, embedded.NewIndexDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	next, err := embedded.Open(embedded.Options{Dir: dir, Index: run.Index, Analyzer: analyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	_, err = reindex.Rebuild(cctx, reindex.Options{DB: db, Run: &run, BatchSize: 5, Target: reindex.Target{Apply: next.Apply, Scan: next.Scan},
		AfterBatch: func(context.Context, int64) { cancel() }})
	if err == nil {
		t.Fatal("interrupted rebuild reported success")
	}
	// Rerun: resumes after the first batch.
	run2, err := reindex.StartRun(ctx, db, key, func() string { t.Fatal("a new run was started"); return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !run2.Resumed || run2.Index != run.Index || run2.LastID != ids[4] || run2.Copied != 5 {
		t.Fatalf("resumed run = %+v; want index %s after id %d", run2, run.Index, ids[4])
	}
	rep, err := reindex.Rebuild(ctx, reindex.Options{DB: db, Run: &run2, BatchSize: 5, Target: reindex.Target{Apply: next.Apply, Scan: next.Scan}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != int64(len(ids)) || rep.IndexDocs != int64(len(ids)) || rep.Copied != int64(len(ids)) {
		t.Fatalf("report %+v; want %d rows copied", rep, len(ids))
	}
	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
	if err := embedded.SetCurrent(dir, run.Index); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reindex.FinishRun(ctx, db, run2, embedded.IndexName, "test"); err != nil {
		t.Fatal(err)
	}
	if got := embedded.IndexDir(dir); got != run.Index {
		t.Fatalf("IndexDir = %s, want %s", got, run.Index)
	}
	e, err := embedded.Open(embedded.Options{Dir: dir, Analyzer: analyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	assertSame(t, db, e)
	var states []string
	rows, _ := db.Query(ctx, `SELECT name || '=' || state FROM search_indexes WHERE alias = $1 ORDER BY name`, key)
	states, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(states) != 2 || states[0] != embedded.IndexName+"=retired" || states[1] != run.Index+"=live" {
		t.Fatalf("search_indexes = %v, %v", states, err)
	}
}

// TestReconcileFindsAndRepairs breaks an index in every way reconcile knows and checks the
// report, the dry run, and that the indexer's repairs converge.
func TestReconcileFindsAndRepairs(t *testing.T) {
	db, ids := fixture(t, 12)
	ctx := context.Background()
	e, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: analyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	drain(t, db, e)
	rep, err := reindex.Reconcile(ctx, reindex.ReconcileOptions{DB: db, Engine: e, Batch: 5})
	if err != nil || rep.Differences() != 0 || rep.Rows != 12 || rep.Docs != 12 {
		t.Fatalf("clean index: %+v, %v", rep, err)
	}
	// missing: delete a document behind the indexer's back (tombstone below the row version
	// is impossible, so drop it with a delete at version 0 through a fresh index op sequence).
	if _, err := e.Apply(ctx, []search.Op{{Kind: search.OpDelete, ID: strconv.FormatInt(ids[0], 10), Version: 2}}); err != nil {
		t.Fatal(err)
	}
	// stale: a row changed without its outbox row reaching the index (outbox row lost).
	if _, err := db.Exec(ctx, `UPDATE submissions SET version = version + 1, updated_at = now() WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	// orphans: documents without rows.
	d := search.Document{ID: "999999", Version: 1, Title: "孤儿", Unit: "Z001"}
	d2 := search.Document{ID: "not-a-number", Version: 1, Title: "孤儿", Unit: "Z001"}
	if _, err := e.Apply(ctx, []search.Op{{Kind: search.OpUpsert, ID: d.ID, Version: 1, Doc: &d}, {Kind: search.OpUpsert, ID: d2.ID, Version: 1, Doc: &d2}}); err != nil {
		t.Fatal(err)
	}
	// in flight: a change with its outbox row still waiting.
	bump(t, db, ids[2])

	dry, err := reindex.Reconcile(ctx, reindex.ReconcileOptions{DB: db, Engine: e, DryRun: true, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Missing) != 1 || len(dry.Stale) != 1 || len(dry.Orphans) != 2 || dry.InFlight != 1 || dry.Enqueued != 0 {
		t.Fatalf("dry run report %+v", dry)
	}
	rep, err = reindex.Reconcile(ctx, reindex.ReconcileOptions{DB: db, Engine: e, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Enqueued != 3 || rep.Deleted != 1 {
		t.Fatalf("repair report %+v", rep)
	}
	// The missing document was deleted at version 2 (a tombstone), so its row must be newer to
	// come back: that is what a real row change does.
	if _, err := db.Exec(ctx, `UPDATE submissions SET version = version + 2, updated_at = now() WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	drain(t, db, e)
	assertSame(t, db, e)
	rep, err = reindex.Reconcile(ctx, reindex.ReconcileOptions{DB: db, Engine: e, Batch: 5})
	if err != nil || rep.Differences() != 0 || rep.InFlight != 0 {
		t.Fatalf("after repair: %+v, %v", rep, err)
	}
}

// assertSame checks that the index holds exactly the database's (id, version) set.
func assertSame(t *testing.T, db *pgxpool.Pool, e search.Scanner) {
	t.Helper()
	ctx := context.Background()
	want := map[string]int64{}
	rows, err := db.Query(ctx, `SELECT id::text, version FROM submissions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		want[id] = v
	}
	got := map[string]int64{}
	if err := search.ScanAll(ctx, e.Scan, 7, func(page []search.Stored) error {
		for _, s := range page {
			if _, dup := got[s.ID]; dup {
				return fmt.Errorf("document %s listed twice", s.ID)
			}
			got[s.ID] = s.Version
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("index holds %d documents, database %d rows", len(got), len(want))
	}
	for id, v := range want {
		if got[id] != v {
			t.Fatalf("id %s: index version %d, database %d", id, got[id], v)
		}
	}
}

package faulttest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"infowork/reindex"
	"infowork/search"
	"infowork/search/internal/esengine/estest"
	"infowork/search/opensearch"
)

// TestReindexUnderConcurrentWrites rebuilds the OpenSearch index while writers create and edit
// reports, the indexer keeps the serving index fresh (and dual-writes the new one), and a reader
// searches continuously. Searches never fail or come back empty; after the swap and the last
// write the database and the index hold the same (id, version) set.
func TestReindexUnderConcurrentWrites(t *testing.T) {
	urls := estest.URLs(t)
	db := newDB(t)
	ctx := context.Background()
	e, err := opensearch.Open(ctx, opensearch.Options{URLs: urls, IndexPrefix: estest.Prefix(t, urls), Analyzer: estest.Analyzer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := 0; i < 400; i++ {
		if _, err := create(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	startIndexer(t, db, e, 12)
	waitDrained(t, db, 60*time.Second)
	assertSame(t, db, e)
	before, err := e.ServingIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	wait := writers(ctx, db, 2, 15*time.Millisecond, stop)
	var searches, failures atomic.Int64
	var firstFailure atomic.Value
	stopSearch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopSearch:
				return
			default:
			}
			res, err := e.Search(ctx, search.Query{Text: "停车", Scope: allScope, Size: 5})
			searches.Add(1)
			if err == nil && res.Total == 0 {
				err = fmt.Errorf("search answered with no hits")
			}
			if err != nil {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, err.Error())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	start := time.Now()
	res, err := reindex.Online(ctx, db, e, reindex.Options{BatchSize: 50, AfterBatch: func(context.Context, int64) { time.Sleep(20 * time.Millisecond) }}, false)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	time.Sleep(time.Second) // writes after the swap go to the new index as the serving one
	close(stop)
	writes, werr := wait()
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	drained := waitDrained(t, db, 60*time.Second)
	close(stopSearch)
	wg.Wait()
	t.Logf("reindex %s: %+v; %d concurrent writes; %d searches; drained %s after the writers stopped",
		took.Round(time.Millisecond), res.Report, writes, searches.Load(), drained.Round(time.Millisecond))
	if failures.Load() > 0 {
		t.Fatalf("%d of %d searches failed or were empty during the reindex; first: %v", failures.Load(), searches.Load(), firstFailure.Load())
	}
	if writes < 50 {
		t.Fatalf("only %d writes ran during the reindex", writes)
	}
	after, err := e.ServingIndex(ctx)
	if err != nil || after != res.Run.Index || res.Old != before || after == before {
		t.Fatalf("alias serves %s (%v); want the new %s instead of %s", after, err, res.Run.Index, before)
	}
	assertSame(t, db, e)
	var states []string
	rows, err := db.Query(ctx, `SELECT name || '=' || state FROM search_indexes WHERE alias = $1 ORDER BY created_at, name`, e.Alias())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		states = append(states, s)
	}
	if len(states) != 2 {
		t.Fatalf("search_indexes = %v", states)
	}
	// A second reindex starts from a clean state and can drop the old index.
	res2, err := reindex.Online(ctx, db, e, reindex.Options{BatchSize: 500}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Dropped || res2.Old != res.Run.Index {
		t.Fatalf("second reindex: %+v", res2)
	}
	assertSame(t, db, e)
}

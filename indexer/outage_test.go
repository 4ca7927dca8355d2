package indexer_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/outbox"
	"infowork/search"
)

// TestOutageNeverCountsTowardsDeadLetters: whole-batch failures (engine unreachable) longer than
// MaxAttempts followed by one transient per-item failure must not dead-letter anything.
func TestOutageNeverCountsTowardsDeadLetters(t *testing.T) {
	db := testenv.DB(t)
	setupUnit(t, db)
	e := openEngine(t, t.TempDir())
	defer e.Close()
	ids := create(t, db, 0, 10)
	f := &flaky{Engine: e, batchFails: 8, itemFailID: strconv.FormatInt(ids[2], 10), itemFails: 1}
	ix := newIndexer(t, db, f, func(o *indexer.Options) { o.MaxAttempts = 3 })
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
		if st.Dead != 0 {
			t.Fatalf("%d rows dead-lettered after an outage", st.Dead)
		}
		if st.Backlog == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	assertIndexed(t, db, e, ids, 0)
}

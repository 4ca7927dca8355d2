package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/outbox"
	"infowork/search"
	"infowork/submission"
	"infowork/unit"
)

var reporter = access.Subject{UserID: 0, Username: "loader", UnitCode: "Z001", Roles: []string{access.RoleReporter}, Clearance: label.Confidential}

var allScope = search.Scope{MaxLevel: 3, AllUnits: true}

// newDB returns a fresh database with the unit the reports belong to.
func newDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	db := testenv.DB(t)
	if _, err := unit.Upsert(context.Background(), db, unit.Unit{Code: "Z001", Name: "A1区测试直报点", Kind: unit.KindDirect, District: "A1区"}); err != nil {
		t.Fatal(err)
	}
	return db
}

var seq atomic.Int64

// create stores one report through submission.Create (the path the web app uses).
func create(ctx context.Context, db *pgxpool.Pool) (int64, error) {
	n := seq.Add(1)
	c, err := submission.New(db).Create(ctx, reporter, submission.Input{
		Title: fmt.Sprintf("关于小区停车问题的报告 fz%06dx", n), Body: "居民反映小区停车位不足。"}, "127.0.0.1")
	return c.ID, err
}

// bump changes a row as an edit does: a new version and an outbox row in one transaction.
func bump(ctx context.Context, db *pgxpool.Pool, id int64) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE submissions SET body_text = body_text || '又', version = version + 1, updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		return outbox.Enqueue(ctx, tx, submission.Entity, id)
	})
}

// startIndexer runs an indexer until the test ends. maxAttempts is small on purpose in the
// fault tests: an engine outage must not count towards the dead-letter limit.
func startIndexer(t *testing.T, db *pgxpool.Pool, e search.Engine, maxAttempts int) *indexer.Indexer {
	t.Helper()
	ix, err := indexer.New(indexer.Options{DB: db, Engine: e, Logger: testenv.Logger(t), BatchSize: 100,
		PollInterval: 100 * time.Millisecond, BackoffBase: 20 * time.Millisecond, BackoffMax: 300 * time.Millisecond,
		MaxAttempts: maxAttempts, Sources: map[string]indexer.Source{submission.Entity: submission.Documents}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = ix.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ix
}

// waitDrained waits until the outbox holds no waiting row and fails on dead letters.
func waitDrained(t *testing.T, db *pgxpool.Pool, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		st, err := outbox.ReadStats(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if st.Dead != 0 {
			t.Fatalf("%d outbox rows dead-lettered", st.Dead)
		}
		if st.Backlog == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("outbox still holds %d rows after %s", st.Backlog, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type rebuilder interface {
	search.Scanner
	Refresh(ctx context.Context, index string) error
	Alias() string
}

// assertSame checks that the serving index holds exactly the database's (id, version) set,
// each id once, and that Count agrees.
func assertSame(t *testing.T, db *pgxpool.Pool, e search.Engine) {
	t.Helper()
	ctx := context.Background()
	rb := e.(rebuilder)
	if err := rb.Refresh(ctx, rb.Alias()); err != nil {
		t.Fatal(err)
	}
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	if err := search.ScanAll(ctx, rb.Scan, 1000, func(page []search.Stored) error {
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
	diffs := 0
	for id, v := range want {
		if got[id] != v {
			if diffs < 5 {
				t.Errorf("id %s: index version %d, database %d", id, got[id], v)
			}
			diffs++
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("index holds %s, the database does not", id)
			diffs++
		}
	}
	if diffs > 0 {
		t.Fatalf("%d differences between index (%d documents) and database (%d rows)", diffs, len(got), len(want))
	}
	n, err := e.Count(ctx)
	if err != nil || n != len(want) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(want))
	}
}

// writers creates and edits reports until stop is closed; it returns the number of writes and
// the first error.
func writers(ctx context.Context, db *pgxpool.Pool, n int, pause time.Duration, stop <-chan struct{}) (wait func() (int64, error)) {
	var wg sync.WaitGroup
	var writes atomic.Int64
	var firstErr atomic.Value
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int64
			for {
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
				var err error
				if len(mine) > 0 && rand.IntN(2) == 0 {
					err = bump(ctx, db, mine[rand.IntN(len(mine))])
				} else {
					var id int64
					id, err = create(ctx, db)
					mine = append(mine, id)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	return func() (int64, error) {
		wg.Wait()
		err, _ := firstErr.Load().(error)
		return writes.Load(), err
	}
}

package ha_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/analyzers"
	"infowork/ha"
	"infowork/indexer"
	"infowork/internal/testpg"
	"infowork/label"
	"infowork/pgserver"
	"infowork/search/embedded"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
)

// TestIndexerSurvivesFailover is issue 9's "the indexer survives the failover": a primary
// with a synchronous standby, an indexer (its own pool on the multi-host DSN with
// target_session_attrs=read-write, as a separate indexer process would have) feeding the
// embedded engine, writers creating submissions under ha.Retry with idempotency keys before
// and after the primary is crashed (pg_ctl stop -m immediate) and the standby promoted. The
// indexer is never restarted. Afterwards the outbox on the promoted node must be empty and
// every acknowledged submission must be in the index at its database version: the outbox
// continued from the promoted database with no gap (the outbox rows of every acknowledged
// write were replicated synchronously with it; batches acknowledged on the old primary were
// replicated with their deletes, and a batch cut off by the crash is redone from the standby's
// copy and written again at the same version, a stale no-op).
func TestIndexerSurvivesFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL clusters")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	base := t.TempDir()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	step := func(format string, args ...any) {
		t.Logf("%6.2fs "+format, append([]any{time.Since(start).Seconds()}, args...)...)
	}
	pair := testpg.StartPair(ctx, t, true, logger)
	pDir, sDir, pPort, sPort := pair.PrimaryDir, pair.StandbyDir, pair.PrimaryPort, pair.StandbyPort
	step("primary on %d, synchronous standby on %d streaming", pPort, sPort)

	dsn := pair.DSN("read-write")
	open := func(n int32) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = n
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	const writers = 4
	db := open(writers + 2)
	if _, err := store.Migrate(ctx, db, logger); err != nil {
		t.Fatal(err)
	}
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "B01", Name: "发展改革委", Kind: unit.KindBureau}); err != nil {
		t.Fatal(err)
	}
	var uid int64
	if err := db.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, unit_id, roles, clearance)
		VALUES ('li', '李', 'x', (SELECT id FROM units WHERE code = 'B01'), '{reporter}', $1) RETURNING id`, int(label.Internal)).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	sub := access.Subject{UserID: uid, Username: "li", UnitCode: "B01", Roles: []string{access.RoleReporter}, Clearance: label.Internal}
	svc := submission.New(db)
	if err := pgserver.WaitCaughtUp(ctx, pPort, "s1"); err != nil {
		t.Fatal(err)
	}

	// The indexer, with the production defaults (batch size, backoff), on a pool of its own.
	an, err := analyzers.New(analyzers.Options{CacheDir: filepath.Join(base, "jieba")})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	engine, err := embedded.Open(embedded.Options{Dir: filepath.Join(base, "index"), Analyzer: an, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	ixDB := open(4)
	ix, err := indexer.New(indexer.Options{DB: ixDB, Engine: engine, Logger: logger,
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}})
	if err != nil {
		t.Fatal(err)
	}
	ixCtx, stopIndexer := context.WithCancel(ctx)
	ixDone := make(chan error, 1)
	go func() { ixDone <- ix.Run(ixCtx) }()
	defer func() { stopIndexer(); <-ixDone }()

	var (
		mu       sync.Mutex
		acked    = map[string]int64{}
		failures []error
	)
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				key := fmt.Sprintf("ix-w%d-%d", w, i)
				var c submission.Created
				err := ha.Retry(wctx, func(ctx context.Context) error {
					var err error
					c, err = svc.Create(ctx, sub, submission.Input{Title: "索引切换 " + key, Body: "正文 " + key, IdempotencyKey: key}, "127.0.0.1")
					return err
				}, ha.Options{MaxElapsed: 45 * time.Second})
				mu.Lock()
				if err == nil {
					acked[key] = c.ID
				} else if wctx.Err() == nil {
					failures = append(failures, fmt.Errorf("%s: %w", key, err))
				}
				mu.Unlock()
			}
		}()
	}
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitAcked := func(n int, limit time.Duration) {
		for deadline := time.Now().Add(limit); ackedCount() < n && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAcked(200, 20*time.Second)
	before := ackedCount()
	crashAt := time.Now()
	if err := pgserver.StopImmediate(ctx, pDir); err != nil {
		t.Fatal(err)
	}
	if err := pgserver.Promote(ctx, sDir); err != nil {
		t.Fatal(err)
	}
	step("crashed the primary after %d acknowledged writes; promoted the standby in %s", before, time.Since(crashAt).Round(time.Millisecond))
	waitAcked(ackedCount()+200, 30*time.Second)
	stopWriters()
	wg.Wait()
	mu.Lock()
	total := len(acked)
	for i, err := range failures {
		if i < 5 {
			t.Errorf("write failed for good: %v", err)
		}
	}
	mu.Unlock()
	if total <= before {
		t.Fatalf("no write acknowledged after the promotion (%d before, %d in all)", before, total)
	}
	step("writers stopped: %d acknowledged (%d after the crash)", total, total-before)

	// The promoted node, directly.
	conn, err := pgx.Connect(ctx, pgserver.DSN(sPort, "infowork"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	drainStart := time.Now()
	for {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Since(drainStart) > 90*time.Second {
			t.Fatalf("the outbox on the promoted node still holds %d rows 90s after the writers stopped: the indexer did not recover", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	step("outbox on the promoted node drained %s after the writers stopped (the indexer was never restarted)", time.Since(drainStart).Round(time.Millisecond))

	dbv := map[string]int64{}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, version FROM submissions`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, v int64
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			dbv[strconv.FormatInt(id, 10)] = v
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(dbv))
	for id := range dbv {
		ids = append(ids, id)
	}
	iv, err := engine.Versions(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for key, id := range acked {
		sid := strconv.FormatInt(id, 10)
		v, ok := dbv[sid]
		if !ok {
			t.Errorf("acknowledged %s (id %d) missing from the promoted database", key, id)
			continue
		}
		if iv[sid] != v {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged %s (id %d): index version %d, database version %d", key, id, iv[sid], v)
			}
		}
	}
	for id, v := range dbv { // rows committed but never acknowledged (cut off by the crash) too
		if iv[id] != v {
			t.Errorf("submission %s: index version %d, database version %d", id, iv[id], v)
		}
	}
	if n, err := engine.Count(ctx); err != nil || n != len(dbv) {
		t.Errorf("index holds %d documents (%v), the promoted database %d", n, err, len(dbv))
	}
	step("%d acknowledged writes, %d rows on the promoted node, every one in the index at its database version (%d wrong)", total, len(dbv), missing)
}

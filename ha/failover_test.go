package ha_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/ha"
	"infowork/internal/testpg"
	"infowork/label"
	"infowork/pgserver"
	"infowork/store"
	"infowork/submission"
	"infowork/unit"
)

// TestFailoverSync is the failover test of issue 9: a primary with a synchronous standby
// on loopback, writers creating submissions through the application API (wrapped in
// ha.Retry, with idempotency keys), a crash of the primary (pg_ctl stop -m immediate), a
// promotion of the standby, and the check that every acknowledged write is on the new
// primary exactly once and that the writers recovered on their own.
func TestFailoverSync(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL clusters")
	}
	t.Parallel()
	r := runFailover(t, true)
	if r.lost != 0 {
		t.Errorf("synchronous replication lost %d of %d acknowledged writes", r.lost, r.acked)
	}
	if r.afterPromotion == 0 {
		t.Errorf("no write succeeded after the promotion: the writers did not recover")
	}
}

// TestFailoverAsyncFrozenStandbyDetectsLoss is the negative control: with asynchronous
// replication and the standby's walreceiver frozen (SIGSTOP) before the crash, the same
// check must find acknowledged writes missing. If it did not, the check above would prove
// nothing.
func TestFailoverAsyncFrozenStandbyDetectsLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL clusters")
	}
	t.Parallel()
	r := runFailover(t, false)
	if r.lost == 0 {
		t.Errorf("asynchronous replication with a frozen standby lost nothing of %d acknowledged writes: the check cannot detect loss", r.acked)
	}
}

type result struct {
	acked, lost, duplicates, afterPromotion int
	maxGap                                  time.Duration
}

func runFailover(t *testing.T, syncRep bool) result {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	step := func(format string, args ...any) {
		t.Logf("%6.2fs "+format, append([]any{time.Since(start).Seconds()}, args...)...)
	}
	pair := testpg.StartPair(ctx, t, syncRep, logger)
	pDir, sDir, pPort, sPort := pair.PrimaryDir, pair.StandbyDir, pair.PrimaryPort, pair.StandbyPort
	step("primary on %d, standby on %d streaming (sync=%v)", pPort, sPort, syncRep)

	dsn := pair.DSN("read-write")
	const writers = 8
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = writers + 2
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
	// The schema and the author must be on the standby before the experiment starts.
	if err := pgserver.WaitCaughtUp(ctx, pPort, "s1"); err != nil {
		t.Fatal(err)
	}
	var frozen int
	if !syncRep {
		if frozen, err = pgserver.FreezeWalReceiver(ctx, sPort); err != nil {
			t.Fatal(err)
		}
		step("froze the standby's walreceiver (pid %d)", frozen)
	}
	step("migrated; starting %d writers", writers)

	var (
		mu        sync.Mutex
		acked     = map[string]int64{}
		successes []time.Time
		retries   atomic.Int64
		unknowns  atomic.Int64
		dupes     atomic.Int64 // creates answered Duplicate=true: an earlier attempt had committed
		failures  []error
	)
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				var c submission.Created
				err := ha.Retry(wctx, func(ctx context.Context) error {
					var err error
					c, err = svc.Create(ctx, sub, submission.Input{Title: "failover " + key, Body: "正文 " + key, IdempotencyKey: key}, "127.0.0.1")
					return err
				}, ha.Options{MaxElapsed: 45 * time.Second, OnRetry: func(_ int, _ error, class ha.Class) {
					retries.Add(1)
					if class == ha.Unknown {
						unknowns.Add(1)
					}
				}})
				now := time.Now()
				mu.Lock()
				if err == nil {
					if c.Duplicate {
						dupes.Add(1)
					}
					acked[key] = c.ID
					successes = append(successes, now)
				} else if wctx.Err() == nil {
					failures = append(failures, fmt.Errorf("%s: %w", key, err))
				}
				mu.Unlock()
			}
		}()
	}
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitAcked := func(n int, limit time.Duration) {
		deadline := time.Now().Add(limit)
		for ackedCount() < n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}

	waitAcked(300, 20*time.Second)
	before := ackedCount()
	crashAt := time.Now()
	if err := pgserver.StopImmediate(ctx, pDir); err != nil {
		t.Fatal(err)
	}
	step("crashed the primary (pg_ctl stop -m immediate) after %d acknowledged writes", before)
	if !syncRep {
		// The frozen walreceiver still holds, unread in its socket, WAL the primary sent; a
		// standby host that died would lose it too. SIGKILL it (a stopped process dies at
		// once); the postmaster restarts the standby through crash recovery.
		if err := syscall.Kill(frozen, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if err := pgserver.WaitReady(ctx, sPort); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgserver.Promote(ctx, sDir); err != nil {
		t.Fatal(err)
	}
	promotedAt := time.Now()
	step("promoted the standby (%s after the crash)", promotedAt.Sub(crashAt).Round(time.Millisecond))
	afterCrash := ackedCount()
	waitAcked(afterCrash+200, 20*time.Second)
	stopWriters()
	wg.Wait()
	step("writers stopped: %d acknowledged, %d retries (%d after an unknown outcome), %d reconciled as Duplicate",
		len(acked), retries.Load(), unknowns.Load(), dupes.Load())
	for i, err := range failures {
		if i < 5 {
			t.Errorf("write failed for good: %v", err)
		}
	}

	// Check on the promoted node directly.
	conn, err := pgx.Connect(ctx, pgserver.DSN(sPort, "infowork"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var inRecovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || inRecovery {
		t.Fatalf("promoted node in recovery: %v %v", inRecovery, err)
	}
	rows, err := conn.Query(ctx, `SELECT idempotency_key, count(*), min(id) FROM submissions WHERE author_id = $1 GROUP BY 1`, uid)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		n  int
		id int64
	}
	present := map[string]row{}
	for rows.Next() {
		var k string
		var r row
		if err := rows.Scan(&k, &r.n, &r.id); err != nil {
			t.Fatal(err)
		}
		present[k] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var res result
	res.acked = len(acked)
	for k, id := range acked {
		r, ok := present[k]
		switch {
		case !ok:
			res.lost++
		case r.n != 1:
			res.duplicates++
			t.Errorf("key %s stored %d times", k, r.n)
		case r.id != id:
			t.Errorf("key %s acknowledged as id %d, stored as id %d", k, id, r.id)
		}
	}
	for _, ts := range successes {
		if ts.After(promotedAt) {
			res.afterPromotion++
		}
	}
	slices.SortFunc(successes, func(a, b time.Time) int { return a.Compare(b) })
	var gapStart time.Time
	for i := 1; i < len(successes); i++ {
		if g := successes[i].Sub(successes[i-1]); g > res.maxGap {
			res.maxGap, gapStart = g, successes[i-1]
		}
	}
	t.Logf("sync=%v: %d acknowledged writes (%d before the crash, %d after the promotion), %d lost, %d stored twice; "+
		"client-observed recovery time (longest gap between successful writes) %s, starting %s after the crash; promotion took %s after the crash",
		syncRep, res.acked, before, res.afterPromotion, res.lost, res.duplicates,
		res.maxGap.Round(time.Millisecond), gapStart.Sub(crashAt).Round(time.Millisecond), promotedAt.Sub(crashAt).Round(time.Millisecond))
	return res
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/access"
	"infowork/internal/testpg"
	"infowork/pgserver"
	"infowork/store"
	"infowork/unit"
)

// TestWebFailover runs a real `infowork serve` process (web + indexer, embedded engine) on a
// multi-host DSN in front of a primary and a synchronous standby, drives API creates (half with
// the client's Idempotency-Key, half without, so the key the handler generates is exercised),
// crashes the primary and promotes the standby, and checks what clients of the web tier see:
//   - every acknowledged create is on the promoted node, stored once (client keys: one row per
//     key; handler-generated keys: one row per acknowledged id, no row twice);
//   - the process recovered on its own (creates acknowledged after the promotion);
//   - the outbox drains on the promoted node and the process's index has every row.
//
// Requests that fail while no primary is reachable are counted and logged, not failed: the
// create itself is retried by the handler (ha.Retry), but the session lookup that precedes it
// (auth.Authenticate) and the read-back after it are not, so a request arriving in the window
// can still get a 5xx/401. The longest gap between acknowledged creates is the client-observed
// recovery time.
func TestWebFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two PostgreSQL clusters")
	}
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	step := func(format string, args ...any) {
		t.Logf("%6.2fs "+format, append([]any{time.Since(start).Seconds()}, args...)...)
	}
	pair := testpg.StartPair(ctx, t, true, logger)
	pDir, sDir, pPort, sPort := pair.PrimaryDir, pair.StandbyDir, pair.PrimaryPort, pair.StandbyPort
	dsn := pair.DSN("read-write")
	db, err := store.Open(ctx, dsn, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db, logger); err != nil {
		t.Fatal(err)
	}
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "Z001", Name: "A1区测试直报点", Kind: unit.KindDirect}); err != nil {
		t.Fatal(err)
	}
	const password = "Failover-pass-2026"
	t.Setenv("INFOWORK_DATABASE_URL", dsn)
	t.Setenv("INFOWORK_DATA_DIR", t.TempDir())
	if err := run(ctx, []string{"user", "create", "--username", "li", "--password", password, "--role", "reporter",
		"--unit", "Z001", "--clearance", "internal", "--no-must-change-password"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	web := startProc(t, bin, "serve", "serve", []string{
		"INFOWORK_DATABASE_URL=" + dsn, "INFOWORK_SEARCH_ENGINE=embedded", "INFOWORK_SECRET_KEY=" + scaleSecretKey,
		"INFOWORK_RATE_LOGIN_PER_IP=0", "INFOWORK_RATE_LOGIN_PER_USER=0", "INFOWORK_RATE_PER_SESSION=0", "INFOWORK_LOG_LEVEL=warn",
	})
	waitReady(t, web)
	c := &apiClient{http: &http.Client{Timeout: 40 * time.Second}}
	code, body, err := c.do(http.MethodPost, web.url("/api/v1/auth/login"), map[string]string{"username": "li", "password": password}, nil)
	if err != nil || code != 200 {
		t.Fatalf("login: %d %v %s", code, err, body)
	}
	var sess struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(body, &sess)
	c.token = sess.Token
	if err := pgserver.WaitCaughtUp(ctx, pPort, "s1"); err != nil {
		t.Fatal(err)
	}
	step("primary %d + synchronous standby %d; infowork serve on %s", pPort, sPort, web.addr)

	type ack struct {
		id  int64
		key string
		at  time.Time
	}
	var (
		mu     sync.Mutex
		acks   []ack
		failed []string
	)
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	const writers = 4
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				key := ""
				hdr := map[string]string{}
				if i%2 == 0 {
					key = fmt.Sprintf("fw%d-%d", w, i)
					hdr["Idempotency-Key"] = key
				}
				code, rb, err := c.do(http.MethodPost, web.url("/api/v1/submissions"),
					map[string]any{"title": fmt.Sprintf("切换测试 %d-%d", w, i), "body": "正文", "classification": "public", "urgency": "normal"}, hdr)
				now := time.Now()
				mu.Lock()
				if err == nil && code/100 == 2 {
					var s struct {
						ID int64 `json:"id"`
					}
					_ = json.Unmarshal(rb, &s)
					acks = append(acks, ack{s.ID, key, now})
				} else {
					failed = append(failed, fmt.Sprintf("%d %v %.200s", code, err, rb))
				}
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acks) }
	waitFor := func(n int, limit time.Duration) {
		for deadline := time.Now().Add(limit); count() < n && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(100, 30*time.Second)
	before := count()
	crashAt := time.Now()
	if err := pgserver.StopImmediate(ctx, pDir); err != nil {
		t.Fatal(err)
	}
	if err := pgserver.Promote(ctx, sDir); err != nil {
		t.Fatal(err)
	}
	promotedAt := time.Now()
	step("crashed the primary after %d acknowledged creates; promoted the standby in %s", before, promotedAt.Sub(crashAt).Round(time.Millisecond))
	waitFor(count()+100, 40*time.Second)
	stop()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	after := 0
	var maxGap time.Duration
	for i, a := range acks {
		if a.at.After(promotedAt) {
			after++
		}
		if i > 0 {
			if g := a.at.Sub(acks[i-1].at); g > maxGap {
				maxGap = g
			}
		}
	}
	if after == 0 {
		t.Fatalf("no create acknowledged after the promotion: the web process did not recover")
	}
	for i, f := range failed {
		if i < 5 {
			t.Logf("request failed during the failover window: %s", f)
		}
	}
	if len(failed) > 0 {
		n := 0
		for _, line := range strings.Split(web.out.String(), "\n") {
			if strings.Contains(line, "request failed") && n < 5 {
				t.Logf("server: %s", line)
				n++
			}
		}
	}
	step("%d creates acknowledged (%d after the promotion), %d requests failed in the window; longest gap between acknowledged creates %s; "+
		"the handler retried a create %d times (ha.Retry)",
		len(acks), after, len(failed), maxGap.Round(time.Millisecond), strings.Count(web.out.String(), "submission create retried"))

	// The session lookup, the create and the read-back are all retried across the failover, so
	// no client request may fail.
	if len(failed) > 0 {
		t.Errorf("%d requests failed during the failover window; want 0", len(failed))
	}
	conn, err := pgx.Connect(ctx, pgserver.DSN(sPort, "infowork"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	stored := map[int64]string{}
	perKey := map[string]int{}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, coalesce(idempotency_key, '') FROM submissions`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var k string
			if err := rows.Scan(&id, &k); err != nil {
				return err
			}
			stored[id] = k
			perKey[k]++
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, a := range acks {
		k, ok := stored[a.id]
		switch {
		case !ok:
			t.Errorf("acknowledged create %d (key %q) missing on the promoted node", a.id, a.key)
		case seen[a.id]:
			t.Errorf("two acknowledged creates answered the same id %d", a.id)
		case a.key != "" && k != a.key:
			t.Errorf("create %d stored with key %q, sent %q", a.id, k, a.key)
		case a.key == "" && len(k) < 4:
			t.Errorf("create %d without a client key stored without a generated key (%q)", a.id, k)
		}
		seen[a.id] = true
	}
	for k, n := range perKey {
		if k != "" && n > 1 {
			t.Errorf("idempotency key %q stored %d times", k, n)
		}
	}
	// A row beyond the acknowledged ones is a create that committed but whose response was lost
	// (or whose read-back failed): never a second copy of an acknowledged one (checked above).
	step("promoted node holds %d rows for %d acknowledged creates", len(stored), len(acks))

	// The indexer of the same process continues from the promoted node.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox on the promoted node still holds %d rows", n)
		}
	}
	step("outbox drained on the promoted node")
}

// Package indexer moves changes from the transactional outbox into the search engine.
//
// Each batch runs in one database transaction: claim outbox rows (FOR UPDATE SKIP LOCKED),
// re-read the current rows they name, write them to the engine with the row version as an
// external version, then delete (ack) the outbox rows and commit. A crash anywhere before the
// commit releases the claimed rows, and the next attempt rewrites the same versions, which the
// engine treats as stale no-ops — so every committed change reaches the index exactly once as a
// document, whatever happens to the process. The loop wakes on LISTEN/NOTIFY and polls as a
// backstop; several indexer processes may run against one database.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/outbox"
	"infowork/search"
	"infowork/store"
)

// Source loads the current rows of one entity as documents; ids without a row are absent from
// the map and get deleted from the index.
type Source func(ctx context.Context, db store.DB, ids []int64) (map[int64]search.Document, error)

// Options configure an Indexer; zero fields take defaults.
type Options struct {
	DB           *pgxpool.Pool
	Engine       search.Engine
	Sources      map[string]Source // by outbox entity name
	BatchSize    int               // default 500
	PollInterval time.Duration     // backstop poll, default 1s
	MaxAttempts  int               // attempts before a row goes to the dead-letter state, default 12
	BackoffBase  time.Duration     // default 200ms
	BackoffMax   time.Duration     // default 1 min
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	// AfterApply, when set, runs after the engine write and before the ack. Tests use it to
	// simulate a crash between the two (return an error and the batch is rolled back).
	AfterApply func(ctx context.Context, items []outbox.Item) error
	// OnIndexed, when set, is called after each batch commits with the documents the engine
	// accepted (upserts that were not stale). Saved-search subscriptions match new items here
	// (package savedsearch) instead of re-running queries on a timer. It runs on the indexer's
	// goroutine, so it must be quick and handle its own errors.
	OnIndexed func(ctx context.Context, docs []search.Document)
}

func (o *Options) defaults() error {
	if o.DB == nil {
		return errors.New("indexer: Options.DB is required")
	}
	if o.Engine == nil {
		return errors.New("indexer: Options.Engine is required")
	}
	if len(o.Sources) == 0 {
		return errors.New("indexer: Options.Sources needs at least one entity")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.BatchSize > 5000 {
		return fmt.Errorf("indexer: Options.BatchSize %d exceeds the limit of 5000", o.BatchSize)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 200 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Indexer is the outbox consumer.
type Indexer struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	mu      sync.Mutex
	batchCh chan struct{} // closed and replaced after every batch (for waiters)
	outage  atomic.Int64  // consecutive whole-batch failures (engine unreachable)
}

// New builds an indexer.
func New(opts Options) (*Indexer, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	return &Indexer{
		opts:    opts,
		log:     opts.Logger.With("component", "indexer", "engine", opts.Engine.Name()),
		metrics: newMetrics(opts.Registerer),
		batchCh: make(chan struct{}),
	}, nil
}

// Batched returns a channel closed after the next batch completes.
func (ix *Indexer) Batched() <-chan struct{} {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.batchCh
}

func (ix *Indexer) signalBatch() {
	ix.mu.Lock()
	close(ix.batchCh)
	ix.batchCh = make(chan struct{})
	ix.mu.Unlock()
}

// Run processes the outbox until ctx ends.
func (ix *Indexer) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	go ix.listen(ctx, wake)
	ix.log.Info("indexer started", "batch_size", ix.opts.BatchSize, "poll_interval", ix.opts.PollInterval)
	failures := 0
	for {
		n, err := ix.ProcessBatch(ctx)
		if ctx.Err() != nil {
			ix.log.Info("indexer stopped")
			return nil
		}
		var wait time.Duration
		switch {
		case err != nil:
			failures++
			wait = backoff(ix.opts.BackoffBase, ix.opts.BackoffMax, failures)
			ix.log.Warn("indexer batch failed", "err", err, "retry_in", wait)
		case n >= ix.opts.BatchSize:
			failures = 0
			continue // more work waiting
		default:
			failures = 0
			wait = ix.opts.PollInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			ix.log.Info("indexer stopped")
			return nil
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// listen holds a dedicated connection on LISTEN and signals wake on every notification,
// reconnecting with backoff; polling in Run covers the gaps.
func (ix *Indexer) listen(ctx context.Context, wake chan<- struct{}) {
	failures := 0
	for ctx.Err() == nil {
		err := ix.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		failures++
		d := backoff(ix.opts.BackoffBase, 30*time.Second, failures)
		ix.log.Warn("outbox listener lost; polling until it reconnects", "err", err, "retry_in", d)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

func (ix *Indexer) listenOnce(ctx context.Context, wake chan<- struct{}) error {
	conn, err := pgx.ConnectConfig(ctx, ix.opts.DB.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+outbox.Channel); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// Drain processes batches until no ready rows remain (rows waiting for a retry delay are left).
func (ix *Indexer) Drain(ctx context.Context) error {
	for {
		n, err := ix.ProcessBatch(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// ProcessBatch claims, indexes and acknowledges one batch and returns how many outbox rows it
// claimed.
func (ix *Indexer) ProcessBatch(ctx context.Context) (int, error) {
	start := time.Now()
	tx, err := ix.opts.DB.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("indexer: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	items, err := outbox.Claim(ctx, tx, ix.opts.BatchSize)
	if err != nil {
		return 0, err
	}
	if len(items) == 0 {
		return 0, tx.Commit(ctx)
	}
	result, err := ix.apply(ctx, tx, items)
	if err != nil {
		ix.metrics.batches.WithLabelValues("error").Inc()
		return len(items), err
	}
	if ix.opts.AfterApply != nil {
		if err := ix.opts.AfterApply(ctx, items); err != nil {
			return len(items), fmt.Errorf("indexer: after apply: %w", err)
		}
	}
	if err := outbox.Ack(ctx, tx, result.ack); err != nil {
		return len(items), err
	}
	if err := tx.Commit(ctx); err != nil {
		return len(items), fmt.Errorf("indexer: commit: %w", err)
	}
	now := time.Now()
	for _, it := range items {
		if result.acked[it.ID] {
			ix.metrics.freshness.Observe(now.Sub(it.CreatedAt).Seconds())
		}
	}
	ix.metrics.batches.WithLabelValues("ok").Inc()
	ix.metrics.batchDuration.Observe(time.Since(start).Seconds())
	if ix.opts.OnIndexed != nil && len(result.indexed) > 0 {
		ix.opts.OnIndexed(ctx, result.indexed)
	}
	ix.signalBatch()
	return len(items), nil
}

type applyResult struct {
	ack     []int64
	acked   map[int64]bool
	indexed []search.Document // upserts the engine accepted (for Options.OnIndexed)
}

// key identifies a record across entities.
type key struct {
	entity string
	id     int64
}

func (ix *Indexer) apply(ctx context.Context, tx pgx.Tx, items []outbox.Item) (applyResult, error) {
	res := applyResult{acked: map[int64]bool{}}
	byKey := map[key][]outbox.Item{}
	idsByEntity := map[string][]int64{}
	var order []key
	for _, it := range items {
		k := key{it.Entity, it.EntityID}
		if _, seen := byKey[k]; !seen {
			order = append(order, k)
			idsByEntity[it.Entity] = append(idsByEntity[it.Entity], it.EntityID)
		}
		byKey[k] = append(byKey[k], it)
	}
	docs := map[key]search.Document{}
	var unknown []int64
	for entity, ids := range idsByEntity {
		src, ok := ix.opts.Sources[entity]
		if !ok {
			for _, id := range ids {
				for _, it := range byKey[key{entity, id}] {
					unknown = append(unknown, it.ID)
				}
			}
			continue
		}
		loaded, err := src(ctx, tx, ids)
		if err != nil {
			return res, fmt.Errorf("indexer: load %s: %w", entity, err)
		}
		for id, d := range loaded {
			docs[key{entity, id}] = d
		}
	}
	if err := outbox.Bury(ctx, tx, unknown, "no indexer source for this entity"); err != nil {
		return res, err
	}
	ops := make([]search.Op, 0, len(order))
	var opKeys []key
	for _, k := range order {
		if _, ok := ix.opts.Sources[k.entity]; !ok {
			continue
		}
		if d, ok := docs[k]; ok {
			d := d
			ops = append(ops, search.Op{Kind: search.OpUpsert, ID: d.ID, Version: d.Version, Doc: &d})
		} else {
			// Rows are never hard-deleted, but a missing row means delete; the maximal version
			// leaves a tombstone no late write can pass.
			ops = append(ops, search.Op{Kind: search.OpDelete, ID: strconv.FormatInt(k.id, 10), Version: math.MaxInt64})
		}
		opKeys = append(opKeys, k)
	}
	if len(ops) == 0 {
		return res, nil
	}
	results, err := ix.write(ctx, tx, ops) // the serving index, and a building one (dualwrite.go)
	if err != nil {
		// The whole batch failed (engine unreachable): postpone every row, with a backoff that
		// grows with the consecutive whole-batch failures, and keep the claim transaction's
		// bookkeeping. No attempt is counted: an outage never dead-letters a row.
		var ids []int64
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		outage := int(ix.outage.Add(1))
		if rerr := outbox.Postpone(ctx, tx, ids, backoff(ix.opts.BackoffBase, ix.opts.BackoffMax, outage), err.Error()); rerr != nil {
			return res, rerr
		}
		if cerr := tx.Commit(ctx); cerr != nil {
			return res, fmt.Errorf("indexer: apply: %w (and recording the retry failed: %v)", err, cerr)
		}
		return res, fmt.Errorf("indexer: apply: %w", err)
	}
	ix.outage.Store(0)
	if len(results) != len(ops) {
		return res, fmt.Errorf("indexer: engine returned %d results for %d operations", len(results), len(ops))
	}
	for i, r := range results {
		k := opKeys[i]
		kindLabel := "upsert"
		if ops[i].Kind == search.OpDelete {
			kindLabel = "delete"
		}
		rows := byKey[k]
		switch {
		case r.Err == nil:
			outcome := "ok"
			if r.Stale {
				outcome = "stale"
			}
			ix.metrics.docs.WithLabelValues(kindLabel, outcome).Inc()
			if !r.Stale && ops[i].Kind == search.OpUpsert && ix.opts.OnIndexed != nil {
				res.indexed = append(res.indexed, *ops[i].Doc)
			}
			for _, it := range rows {
				res.ack = append(res.ack, it.ID)
				res.acked[it.ID] = true
			}
		case r.Permanent || rows[0].Attempts+1 >= ix.opts.MaxAttempts:
			ix.metrics.docs.WithLabelValues(kindLabel, "dead").Inc()
			ix.log.Error("document sent to dead letters", "entity", k.entity, "id", k.id, "err", r.Err)
			if err := outbox.Bury(ctx, tx, ids(rows), r.Err.Error()); err != nil {
				return res, err
			}
		default:
			ix.metrics.docs.WithLabelValues(kindLabel, "retry").Inc()
			if err := outbox.Retry(ctx, tx, ids(rows), backoff(ix.opts.BackoffBase, ix.opts.BackoffMax, rows[0].Attempts+1), r.Err.Error()); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func ids(items []outbox.Item) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// backoff is capped exponential backoff with full jitter.
func backoff(base, maxDelay time.Duration, attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base << min(attempt-1, 20)
	if d <= 0 || d > maxDelay {
		d = maxDelay
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) // #nosec G404 -- retry jitter, not a secret; predictability is harmless
}

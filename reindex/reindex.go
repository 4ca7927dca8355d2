// Package reindex rebuilds a search index from the database while the old one keeps serving, and
// reconciles an index with the database (`infowork reindex`, `infowork reconcile`; see
// docs/search.md "Reindex and reconciliation").
//
// # Rebuild
//
// The outbox is mark-and-sweep (rows are deleted when the indexer has applied them), so a rebuild
// cannot replay it. Instead:
//
//  1. StartRun registers the new index as 'building' in search_indexes (after creating it) and
//     records T0 (database clock) in reindex_runs. From then on the indexer writes every change
//     to the building index too (indexer/dualwrite.go).
//  2. Copy: every row in id order, in batches, written with its row version as an external
//     version (so repeating a batch, or racing the dual write, is harmless); reindex_runs.last_id
//     advances after each batch, and a rerun resumes after it.
//  3. Catch-up passes re-read rows with updated_at >= T0 - margin (then >= start of the previous
//     pass - margin) until a pass is small. With the dual write they are a second guarantee.
//  4. Verify: the (id, version) set of the new index against the database, reading the index
//     first and the database second (versions only grow, so an index version above the
//     database's is an anomaly, not a race). Rows behind are rewritten from the database, ids
//     the database lacks are deleted, and the check repeats until a round is clean or only
//     rows that changed during the check were behind.
//  5. The caller swaps (Elasticsearch/OpenSearch: one _aliases request; embedded: CURRENT file)
//     and calls FinishRun, which marks the new index live and the old one retired.
package reindex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/search"
	"infowork/submission"
)

// Run is one reindex run (a row of reindex_runs).
type Run struct {
	ID        int64
	Alias     string // index set: the engine alias, or embedded:<dir>
	Index     string // the index being built
	StartedAt time.Time
	LastID    int64 // rows with id <= LastID are copied
	Copied    int64
	Resumed   bool
}

// ErrNoRun is returned by AbortRun when no run is in progress.
var ErrNoRun = errors.New("no reindex run in progress")

// StartRun resumes the unfinished run of alias or starts a new one: newName names the new index
// and create (optional) creates it before the building state becomes visible to the indexer. A
// resumed run (Run.Resumed) is returned as it is: create is not called again.
func StartRun(ctx context.Context, db *pgxpool.Pool, alias string, newName func() string, create func(ctx context.Context, name string) error) (Run, error) {
	var run Run
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7305202611250013)`); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT id, alias, index_name, started_at, last_id, copied FROM reindex_runs
			WHERE alias = $1 AND state = 'copying'`, alias).Scan(&run.ID, &run.Alias, &run.Index, &run.StartedAt, &run.LastID, &run.Copied)
		if err == nil {
			run.Resumed = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		run.Alias, run.Index = alias, newName()
		if create != nil {
			if err := create(ctx, run.Index); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO search_indexes (alias, name, state) VALUES ($1, $2, 'building')`, alias, run.Index); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO reindex_runs (alias, index_name) VALUES ($1, $2) RETURNING id, started_at`,
			alias, run.Index).Scan(&run.ID, &run.StartedAt)
	})
	if err != nil {
		return Run{}, fmt.Errorf("reindex: start run: %w", err)
	}
	return run, nil
}

// FinishRun marks the run done, its index live and the previously serving index (old, may be
// empty) retired.
func FinishRun(ctx context.Context, db *pgxpool.Pool, run Run, old string, detail string) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE search_indexes SET state = 'retired', updated_at = now()
			WHERE alias = $1 AND name <> $2 AND state IN ('live', 'building')`, run.Alias, run.Index); err != nil {
			return err
		}
		if old != "" && old != run.Index {
			if _, err := tx.Exec(ctx, `INSERT INTO search_indexes (alias, name, state) VALUES ($1, $2, 'retired')
				ON CONFLICT (alias, name) DO UPDATE SET state = 'retired', updated_at = now()`, run.Alias, old); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO search_indexes (alias, name, state) VALUES ($1, $2, 'live')
			ON CONFLICT (alias, name) DO UPDATE SET state = 'live', updated_at = now()`, run.Alias, run.Index); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE reindex_runs SET state = 'done', finished_at = clock_timestamp(), updated_at = clock_timestamp(),
			detail = $2 WHERE id = $1`, run.ID, detail)
		return err
	})
	if err != nil {
		return fmt.Errorf("reindex: finish run: %w", err)
	}
	return nil
}

// AbortRun ends the unfinished run of alias: the building index is retired (the indexer stops
// writing to it) and its name returned so the caller can drop it.
func AbortRun(ctx context.Context, db *pgxpool.Pool, alias string) (string, error) {
	var name string
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE reindex_runs SET state = 'aborted', finished_at = clock_timestamp(), updated_at = clock_timestamp()
			WHERE alias = $1 AND state = 'copying' RETURNING index_name`, alias).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoRun
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE search_indexes SET state = 'retired', updated_at = now() WHERE alias = $1 AND name = $2`, alias, name)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("reindex: abort: %w", err)
	}
	return name, nil
}

// Target is the index being built.
type Target struct {
	// Apply writes to the new index (external versions).
	Apply func(ctx context.Context, ops []search.Op) ([]search.OpResult, error)
	// Scan lists the new index in id order (tombstones marked Deleted).
	Scan func(ctx context.Context, after string, n int) ([]search.Stored, error)
	// Versions reads the stored versions of ids in the new index without a refresh; optional
	// (verification then trusts the write results).
	Versions func(ctx context.Context, ids []string) (map[string]int64, error)
	// Refresh makes the writes visible to Scan; optional.
	Refresh func(ctx context.Context) error
}

// Options configure Rebuild.
type Options struct {
	DB        *pgxpool.Pool
	Run       *Run
	Target    Target
	BatchSize int           // rows per copy batch; default 500
	Margin    time.Duration // catch-up margin before T0 and each pass start; default 1 min
	MaxPasses int           // catch-up passes at most; default 5
	// Progress receives the progress line (a terminal gets one line rewritten in place, anything
	// else a line every two seconds); nil prints nothing.
	Progress io.Writer
	Logger   *slog.Logger
	// AfterBatch, when set, runs after each copied batch (tests use it to interleave writes).
	AfterBatch func(ctx context.Context, lastID int64)
}

// Report says what Rebuild did.
type Report struct {
	Rows      int64 // rows in the database at verification
	IndexDocs int64 // live documents in the new index at verification
	Copied    int64 // rows written by the copy (this invocation and resumed ones)
	CaughtUp  int64 // rows rewritten by catch-up passes
	Passes    int
	Rewritten int64 // rows found behind (or extra) by verification, rewritten and read back
	Took      time.Duration
}

const tableSQL = "submissions"

// Rebuild copies, catches up and verifies (steps 2–4 of the package comment).
func Rebuild(ctx context.Context, o Options) (Report, error) {
	start := time.Now()
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Margin <= 0 {
		o.Margin = time.Minute
	}
	if o.MaxPasses <= 0 {
		o.MaxPasses = 5
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &rebuilder{o: o, run: o.Run}
	var rep Report
	total, err := r.count(ctx)
	if err != nil {
		return rep, err
	}
	// The copy stops at the highest id now; rows created later reach the new index through the
	// dual write (and the catch-up passes), so a busy database cannot keep the copy running.
	var maxID int64
	if err := r.bypass(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM `+tableSQL).Scan(&maxID)
	}); err != nil {
		return rep, fmt.Errorf("reindex: %w", err)
	}
	p := newProgress(o.Progress, "copy", total, r.run.Copied)
	for {
		ids, err := r.ids(ctx, `SELECT id FROM `+tableSQL+` WHERE id > $1 AND id <= $3 ORDER BY id LIMIT $2`, r.run.LastID, o.BatchSize, maxID)
		if err != nil {
			return rep, err
		}
		if len(ids) == 0 {
			break
		}
		if err := r.write(ctx, ids); err != nil {
			return rep, err
		}
		last := ids[len(ids)-1]
		if _, err := o.DB.Exec(ctx, `UPDATE reindex_runs SET last_id = $2, copied = copied + $3, updated_at = clock_timestamp() WHERE id = $1`,
			r.run.ID, last, len(ids)); err != nil {
			return rep, fmt.Errorf("reindex: record progress: %w", err)
		}
		r.run.LastID, r.run.Copied = last, r.run.Copied+int64(len(ids))
		p.add(int64(len(ids)), last)
		if o.AfterBatch != nil {
			o.AfterBatch(ctx, last)
		}
	}
	p.done()
	rep.Copied = r.run.Copied

	// Catch-up passes over rows changed since T0 - margin, then since the start of the previous
	// pass - margin, until a pass finds fewer than BatchSize rows changed since the previous
	// pass began.
	since, prevStart := r.run.StartedAt.Add(-o.Margin), r.run.StartedAt
	for rep.Passes < o.MaxPasses {
		var passStart time.Time
		if err := o.DB.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&passStart); err != nil {
			return rep, fmt.Errorf("reindex: catch-up: %w", err)
		}
		ids, err := r.ids(ctx, `SELECT id FROM `+tableSQL+` WHERE updated_at >= $1 ORDER BY id`, since)
		if err != nil {
			return rep, err
		}
		fresh, err := r.ids(ctx, `SELECT id FROM `+tableSQL+` WHERE updated_at >= $1`, prevStart)
		if err != nil {
			return rep, err
		}
		rep.Passes++
		for b := 0; b < len(ids); b += o.BatchSize {
			if err := r.write(ctx, ids[b:min(b+o.BatchSize, len(ids))]); err != nil {
				return rep, err
			}
		}
		rep.CaughtUp += int64(len(ids))
		o.Logger.Info("reindex catch-up pass", "pass", rep.Passes, "rows", len(ids), "new_since_previous_pass", len(fresh), "since", since)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "catch-up pass %d: %d rows changed since %s (%d since the previous pass began)\n",
				rep.Passes, len(ids), since.Format(time.RFC3339), len(fresh))
		}
		if len(fresh) < o.BatchSize {
			break
		}
		since, prevStart = passStart.Add(-o.Margin), passStart
	}

	// Verify: a full comparison, then every row found behind (or extra) is rewritten from the
	// database and read back. Under concurrent writes some rows are behind only because they
	// changed between reading the index and reading the database; rewriting them is harmless,
	// and every later change has an outbox row that the indexer delivers to this index (dual
	// write before the swap, the alias after it).
	d, err := r.diff(ctx)
	if err != nil {
		return rep, err
	}
	rep.Rows, rep.IndexDocs = d.rows, d.docs
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "verify: database %d rows, new index %d documents; behind %d, in flight %d, extra %d, ahead %d\n",
			d.rows, d.docs, len(d.behind), d.inFlight, len(d.extra), len(d.ahead))
	}
	if len(d.ahead) > 0 {
		return rep, fmt.Errorf("reindex: verify: %d documents in the new index are newer than the database (e.g. %s); was the database restored from a backup?", len(d.ahead), d.ahead[0])
	}
	fix := append(append([]int64(nil), d.behind...), d.extra...)
	slices.Sort(fix)
	for b := 0; b < len(fix); b += o.BatchSize {
		part := fix[b:min(b+o.BatchSize, len(fix))]
		if err := r.write(ctx, part); err != nil {
			return rep, err
		}
		if o.Target.Versions == nil {
			continue
		}
		strs := make([]string, len(part))
		for i, id := range part {
			strs[i] = strconv.FormatInt(id, 10)
		}
		got, err := o.Target.Versions(ctx, strs)
		if err != nil {
			return rep, fmt.Errorf("reindex: verify: %w", err)
		}
		for i, id := range part {
			want, isRow := d.dbVersion[id]
			if have, ok := got[strs[i]]; (isRow && (!ok || have < want)) || (!isRow && ok) {
				return rep, fmt.Errorf("reindex: verify: document %d is at version %d after the rewrite, want %d", id, have, want)
			}
		}
	}
	rep.Rewritten = int64(len(fix))
	rep.Took = time.Since(start)
	return rep, nil
}

type rebuilder struct {
	o   Options
	run *Run
}

// bypass runs fn in a read transaction with the row-level-security bypass (trusted internal read).
func (r *rebuilder) bypass(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, r.o.DB, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

func (r *rebuilder) count(ctx context.Context) (int64, error) {
	var n int64
	err := r.bypass(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM `+tableSQL).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("reindex: count rows: %w", err)
	}
	return n, nil
}

func (r *rebuilder) ids(ctx context.Context, sql string, args ...any) ([]int64, error) {
	var ids []int64
	err := r.bypass(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reindex: list rows: %w", err)
	}
	return ids, nil
}

// write loads ids from the database and writes them to the new index: an upsert at the row
// version, or a delete (maximal version, a tombstone) for an id without a row. Failed items are
// retried with backoff; a permanent failure ends the run (it can be resumed after the cause is
// fixed).
func (r *rebuilder) write(ctx context.Context, ids []int64) error {
	docs, err := submission.Documents(ctx, r.o.DB, ids)
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	ops := make([]search.Op, 0, len(ids))
	for _, id := range ids {
		if d, ok := docs[id]; ok {
			d := d
			ops = append(ops, search.Op{Kind: search.OpUpsert, ID: d.ID, Version: d.Version, Doc: &d})
		} else {
			ops = append(ops, search.Op{Kind: search.OpDelete, ID: strconv.FormatInt(id, 10), Version: math.MaxInt64})
		}
	}
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := r.o.Target.Apply(ctx, ops)
		var failed []search.Op
		var lastErr error
		if err != nil {
			failed, lastErr = ops, err
		} else {
			for i, x := range res {
				if x.Err == nil {
					continue
				}
				if x.Permanent {
					return fmt.Errorf("reindex: document %s cannot be indexed (fix it and run reindex again to resume): %w", x.ID, x.Err)
				}
				failed, lastErr = append(failed, ops[i]), x.Err
			}
		}
		if len(failed) == 0 {
			return nil
		}
		if attempt >= 10 {
			return fmt.Errorf("reindex: %d documents not written after %d attempts (run reindex again to resume): %w", len(failed), attempt, lastErr)
		}
		r.o.Logger.Warn("reindex write failed; retrying", "items", len(failed), "attempt", attempt, "err", lastErr)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
		ops = failed
	}
}

type diffResult struct {
	rows, docs    int64
	inFlight      int64           // rows behind with a waiting outbox row (not counted in behind)
	behind, extra []int64         // ids to rewrite from the database
	dbVersion     map[int64]int64 // database version of the ids behind
	ahead         []string
}

// diff compares the new index with the database: the index is read first, then the database.
func (r *rebuilder) diff(ctx context.Context) (diffResult, error) {
	d := diffResult{dbVersion: map[int64]int64{}}
	if r.o.Target.Refresh != nil {
		if err := r.o.Target.Refresh(ctx); err != nil {
			return d, fmt.Errorf("reindex: verify: %w", err)
		}
	}
	idx := map[int64]int64{}
	err := search.ScanAll(ctx, r.o.Target.Scan, 1000, func(page []search.Stored) error {
		for _, s := range page {
			if s.Deleted {
				continue
			}
			id, err := strconv.ParseInt(s.ID, 10, 64)
			if err != nil {
				return fmt.Errorf("the new index holds a document with id %q", s.ID)
			}
			idx[id] = s.Version
		}
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("reindex: verify: %w", err)
	}
	d.docs = int64(len(idx))
	err = r.bypass(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, version FROM `+tableSQL+` ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, v int64
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			d.rows++
			iv, ok := idx[id]
			delete(idx, id)
			switch {
			case !ok || iv < v:
				d.behind = append(d.behind, id)
				d.dbVersion[id] = v
			case iv > v:
				d.ahead = append(d.ahead, strconv.FormatInt(id, 10))
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// Rows behind that still have a waiting outbox row are in flight: the indexer delivers
		// them (to the building index too, or to it as the serving index after the swap).
		if len(d.behind) == 0 {
			return nil
		}
		pending, err := tx.Query(ctx, `SELECT DISTINCT entity_id FROM outbox WHERE entity = $1 AND dead_at IS NULL AND entity_id = ANY($2::bigint[])`,
			submission.Entity, d.behind)
		if err != nil {
			return err
		}
		inFlight, err := pgx.CollectRows(pending, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		d.inFlight = int64(len(inFlight))
		waiting := make(map[int64]bool, len(inFlight))
		for _, id := range inFlight {
			waiting[id] = true
		}
		d.behind = slices.DeleteFunc(d.behind, func(id int64) bool { return waiting[id] })
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("reindex: verify: read database: %w", err)
	}
	for id := range idx {
		d.extra = append(d.extra, id)
	}
	return d, nil
}

// progress prints "copy 1200/5000 rows 24.0% 850 rows/s last id 1234".
type progress struct {
	w          io.Writer
	tty        bool
	label      string
	total, n   int64
	start      time.Time
	startN     int64
	lastPrint  time.Time
	lastID     int64
	printedAny bool
	printed    int64 // n at the last print
}

func newProgress(w io.Writer, label string, total, already int64) *progress {
	p := &progress{w: w, label: label, total: total, n: already, startN: already, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if w != nil && already > 0 {
		fmt.Fprintf(w, "resuming: %d rows already copied\n", already)
	}
	return p
}

func (p *progress) add(n, lastID int64) {
	p.n += n
	p.lastID = lastID
	if p.w == nil {
		return
	}
	if p.tty || time.Since(p.lastPrint) >= 2*time.Second {
		p.print()
	}
}

func (p *progress) print() {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.n-p.startN) / el
	}
	pct := 100.0
	if p.total > 0 {
		pct = min(100, 100*float64(p.n)/float64(p.total))
	}
	bar := make([]byte, 20)
	for i := range bar {
		bar[i] = ' '
		if float64(i) < pct/5 {
			bar[i] = '#'
		}
	}
	line := fmt.Sprintf("%s [%s] %d/%d rows %5.1f%% %6.0f rows/s last id %d", p.label, bar, p.n, p.total, pct, rate, p.lastID)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.lastPrint, p.printedAny, p.printed = time.Now(), true, p.n
}

func (p *progress) done() {
	if p.w == nil {
		return
	}
	if p.printed != p.n || !p.printedAny {
		p.print()
	}
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

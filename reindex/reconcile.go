package reindex

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/access"
	"infowork/outbox"
	"infowork/search"
	"infowork/submission"
)

// ReconcileOptions configure Reconcile.
type ReconcileOptions struct {
	DB     *pgxpool.Pool
	Engine search.Engine // the serving index; must implement search.Scanner to find orphans
	DryRun bool          // report only
	Batch  int           // ids per round trip; default 1000
}

// ReconcileReport is the outcome of a reconciliation: the database is the truth.
type ReconcileReport struct {
	Rows      int64    // rows in the database
	Docs      int64    // live documents in the index
	Missing   []string // rows without a document
	Stale     []string // documents older than the row
	Ahead     []string // documents newer than the row (only a reindex repairs these)
	Orphans   []string // documents without a row
	InFlight  int64    // differences with a waiting outbox row (the indexer is on it; not repaired)
	Enqueued  int64    // outbox rows written (missing, stale and orphans with a numeric id)
	Deleted   int64    // documents deleted directly (orphans whose id is not a row id)
	Dead      int64    // dead-letter outbox rows at the start
	OrphanErr error    // set when the engine cannot list its documents (orphans not checked)
}

// Differences is the number of differences found, in flight excluded.
func (r ReconcileReport) Differences() int {
	return len(r.Missing) + len(r.Stale) + len(r.Ahead) + len(r.Orphans)
}

// Reconcile compares (id, version) between the database and the index and, unless DryRun,
// repairs what differs through the indexer: an outbox row for every missing or stale document and
// for every orphan (the indexer writes a tombstone for an id without a row). Differences whose
// id already waits in the outbox are counted as in flight and left to the indexer.
func Reconcile(ctx context.Context, o ReconcileOptions) (ReconcileReport, error) {
	var rep ReconcileReport
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	st, err := outbox.ReadStats(ctx, o.DB)
	if err != nil {
		return rep, err
	}
	rep.Dead = st.Dead
	var repair []int64
	// Database → index, in id order.
	after := int64(0)
	for {
		type row struct{ id, version int64 }
		var rows []row
		err := withBypass(ctx, o.DB, func(tx pgx.Tx) error {
			r, err := tx.Query(ctx, `SELECT id, version FROM submissions WHERE id > $1 ORDER BY id LIMIT $2`, after, o.Batch)
			if err != nil {
				return err
			}
			rows, err = pgx.CollectRows(r, func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.id, &x.version)
			})
			return err
		})
		if err != nil {
			return rep, fmt.Errorf("reconcile: read database: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].id
		rep.Rows += int64(len(rows))
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = strconv.FormatInt(r.id, 10)
		}
		vs, err := o.Engine.Versions(ctx, ids)
		if err != nil {
			return rep, fmt.Errorf("reconcile: %w", err)
		}
		var suspects []int64 // ahead: re-read, the row may have changed after we read it
		for i, r := range rows {
			v, ok := vs[ids[i]]
			switch {
			case !ok:
				rep.Missing = append(rep.Missing, ids[i])
				repair = append(repair, r.id)
			case v < r.version:
				rep.Stale = append(rep.Stale, ids[i])
				repair = append(repair, r.id)
			case v > r.version:
				suspects = append(suspects, r.id)
			}
		}
		if len(suspects) > 0 {
			cur, err := versionsOf(ctx, o.DB, suspects)
			if err != nil {
				return rep, err
			}
			for _, id := range suspects {
				s := strconv.FormatInt(id, 10)
				if cur[id] < vs[s] {
					rep.Ahead = append(rep.Ahead, s)
				}
			}
		}
	}
	// Index → database: documents without a row.
	sc, ok := o.Engine.(search.Scanner)
	if !ok {
		rep.OrphanErr = fmt.Errorf("engine %s cannot list its documents", o.Engine.Name())
	}
	var direct []string
	if ok {
		err := search.ScanAll(ctx, sc.Scan, o.Batch, func(page []search.Stored) error {
			var nums []int64
			for _, s := range page {
				rep.Docs++
				id, err := strconv.ParseInt(s.ID, 10, 64)
				if err != nil || id <= 0 {
					rep.Orphans = append(rep.Orphans, s.ID)
					direct = append(direct, s.ID)
					continue
				}
				nums = append(nums, id)
			}
			if len(nums) == 0 {
				return nil
			}
			have, err := versionsOf(ctx, o.DB, nums)
			if err != nil {
				return err
			}
			for _, id := range nums {
				if _, ok := have[id]; !ok {
					rep.Orphans = append(rep.Orphans, strconv.FormatInt(id, 10))
					repair = append(repair, id)
				}
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("reconcile: %w", err)
		}
	}
	// Leave what the indexer is already working on.
	if len(repair) > 0 {
		var waiting []int64
		err := withBypass(ctx, o.DB, func(tx pgx.Tx) error {
			r, err := tx.Query(ctx, `SELECT DISTINCT entity_id FROM outbox WHERE entity = $1 AND dead_at IS NULL AND entity_id = ANY($2::bigint[])`,
				submission.Entity, repair)
			if err != nil {
				return err
			}
			waiting, err = pgx.CollectRows(r, pgx.RowTo[int64])
			return err
		})
		if err != nil {
			return rep, fmt.Errorf("reconcile: read outbox: %w", err)
		}
		w := map[int64]bool{}
		for _, id := range waiting {
			w[id] = true
		}
		kept := repair[:0]
		for _, id := range repair {
			if w[id] {
				rep.InFlight++
			} else {
				kept = append(kept, id)
			}
		}
		repair = kept
		for _, list := range []*[]string{&rep.Missing, &rep.Stale, &rep.Orphans} {
			out := (*list)[:0]
			for _, s := range *list {
				if id, err := strconv.ParseInt(s, 10, 64); err == nil && w[id] {
					continue
				}
				out = append(out, s)
			}
			*list = out
		}
	}
	if o.DryRun {
		return rep, nil
	}
	if len(repair) > 0 {
		err := pgx.BeginFunc(ctx, o.DB, func(tx pgx.Tx) error {
			return outbox.Enqueue(ctx, tx, submission.Entity, repair...)
		})
		if err != nil {
			return rep, fmt.Errorf("reconcile: enqueue: %w", err)
		}
		rep.Enqueued = int64(len(repair))
	}
	if len(direct) > 0 {
		ops := make([]search.Op, len(direct))
		for i, id := range direct {
			ops[i] = search.Op{Kind: search.OpDelete, ID: id, Version: math.MaxInt64}
		}
		res, err := o.Engine.Apply(ctx, ops)
		if err != nil {
			return rep, fmt.Errorf("reconcile: delete orphans: %w", err)
		}
		var errs []error
		for _, r := range res {
			if r.Err != nil {
				errs = append(errs, r.Err)
			} else {
				rep.Deleted++
			}
		}
		if len(errs) > 0 {
			return rep, fmt.Errorf("reconcile: delete orphans: %w", errors.Join(errs...))
		}
	}
	return rep, nil
}

func withBypass(ctx context.Context, db *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

func versionsOf(ctx context.Context, db *pgxpool.Pool, ids []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	err := withBypass(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, version FROM submissions WHERE id = ANY($1::bigint[])`, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, v int64
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			out[id] = v
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile: read database: %w", err)
	}
	return out, nil
}

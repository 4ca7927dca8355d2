package reindex

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/search"
)

// OnlineResult is what Online did.
type OnlineResult struct {
	Run     Run
	Report  Report
	Old     string // the index that served before the swap ("" when there was none)
	Dropped bool   // Old was deleted
	// AlreadySwapped: a resumed run found the alias on its index (the previous run stopped
	// between the swap and its bookkeeping) and only finished the bookkeeping.
	AlreadySwapped bool
}

// Online rebuilds the index of an Elasticsearch/OpenSearch engine while the old one keeps
// serving: a new index beside it (dual-written by the indexer meanwhile), copy, catch-up, verify,
// and an atomic alias swap. o.Run and o.Target are filled here. With dropOld the old index is
// deleted after the swap; otherwise it is kept (state retired) for a manual rollback.
func Online(ctx context.Context, db *pgxpool.Pool, rb search.Rebuilder, o Options, dropOld bool) (OnlineResult, error) {
	var res OnlineResult
	// One reindex per alias at a time: a session advisory lock held on one connection for the
	// whole run (released when the connection ends, also if the process dies).
	conn, err := db.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("reindex: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(73052026, hashtext($1))`, rb.Alias()).Scan(&locked); err != nil {
		return res, fmt.Errorf("reindex: %w", err)
	}
	if !locked {
		return res, fmt.Errorf("reindex: another 'infowork reindex' is running for %s", rb.Alias())
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(73052026, hashtext($1))`, rb.Alias()) //nolint:errcheck
	run, err := StartRun(ctx, db, rb.Alias(), rb.NewIndexName, rb.CreateBuildIndex)
	if err != nil {
		return res, err
	}
	res.Run = run
	if o.Progress != nil {
		verb := "building"
		if run.Resumed {
			verb = "resuming"
		}
		fmt.Fprintf(o.Progress, "%s %s (alias %s, run %d, T0 %s)\n", verb, run.Index, rb.Alias(), run.ID, run.StartedAt.Format("2006-01-02 15:04:05 MST"))
	}
	serving, err := rb.ServingIndex(ctx)
	if err != nil {
		return res, err
	}
	if run.Resumed && serving == run.Index {
		res.AlreadySwapped = true
		return res, FinishRun(ctx, db, run, "", "resumed after the swap")
	}
	if run.Resumed {
		if err := rb.CreateBuildIndex(ctx, run.Index); err != nil {
			return res, err
		}
	}
	o.DB, o.Run = db, &res.Run
	o.Target = Target{
		Apply: rb.ApplyBuilding,
		Scan: func(ctx context.Context, after string, n int) ([]search.Stored, error) {
			return rb.ScanIndex(ctx, run.Index, after, n)
		},
		Refresh:  func(ctx context.Context) error { return rb.Refresh(ctx, run.Index) },
		Versions: rb.BuildingVersions,
	}
	rep, err := Rebuild(ctx, o)
	res.Report = rep
	if err != nil {
		return res, err
	}
	// The alias may have moved since (another reindex cannot run: one run per alias).
	if serving, err = rb.ServingIndex(ctx); err != nil {
		return res, err
	}
	res.Old = serving
	if err := rb.SwapTo(ctx, serving, run.Index); err != nil {
		return res, err
	}
	detail := fmt.Sprintf("rows %d, documents %d, copied %d, caught up %d in %d passes, rewritten %d, from %s",
		rep.Rows, rep.IndexDocs, rep.Copied, rep.CaughtUp, rep.Passes, rep.Rewritten, serving)
	if err := FinishRun(ctx, db, run, serving, detail); err != nil {
		return res, err
	}
	if dropOld && serving != "" {
		if err := rb.DropIndex(ctx, serving); err != nil {
			return res, err
		}
		res.Dropped = true
	}
	return res, nil
}

package indexer

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"infowork/search"
)

// write applies ops to the serving index and, while `infowork reindex` builds a new index for
// the same alias (a 'building' row in search_indexes), to that index too (dual write).
//
// The building row is read in the batch transaction after the rows were loaded. A reindex
// registers its building index before it reads any row, so a change is either loaded by this
// batch before the registration (and the reindex's own copy, which starts after it, reads that
// state or a newer one) or committed after it, in which case its outbox row is claimed by a batch
// that sees the building row. Either way the new index gets it: nothing depends on outbox rows
// surviving, and external versions make the double delivery harmless.
//
// An item counts as done only when both writes succeeded (or were stale); a failure on the
// building index is retried like any other (never buried as permanent by itself), so the swap
// cannot lose a change written to the old index alone.
func (ix *Indexer) write(ctx context.Context, tx pgx.Tx, ops []search.Op) ([]search.OpResult, error) {
	rb, ok := ix.opts.Engine.(search.Rebuilder)
	if !ok {
		return ix.opts.Engine.Apply(ctx, ops)
	}
	// Decide the targets BEFORE writing. The swap moves the alias first and only then marks the
	// new index live, so: a batch that sees no building index writes through an alias that
	// already points at the new index (or no reindex runs); a batch that sees one writes to the
	// building alias too, and if the swap removed that alias meanwhile the write fails and the
	// items are retried. Reading the state after the first write instead would lose a change
	// written to the old index just before the swap (found by TestReindexUnderConcurrentWrites).
	var building bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM search_indexes WHERE alias = $1 AND state = 'building')`,
		rb.Alias()).Scan(&building); err != nil {
		return nil, fmt.Errorf("read building index: %w", err)
	}
	results, err := ix.opts.Engine.Apply(ctx, ops)
	if err != nil {
		return nil, err
	}
	if !building {
		return results, nil
	}
	var dual []search.Op
	var at []int
	for i, r := range results {
		if r.Err == nil {
			dual = append(dual, ops[i])
			at = append(at, i)
		}
	}
	if len(dual) == 0 {
		return results, nil
	}
	second, err := rb.ApplyBuilding(ctx, dual)
	if err != nil {
		return nil, fmt.Errorf("building index: %w", err)
	}
	if len(second) != len(dual) {
		return nil, fmt.Errorf("building index: engine returned %d results for %d operations", len(second), len(dual))
	}
	for k, r := range second {
		if r.Err != nil {
			results[at[k]] = search.OpResult{ID: r.ID, Err: fmt.Errorf("building index: %w", r.Err)}
		}
	}
	return results, nil
}

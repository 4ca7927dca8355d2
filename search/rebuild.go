package search

import "context"

// Stored is one document as an engine holds it: its id and stored version. Deleted marks a
// tombstone (a delete's version kept so that no late, lower-versioned write can re-create it).
type Stored struct {
	ID      string
	Version int64
	Deleted bool
}

// Scanner is implemented by engines that can list what they hold, for reconciliation
// (infowork reconcile) and for verifying a rebuilt index.
type Scanner interface {
	// Scan returns up to n live documents (tombstones excluded) of the serving index whose id
	// sorts after `after` (byte order; "" starts at the beginning), in id order.
	Scan(ctx context.Context, after string, n int) ([]Stored, error)
}

// Rebuilder is implemented by engines whose index can be rebuilt beside the serving one while it
// keeps serving, and then swapped in atomically (Elasticsearch and OpenSearch: a new versioned
// index behind the alias). The embedded engine rebuilds offline instead (see package embedded).
//
// A rebuild has at most one index in the building state at a time. Writers that keep the serving
// index fresh (the indexer) also write every change to the building index while it exists, so
// that nothing committed during the rebuild is missing from it at the swap.
type Rebuilder interface {
	Engine
	Scanner
	// Alias is the name searches go to; it identifies the index set in bookkeeping tables.
	Alias() string
	// NewIndexName returns a fresh name for a rebuilt index (the mapping version stays in it).
	NewIndexName() string
	// CreateBuildIndex creates the empty index name with the current mapping and makes it the
	// building index (the target of ApplyBuilding). It succeeds when name already exists as
	// the building index, so a resumed rebuild can call it again.
	CreateBuildIndex(ctx context.Context, name string) error
	// ApplyBuilding is Apply on the building index. It fails per item (retryably) when there is
	// no building index any more, never creating one.
	ApplyBuilding(ctx context.Context, ops []Op) ([]OpResult, error)
	// BuildingVersions is Versions on the building index (real time, no refresh needed).
	BuildingVersions(ctx context.Context, ids []string) (map[string]int64, error)
	// ScanIndex is Scan over a named index (tombstones included, marked Deleted).
	ScanIndex(ctx context.Context, index string, after string, n int) ([]Stored, error)
	// Refresh makes every write to index searchable.
	Refresh(ctx context.Context, index string) error
	// ServingIndex returns the index the alias points to ("" when there is none).
	ServingIndex(ctx context.Context) (string, error)
	// SwapTo moves the alias from the serving index to name and ends the building state of
	// name, in one atomic request; it fails if the alias no longer points to from.
	SwapTo(ctx context.Context, from, name string) error
	// DropIndex deletes an index that is not serving.
	DropIndex(ctx context.Context, name string) error
}

// ScanAll pages through everything scan lists, n documents at a time in id order, calling fn
// with each page. scan is a Scanner's Scan method (or any function of that shape).
func ScanAll(ctx context.Context, scan func(ctx context.Context, after string, n int) ([]Stored, error), n int, fn func(page []Stored) error) error {
	for after := ""; ; {
		page, err := scan(ctx, after, n)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < n {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

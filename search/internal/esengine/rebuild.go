package esengine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"infowork/search"
)

// Rebuilding (search.Rebuilder, used by `infowork reindex`).
//
// A rebuilt index is <prefix>submissions.v<N>-<UTC timestamp, ms>: the mapping version stays in the
// name, the suffix tells generations apart. While it is being filled it carries a second alias,
// the building alias <prefix>submissions.building, and ApplyBuilding writes through that alias
// with require_alias=true: once the building index is swapped in (or dropped) such writes fail
// per item with 404 and are retried by the indexer, instead of auto-creating an index with
// dynamic mappings. SwapTo moves the serving alias and removes the building alias in one
// _aliases request, so searches see either the old index or the new one, never neither.

var _ search.Rebuilder = (*Engine)(nil)

// BuildingAlias is the alias of the index being rebuilt.
func (e *Engine) BuildingAlias() string { return e.alias + ".building" }

// NewIndexName implements search.Rebuilder.
func (e *Engine) NewIndexName() string {
	return e.index + "-" + strings.ToLower(time.Now().UTC().Format("20060102t150405.000"))
}

// CreateBuildIndex implements search.Rebuilder.
func (e *Engine) CreateBuildIndex(ctx context.Context, name string) error {
	if !strings.HasPrefix(name, e.cfg.IndexPrefix+e.mapping.Name+".v") {
		return fmt.Errorf("%s: create index %s: the name must start with %s.v", e.cfg.Name, name, e.cfg.IndexPrefix+e.mapping.Name)
	}
	body, err := e.createBody()
	if err != nil {
		return err
	}
	var def map[string]any
	if err := json.Unmarshal(body, &def); err != nil {
		return fmt.Errorf("%s: create index %s: %w", e.cfg.Name, name, err)
	}
	def["aliases"] = obj{e.BuildingAlias(): obj{}}
	body, _ = json.Marshal(def)
	st, resp, err := e.do(ctx, http.MethodPut, "/"+name, nil, body)
	switch {
	case err != nil:
		return fmt.Errorf("%s: create index %s: %w", e.cfg.Name, name, err)
	case st == http.StatusOK:
		e.log.Info("created index for a rebuild", "index", name, "alias", e.BuildingAlias())
		return nil
	case errorType(resp) == "resource_already_exists_exception":
		targets, err := e.aliasTargets(ctx, e.BuildingAlias())
		if err != nil {
			return err
		}
		if len(targets) == 1 && targets[0] == name {
			return nil // resumed
		}
		return fmt.Errorf("%s: create index %s: it exists but is not the building index (building alias on %v)", e.cfg.Name, name, targets)
	default:
		return fmt.Errorf("%s: create index %s: %w", e.cfg.Name, name, statusError(st, resp))
	}
}

// ApplyBuilding implements search.Rebuilder.
func (e *Engine) ApplyBuilding(ctx context.Context, ops []search.Op) ([]search.OpResult, error) {
	return e.apply(ctx, e.BuildingAlias(), ops)
}

// BuildingVersions implements search.Rebuilder.
func (e *Engine) BuildingVersions(ctx context.Context, ids []string) (map[string]int64, error) {
	return e.versionsIn(ctx, e.BuildingAlias(), ids)
}

// Scan implements search.Scanner over the serving alias (tombstones excluded).
func (e *Engine) Scan(ctx context.Context, after string, n int) ([]search.Stored, error) {
	if err := e.ensure(ctx); err != nil {
		return nil, fmt.Errorf("%s: scan: %w", e.cfg.Name, err)
	}
	return e.scan(ctx, e.alias, obj{"bool": obj{"must_not": []any{isTombstone}}}, after, n)
}

// ScanIndex implements search.Rebuilder.
func (e *Engine) ScanIndex(ctx context.Context, index, after string, n int) ([]search.Stored, error) {
	return e.scan(ctx, index, obj{"match_all": obj{}}, after, n)
}

func (e *Engine) scan(ctx context.Context, index string, query obj, after string, n int) ([]search.Stored, error) {
	if n <= 0 || n > search.MaxResultWindow {
		return nil, fmt.Errorf("%s: scan: page size %d out of range", e.cfg.Name, n)
	}
	req := obj{"size": n, "query": query, "sort": []any{obj{"id": "asc"}}, "version": true,
		"_source": []string{"deleted"}, "track_total_hits": false}
	if after != "" {
		req["search_after"] = []any{after}
	}
	body, _ := json.Marshal(req)
	st, resp, err := e.do(ctx, http.MethodPost, "/"+index+"/_search", nil, body)
	if err != nil {
		return nil, fmt.Errorf("%s: scan %s: %w", e.cfg.Name, index, err)
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("%s: scan %s: %w", e.cfg.Name, index, unavailable(st, resp))
	}
	var r struct {
		Shards shardStats `json:"_shards"`
		Hits   struct {
			Hits []struct {
				ID      string `json:"_id"`
				Version int64  `json:"_version"`
				Source  struct {
					Deleted bool `json:"deleted"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return nil, fmt.Errorf("%s: scan %s: decode: %w", e.cfg.Name, index, err)
	}
	if err := r.Shards.check(); err != nil {
		return nil, fmt.Errorf("%s: scan %s: %w", e.cfg.Name, index, err)
	}
	out := make([]search.Stored, len(r.Hits.Hits))
	for i, h := range r.Hits.Hits {
		out[i] = search.Stored{ID: h.ID, Version: h.Version, Deleted: h.Source.Deleted}
	}
	return out, nil
}

// Refresh implements search.Rebuilder.
func (e *Engine) Refresh(ctx context.Context, index string) error {
	st, resp, err := e.do(ctx, http.MethodPost, "/"+index+"/_refresh", nil, nil)
	if err != nil {
		return fmt.Errorf("%s: refresh %s: %w", e.cfg.Name, index, err)
	}
	if st != http.StatusOK {
		return fmt.Errorf("%s: refresh %s: %w", e.cfg.Name, index, unavailable(st, resp))
	}
	return nil
}

// ServingIndex implements search.Rebuilder.
func (e *Engine) ServingIndex(ctx context.Context) (string, error) {
	return e.aliasTarget(ctx)
}

// SwapTo implements search.Rebuilder.
func (e *Engine) SwapTo(ctx context.Context, from, name string) error {
	var actions []any
	if from != "" {
		actions = append(actions, obj{"remove": obj{"index": from, "alias": e.alias}})
	}
	actions = append(actions,
		obj{"add": obj{"index": name, "alias": e.alias}},
		obj{"remove": obj{"index": name, "alias": e.BuildingAlias()}})
	body, _ := json.Marshal(obj{"actions": actions})
	st, resp, err := e.do(ctx, http.MethodPost, "/_aliases", nil, body)
	if err != nil {
		return fmt.Errorf("%s: swap alias %s to %s: %w", e.cfg.Name, e.alias, name, err)
	}
	if st != http.StatusOK {
		return fmt.Errorf("%s: swap alias %s from %s to %s: %w", e.cfg.Name, e.alias, from, name, statusError(st, resp))
	}
	e.log.Info("alias swapped", "alias", e.alias, "from", from, "to", name)
	return nil
}

// DropIndex implements search.Rebuilder.
func (e *Engine) DropIndex(ctx context.Context, name string) error {
	serving, err := e.aliasTarget(ctx)
	if err != nil {
		return err
	}
	if name == serving || name == e.alias || name == "" || strings.ContainsAny(name, "*,") {
		return fmt.Errorf("%s: refusing to drop index %q (serving %q)", e.cfg.Name, name, serving)
	}
	st, resp, err := e.do(ctx, http.MethodDelete, "/"+url.PathEscape(name), nil, nil)
	if err != nil {
		return fmt.Errorf("%s: drop index %s: %w", e.cfg.Name, name, err)
	}
	if st != http.StatusOK && st != http.StatusNotFound {
		return fmt.Errorf("%s: drop index %s: %w", e.cfg.Name, name, statusError(st, resp))
	}
	return nil
}

// aliasTargets lists the indices behind an alias (none when it does not exist).
func (e *Engine) aliasTargets(ctx context.Context, alias string) ([]string, error) {
	st, resp, err := e.do(ctx, http.MethodGet, "/_alias/"+alias, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: read alias %s: %w", e.cfg.Name, alias, err)
	}
	if st == http.StatusNotFound {
		return nil, nil
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("%s: read alias %s: %w", e.cfg.Name, alias, unavailable(st, resp))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(resp, &m); err != nil {
		return nil, fmt.Errorf("%s: read alias %s: %w", e.cfg.Name, alias, err)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out, nil
}

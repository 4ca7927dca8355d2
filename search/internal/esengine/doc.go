// Package esengine is the search engine shared by the Elasticsearch and OpenSearch engines:
// index creation from the versioned mappings, the query DSL, bulk writes with external
// versions, and response parsing. The two public engines (search/elasticsearch,
// search/opensearch) differ only in the client that carries the HTTP requests: each passes
// its client's send function (connection pool, node selection, authentication, retries on
// connection errors, and for Elasticsearch the product check) in Config.Send.
//
// # Index and alias
//
// The live index is the alias <prefix>submissions over <prefix>submissions.v<N>, N being the
// newest file in mappings/submissions. Open creates the versioned index and the alias in one
// request when the alias is missing. Every request goes to the alias; bulk requests carry
// require_alias=true so a missing alias can never make the engine auto-create an index with
// dynamic mappings. When the cluster cannot be reached at Open, Open still succeeds and every
// later call retries the set-up first, so the web app starts (and lists from the database)
// while the engine is down.
//
// # Writes
//
// Apply sends one _bulk request (split above Config.MaxBulkBytes) of index actions with
// version_type=external and version = the row version, and reads every per-item result:
// 200/201 done, 409 stale (the engine already holds that version or a newer one: done),
// 429, 5xx and 404 retried, any other status permanent (a mapping error goes to the
// dead-letter state). Retryable items and whole requests that fail with 429/5xx or a
// connection error are re-sent up to Config.BulkAttempts times with capped exponential backoff
// and full jitter; what still fails is reported to the indexer per item (or, when the engine
// could not be reached at all, as one error wrapping search.ErrUnavailable), and the indexer
// retries later with its own, longer backoff. Re-sending is safe: an item that reached the
// engine the first time comes back 409 and is reported as stale.
//
// A delete is written as a tombstone document (id, deleted=true) carrying the delete's
// version, not as an engine delete. The engine keeps the version of a real delete only for
// index.gc_deletes, after which a late, lower-versioned upsert would re-create the document;
// a tombstone keeps its version for as long as it exists, so a stale upsert is rejected with
// 409 forever, and every query, Count and Versions ignore tombstones. (Rows are never
// hard-deleted, and the indexer re-reads the database before writing: it sends an upsert only
// while the row exists and a delete, with the maximal version, only when it is missing — the
// tombstone is the second, engine-side guarantee.) Tombstones are few and a reindex from the
// database drops them.
//
// # Queries
//
// The parsed query (search.ParseQuery) becomes a bool query: words and phrases are term or
// match_phrase queries over the pre-segmented title_terms/body_terms fields built from the
// analyzer's precise-mode tokens (see package mappings for the position model), title matches
// weigh titleBoost times more. The Scope and the facet filters are non-scoring filter clauses
// of the same query, so totals and facet counts (terms aggregations) only count what the caller
// may open. Highlights are drawn in Go by analyzers.Highlight on the original text from
// _source, exactly as the embedded engine does.
package esengine

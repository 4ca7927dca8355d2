// Package embedded is the default search engine: a Bleve v2 (scorch) index in the process,
// stored under the data directory.
//
// Text is analyzed by the analyzers package, not by Bleve: documents are built field by field
// (Batch.IndexAdvanced) with a Bleve analyzer that hands over the analyzer's tokens unchanged,
// so terms, positions and offsets come from jieba (search mode for the index), and queries are
// built from analyzers.Query tokens as term and phrase queries. Nothing in the stored index
// mapping refers to a custom analyzer, so the index opens without any registration step.
//
// Fields: title and body (analyzed, stored, term vectors for phrases; title matches weigh
// titleBoost times more), keyword fields with doc values for facets and filters (unit,
// category, district, state (v7), month, classification as the level name), level (numeric, scope filter),
// readers (keyword list of "r:"-prefixed principals, or "*" when the document has no readers
// list — the prefix keeps a listed principal from ever equalling the marker), date (datetime, range and
// sort) and stored-only fields for building hits without the database.
//
// Versions and tombstones live in the index's internal key/value store, written in the same
// batch as the documents, so a stale or late write never overwrites a newer one and a deleted
// document cannot be resurrected by a lower version. Apply calls are serialized.
//
// The scope is part of the Bleve query (a non-scoring filter), so totals and facet counts only
// count what the caller may open.
package embedded

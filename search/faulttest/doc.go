// Package faulttest holds the search fault and rebuild tests against a real OpenSearch
// (deploy/opensearch-dev): the engine blackholed, refused and slow behind an in-process
// toxiproxy; one node of a three-node cluster killed during bulk indexing; and a reindex under
// concurrent writes. It has no code besides its tests.
package faulttest

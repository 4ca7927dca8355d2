// Package ranking holds the ranking regression set: a fixed corpus of short citizen reports
// (testdata/corpus.json, written for this purpose), queries with the ids a researcher expects
// (testdata/queries.json), and per engine recall@5, recall@10 and MRR in
// testdata/ranking.golden. The test indexes the corpus into every engine (embedded always;
// OpenSearch and Elasticsearch with INFOWORK_TEST_OPENSEARCH_URL, required in CI) and fails
// when a metric drops more than 0.02 below the golden value. Regenerate the golden file with
// `go test ./search/ranking -update` and review the diff: it shows every query's ranks.
package ranking

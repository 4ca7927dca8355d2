// Package savedsearch keeps saved searches (private to their owner or shared with every user),
// usable as dashboard panels and as the seed of a periodical issue, and subscriptions that notify
// a user when a newly indexed record matches.
//
// A saved search is the URL query of the search page (q, unit, category, district, month,
// classification, state, archived, endorsed, from, to, sort; ParseValues is the one parser of
// those parameters for every caller), so running it is opening /search with it, within the reader's
// own clearance. Subscriptions are checked by the indexer as each batch commits
// (indexer.Options.OnIndexed → Notifier.OnIndexed): the query is parsed with search.ParseQuery
// and matched against the document in Go with the same analyzers the engines use, and only for
// subscribers whose access scope (access.CanRead) covers the record. Nothing re-runs queries on a
// timer.
package savedsearch

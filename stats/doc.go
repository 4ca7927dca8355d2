// Package stats answers the statistics questions of the office (统计): per unit, district,
// category or month, how many reports were received, submitted, adopted, merged into another
// (综合采用) and returned, the adoption rate, endorsements by leader level, late and missed
// solicitations and the time to adoption; and what the city is reporting about (topic trends).
//
// Questions about documents (how many records per unit, category, district, month) are answered
// by the search engine's facets within the caller's scope; questions about workflow history
// (adopted, returned, time to adoption) by the database under the same access predicate and
// row-level security. Both count the same records, and a test checks that they agree.
package stats

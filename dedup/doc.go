// Package dedup finds near-duplicate reports: several units reporting the same event, or one
// unit reporting it twice. It answers "which visible reports look like this one" at intake (a
// text not yet saved) and on the record page and editors' queue (a saved report).
//
// Method (decided in docs/editorial.md): MinHash over character shingles. The title and body are
// normalized (letters and digits only, full-width folded, lower case), cut into overlapping
// 4-character shingles, and each report keeps a bottom-k sketch (the 128 smallest 63-bit FNV
// hashes of its shingles) and its number of distinct shingles in submission_fingerprints. Two
// sketches give an estimate of the Jaccard similarity and, with the counts, of containment
// (one report a shortened copy of the other). Character shingles need no dictionary and are
// not thrown off when jieba cuts the same phrase differently in two contexts; the search
// engine's more-like-this was not used because it ranks by shared rare terms (good for "related
// reading", poor at telling a copy from a report on the same topic) and because hints must work
// when the engine is down.
//
// Candidates come from the database under access.Predicate (a unit sees hints only among its own
// unit's reports, the office among all it may read), limited to a window of days around the
// report's date; missing or outdated fingerprints are computed on the way and stored.
package dedup

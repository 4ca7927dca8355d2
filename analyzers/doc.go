// Package analyzers turns Chinese text into the terms every search engine indexes and queries, so
// that analysis is identical whether the embedded Bleve index, Elasticsearch or OpenSearch serves
// the search.
//
// # Pipeline
//
//  1. Normalize: Unicode NFKC (full-width letters, digits and punctuation become half-width,
//     U+3000 becomes a space), lower case, every whitespace or control character becomes a
//     space, and traditional characters are folded to simplified ones (OpenCC's t2s character
//     table, one character for one, so offsets stay exact): 發展改革委 finds 发展改革委.
//  2. Segment with jieba (gojieba/cppjieba, HMM on): Index uses search mode (every word plus the
//     dictionary words of two or three characters inside it: 北京市委 yields 北京), Query uses
//     precise mode (南京市长江大桥 → 南京市/长江大桥, never 市长).
//  3. Glue runs of Latin letters and digits that jieba split ("pm2.5", "5g", "12345") back into
//     one token; a leading or trailing "." is punctuation. In Index mode such a run inside a
//     bigger word (12345 in 12345热线) is also emitted as a sub-word.
//  4. Drop punctuation, whitespace and stop words (jieba's stop_words.utf8; tokens made only of
//     digits are never stop words).
//
// # Offsets and positions
//
// Token.Start and Token.End are byte offsets in the ORIGINAL text, so highlights are drawn on
// what the user wrote (no inserted spaces, full-width characters intact), even though
// normalization changes byte lengths.
//
// Positions count the precise-mode words of the text (after filtering), starting at 0. In search
// mode every sub-word carries the position of the precise word that contains it. A phrase query
// therefore works in both directions: the query's precise words at consecutive positions match
// the indexed full words at consecutive positions, and a single query word matches a sub-word at
// its parent's position. A stop word does not take a position (and its sub-words are dropped), so
// "人民的政府" and "人民政府" give the same positions.
//
// # Dictionaries
//
// The jieba dictionaries (jieba.dict, hmm_model, idf, stop_words) and our government-term user
// dictionary (dict/user.dict.utf8) are embedded gzip-compressed and extracted on New into
// Options.CacheDir under content-hashed names (temp file + rename, so concurrent processes are
// safe). A binary copied to a machine without the Go module cache still segments. Options.UserDict
// adds a site dictionary that Reload re-reads; user words are normalized like text before they are
// handed to jieba.
package analyzers

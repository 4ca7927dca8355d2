package embedded

import (
	"context"
	"sort"
	"unicode/utf8"

	index "github.com/blevesearch/bleve_index_api"

	"infowork/analyzers"
)

// Snippets and titles without re-segmenting: the title and the body are indexed with term vectors (byte offsets of every
// token, from the same analyzer), so the places to mark are read from the index instead of
// running jieba over the stored text of every hit. That re-segmentation was a third of the CPU
// time of a search (BENCHMARKS.md, docs/benchmarks.md). Rendering is analyzers.RenderHighlight,
// the second half of analyzers.Highlight, and a test checks both give the same snippet.

// highlights returns the highlighted text of field for each hit (ids[i], texts[i]) and the
// query terms, cut to maxRunes (0: whole). A hit whose vectors cannot be read (the index
// changed since the search) falls back to analyzers.Highlight.
func (e *Engine) highlights(ctx context.Context, field string, ids, texts []string, terms []string, maxRunes int) []string {
	out := make([]string, len(ids))
	matches := make([][]analyzers.Span, len(ids))
	ok := make([]bool, len(ids))
	if len(terms) > 0 && len(ids) > 0 {
		e.vectorSpans(ctx, field, ids, texts, terms, matches, ok)
	}
	for i := range ids {
		if len(terms) > 0 && !ok[i] {
			out[i] = e.an.Highlight(texts[i], terms, maxRunes)
			continue
		}
		out[i] = analyzers.RenderHighlight(texts[i], matches[i], maxRunes)
	}
	return out
}

func (e *Engine) vectorSpans(ctx context.Context, field string, ids, texts []string, terms []string, matches [][]analyzers.Span, ok []bool) {
	adv, err := e.idx.Advanced()
	if err != nil {
		return
	}
	r, err := adv.Reader()
	if err != nil {
		return
	}
	defer r.Close()
	type doc struct {
		i   int
		iid index.IndexInternalID
	}
	docs := make([]doc, 0, len(ids))
	for i, id := range ids {
		iid, err := r.InternalID(id)
		if err != nil || iid == nil {
			continue
		}
		docs = append(docs, doc{i, iid})
	}
	sort.Slice(docs, func(a, b int) bool { return docs[a].iid.Compare(docs[b].iid) < 0 })
	seen := map[string]bool{}
	for _, t := range terms {
		if seen[t] {
			continue
		}
		seen[t] = true
		tfr, err := r.TermFieldReader(ctx, []byte(t), field, false, false, true)
		if err != nil {
			return
		}
		for _, d := range docs {
			tfd, err := tfr.Advance(d.iid, nil)
			if err != nil {
				_ = tfr.Close()
				return
			}
			if tfd == nil {
				break
			}
			if !tfd.ID.Equals(d.iid) {
				continue
			}
			for _, v := range tfd.Vectors {
				matches[d.i] = append(matches[d.i], analyzers.Span{Start: int(v.Start), End: int(v.End), Term: t}) // #nosec G115 -- byte offsets within one body
			}
		}
		_ = tfr.Close()
	}
	for _, d := range docs {
		ok[d.i] = validSpans(texts[d.i], matches[d.i])
	}
}

// validSpans reports whether every span lies on rune boundaries inside body (a text replaced
// since the search could have other offsets).
func validSpans(body string, ms []analyzers.Span) bool {
	for _, m := range ms {
		if m.Start < 0 || m.End > len(body) || m.Start >= m.End || !utf8.RuneStart(body[m.Start]) || (m.End < len(body) && !utf8.RuneStart(body[m.End])) {
			return false
		}
	}
	return true
}

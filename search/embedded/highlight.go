package embedded

import (
	"context"
	"sort"
	"unicode/utf8"

	index "github.com/blevesearch/bleve_index_api"

	"infowork/analyzers"
)

// Snippets and titles without re-segmenting: the title and the body are indexed with term
// vectors (byte offsets of every token, from the same analyzer), so the places to mark are read
// from the index instead of running jieba over the stored text of every hit. That
// re-segmentation was a third of the CPU time of a search (BENCHMARKS.md, docs/benchmarks.md).
// Rendering is analyzers.RenderHighlight, the second half of analyzers.Highlight, and a test
// checks both give the same result.

// highlightField is one text field of the hits to highlight: texts[i] belongs to the i-th hit,
// cut to maxRunes (0: whole); out receives the HTML.
type highlightField struct {
	name     string
	texts    []string
	maxRunes int
	out      []string
}

// highlight fills each field's out for the hits ids and the query terms, reading the index
// once for all fields. A hit whose vectors cannot be read (the index changed since the search)
// falls back to analyzers.Highlight.
func (e *Engine) highlight(ctx context.Context, ids []string, terms []string, fields ...*highlightField) {
	matches := make([][][]analyzers.Span, len(fields))
	ok := make([][]bool, len(fields))
	for f := range fields {
		matches[f], ok[f] = make([][]analyzers.Span, len(ids)), make([]bool, len(ids))
	}
	if len(terms) > 0 && len(ids) > 0 {
		e.vectorSpans(ctx, ids, terms, fields, matches, ok)
	}
	for f, hf := range fields {
		hf.out = make([]string, len(ids))
		for i := range ids {
			if len(terms) > 0 && !ok[f][i] {
				hf.out[i] = e.an.Highlight(hf.texts[i], terms, hf.maxRunes)
				continue
			}
			hf.out[i] = analyzers.RenderHighlight(hf.texts[i], matches[f][i], hf.maxRunes)
		}
	}
}

// vectorSpans reads the offsets of the terms in each field of each hit from one index reader,
// resolving the hits' internal ids once.
func (e *Engine) vectorSpans(ctx context.Context, ids, terms []string, fields []*highlightField, matches [][][]analyzers.Span, ok [][]bool) {
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
	for f, hf := range fields {
		seen := map[string]bool{}
		for _, t := range terms {
			if seen[t] {
				continue
			}
			seen[t] = true
			tfr, err := r.TermFieldReader(ctx, []byte(t), hf.name, false, false, true)
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
					matches[f][d.i] = append(matches[f][d.i], analyzers.Span{Start: int(v.Start), End: int(v.End), Term: t}) // #nosec G115 -- byte offsets within one text
				}
			}
			_ = tfr.Close()
		}
		for _, d := range docs {
			ok[f][d.i] = validSpans(hf.texts[d.i], matches[f][d.i])
		}
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

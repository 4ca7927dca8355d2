package embedded

import (
	"context"
	"html"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	index "github.com/blevesearch/bleve_index_api"
)

// Snippets without re-segmenting: the body is indexed with term vectors (byte offsets of every
// token, from the same analyzer), so the places to mark are read from the index instead of
// running jieba over the stored body of every hit. That re-segmentation was a third of the CPU
// time of a search (BENCHMARKS.md, docs/benchmarks.md). The window rules are those of
// analyzers.Highlight, and a test checks both give the same snippet.

// span is one token to mark: original byte offsets and its term.
type span struct {
	s, e int
	term string
}

// bodySnippets returns the snippet of each hit body (ids[i], bodies[i]) for the query terms.
// A hit whose vectors cannot be read (the index changed since the search) falls back to
// analyzers.Highlight.
func (e *Engine) bodySnippets(ctx context.Context, ids, bodies []string, terms []string) []string {
	out := make([]string, len(ids))
	matches := make([][]span, len(ids))
	ok := make([]bool, len(ids))
	if len(terms) > 0 && len(ids) > 0 {
		e.vectorSpans(ctx, ids, bodies, terms, matches, ok)
	}
	for i := range ids {
		if len(terms) > 0 && !ok[i] {
			out[i] = e.an.Highlight(bodies[i], terms, snippetRunes)
			continue
		}
		out[i] = renderHighlight(bodies[i], matches[i], snippetRunes)
	}
	return out
}

func (e *Engine) vectorSpans(ctx context.Context, ids, bodies []string, terms []string, matches [][]span, ok []bool) {
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
		tfr, err := r.TermFieldReader(ctx, []byte(t), fBody, false, false, true)
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
				matches[d.i] = append(matches[d.i], span{int(v.Start), int(v.End), t}) // #nosec G115 -- byte offsets within one body
			}
		}
		_ = tfr.Close()
	}
	for _, d := range docs {
		ok[d.i] = validSpans(bodies[d.i], matches[d.i])
	}
}

// validSpans reports whether every span lies on rune boundaries inside body (a body replaced
// since the search could have other offsets).
func validSpans(body string, ms []span) bool {
	for _, m := range ms {
		if m.s < 0 || m.e > len(body) || m.s >= m.e || !utf8.RuneStart(body[m.s]) || (m.e < len(body) && !utf8.RuneStart(body[m.e])) {
			return false
		}
	}
	return true
}

// sentenceLookback is analyzers.Highlight's look-back for a sentence start (runes).
const sentenceLookback = 40

// renderHighlight is analyzers.Highlight after its segmentation step: HTML-escaped text with
// <mark> around the spans (merged when they overlap or touch), cut to a window of at most
// maxRunes runes holding the most distinct matched terms.
func renderHighlight(text string, matches []span, maxRunes int) string {
	sort.Slice(matches, func(i, j int) bool {
		if matches[i].s != matches[j].s {
			return matches[i].s < matches[j].s
		}
		return matches[i].e > matches[j].e
	})
	from, to := 0, len(text)
	prefix, suffix := "", ""
	if maxRunes > 0 && utf8.RuneCountInString(text) > maxRunes {
		offs := make([]int, 0, len(text)+1)
		for i := range text {
			offs = append(offs, i)
		}
		offs = append(offs, len(text))
		runeAt := func(b int) int { return sort.SearchInts(offs, b) }
		n := len(offs) - 1

		start := 0
		if len(matches) > 0 {
			best, bestCount := 0, -1
			for i, m := range matches {
				ws := runeAt(m.s)
				limit := offs[min(ws+maxRunes, n)]
				seen := map[string]struct{}{}
				for _, m2 := range matches[i:] {
					if m2.e > limit {
						break
					}
					seen[m2.term] = struct{}{}
				}
				if len(seen) > bestCount {
					best, bestCount = i, len(seen)
				}
			}
			first := runeAt(matches[best].s)
			start = first
			for r := first; r >= 0 && first-r <= sentenceLookback; r-- {
				if r == 0 {
					start = 0
					break
				}
				prev, _ := utf8.DecodeRuneInString(text[offs[r-1]:])
				if strings.ContainsRune("。！？；!?;\n", prev) {
					start = r
					break
				}
			}
			for start < first {
				r, _ := utf8.DecodeRuneInString(text[offs[start]:])
				if !unicode.IsSpace(r) {
					break
				}
				start++
			}
			if start > 0 && start == first {
				if prev, _ := utf8.DecodeRuneInString(text[offs[start-1]:]); !strings.ContainsRune("。！？；!?;\n", prev) {
					prefix = "…"
				}
			}
		}
		end := min(start+maxRunes, n)
		from, to = offs[start], offs[end]
		if end < n {
			suffix = "…"
		}
	}

	var b strings.Builder
	b.Grow(to - from + 32)
	b.WriteString(prefix)
	pos := from
	for i := 0; i < len(matches); {
		s, e := matches[i].s, matches[i].e
		i++
		for i < len(matches) && matches[i].s <= e {
			e = max(e, matches[i].e)
			i++
		}
		s, e = max(s, from), min(e, to)
		if s >= e || s < pos {
			continue
		}
		b.WriteString(html.EscapeString(text[pos:s]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(text[s:e]))
		b.WriteString("</mark>")
		pos = e
	}
	if pos < to {
		b.WriteString(html.EscapeString(text[pos:to]))
	}
	b.WriteString(suffix)
	return b.String()
}

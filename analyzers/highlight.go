package analyzers

import (
	"html"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sentenceLookback is how far (in runes) Highlight looks back from the first match for a
// sentence start before it falls back to starting at the match with "…".
const sentenceLookback = 40

// Highlight returns HTML-escaped original text with <mark>…</mark> around every index token
// whose Term is in terms (normalized query terms, e.g. from Query); overlapping and adjacent
// marks are merged. With maxRunes > 0 it returns a window of at most maxRunes runes (plus "…"
// where text was cut) holding the most distinct matched terms, starting at a sentence start when
// one lies within 40 runes before the first match. Without matches it returns the start of text.
func (a *Analyzer) Highlight(text string, terms []string, maxRunes int) string {
	want := make(map[string]struct{}, len(terms))
	for _, t := range terms {
		want[t] = struct{}{}
	}
	var matches []Span
	if len(want) > 0 {
		for _, tok := range a.Index(text) {
			if _, ok := want[tok.Term]; ok && tok.Start < tok.End {
				matches = append(matches, Span{tok.Start, tok.End, tok.Term})
			}
		}
	}
	return RenderHighlight(text, matches, maxRunes)
}

// Span is one token of text to mark: original byte offsets and its normalized term.
type Span struct {
	Start, End int
	Term       string
}

// RenderHighlight is Highlight after segmentation, for callers that already know where the
// matched tokens are (the embedded engine reads them from the index's term vectors): the
// HTML-escaped text with <mark> around the spans (merged when they overlap or touch), cut to
// the window rules described at Highlight. It sorts matches in place.
func RenderHighlight(text string, matches []Span, maxRunes int) string {
	sort.Slice(matches, func(i, j int) bool {
		if matches[i].Start != matches[j].Start {
			return matches[i].Start < matches[j].Start
		}
		return matches[i].End > matches[j].End
	})

	from, to := 0, len(text) // byte window
	prefix, suffix := "", ""
	if maxRunes > 0 && utf8.RuneCountInString(text) > maxRunes {
		// offs[i] is the byte offset of rune i; offs[n] == len(text).
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
				ws := runeAt(m.Start)
				limit := offs[min(ws+maxRunes, n)]
				seen := map[string]struct{}{}
				for _, m2 := range matches[i:] {
					if m2.End > limit {
						break
					}
					seen[m2.Term] = struct{}{}
				}
				if len(seen) > bestCount {
					best, bestCount = i, len(seen)
				}
			}
			first := runeAt(matches[best].Start)
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
			// Skip blanks at a sentence start, never past the match.
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
		s, e := matches[i].Start, matches[i].End
		i++
		for i < len(matches) && matches[i].Start <= e {
			e = max(e, matches[i].End)
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

package draft

import (
	"unicode"
)

// MinSpanRunes is the shortest run of identical characters that counts as taken from a
// source: shorter runs are common phrases ("近日，", "街道办事处").
const MinSpanRunes = 8

// MinCreditRunes is how much of a report's text must be in the adopted draft for its unit to be
// credited.
const MinCreditRunes = 12

// Span is a piece of a draft's text taken from a source: rune offsets in the draft's body text
// [DstStart, DstEnd) and in the source's [SrcStart, SrcEnd).
type Span struct {
	SubmissionID     int64
	DstStart, DstEnd int
	SrcStart, SrcEnd int
	Text             string // the draft's text of the span
}

// Runes is the length of the span in the draft.
func (s Span) Runes() int { return s.DstEnd - s.DstStart }

// comparable folds what an editor's reformatting changes without changing the words:
// full-width ASCII, case, and white space (which is skipped: equal reports reflowed match).
func fold(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		r -= 0xFEE0
	}
	return unicode.ToLower(r)
}

type folded struct {
	runes []rune // folded, white space removed
	pos   []int  // index in the original rune slice of each folded rune
}

func foldText(rs []rune) folded {
	f := folded{runes: make([]rune, 0, len(rs)), pos: make([]int, 0, len(rs))}
	for i, r := range rs {
		if unicode.IsSpace(r) || r == '\u3000' {
			continue
		}
		f.runes = append(f.runes, fold(r))
		f.pos = append(f.pos, i)
	}
	return f
}

// FindSpans finds the maximal runs of at least MinSpanRunes characters that draft and source
// have in common, scanning the draft left to right and taking at each point the longest match
// in the source (k-gram index of the source, then extension).
func FindSpans(draftText, sourceText string, submissionID int64) []Span {
	drs, srs := []rune(draftText), []rune(sourceText)
	d, s := foldText(drs), foldText(srs)
	k := MinSpanRunes
	if len(d.runes) < k || len(s.runes) < k {
		return nil
	}
	index := map[string][]int{}
	for i := 0; i+k <= len(s.runes); i++ {
		key := string(s.runes[i : i+k])
		index[key] = append(index[key], i)
	}
	var out []Span
	for i := 0; i+k <= len(d.runes); {
		starts := index[string(d.runes[i:i+k])]
		best, bestLen := -1, 0
		for _, j := range starts {
			n := k
			for i+n < len(d.runes) && j+n < len(s.runes) && d.runes[i+n] == s.runes[j+n] {
				n++
			}
			if n > bestLen {
				best, bestLen = j, n
			}
			if len(starts) > 64 && bestLen > 4*k { // long repeated text: good enough
				break
			}
		}
		if best < 0 {
			i++
			continue
		}
		ds, de := d.pos[i], d.pos[i+bestLen-1]+1
		ss, se := s.pos[best], s.pos[best+bestLen-1]+1
		out = append(out, Span{SubmissionID: submissionID, DstStart: ds, DstEnd: de, SrcStart: ss, SrcEnd: se, Text: string(drs[ds:de])})
		i += bestLen
	}
	return out
}

// Coverage is how many runes of the draft the spans cover (overlaps counted once).
func Coverage(spans []Span) int {
	covered := map[int]bool{}
	for _, s := range spans {
		for i := s.DstStart; i < s.DstEnd; i++ {
			covered[i] = true
		}
	}
	return len(covered)
}

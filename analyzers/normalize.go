package analyzers

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normText is normalized text with, for every byte of it, the original byte span it came from.
type normText struct {
	s string
	// start[i], end[i]: the original byte range of the normalization segment that produced
	// byte i of s. Both are rune boundaries of the original text.
	start, end []int
}

// normalize applies NFKC, lower case, traditional → simplified folding and maps whitespace and control characters to ' '.
// Segments of the NFKC iterator keep their original span so offsets can be mapped back.
func normalize(text string) normText {
	var b strings.Builder
	b.Grow(len(text))
	start := make([]int, 0, len(text))
	end := make([]int, 0, len(text))
	var it norm.Iter
	it.InitString(norm.NFKC, text)
	var buf [utf8.UTFMax]byte
	for !it.Done() {
		from := it.Pos()
		seg := it.Next()
		to := it.Pos()
		for len(seg) > 0 {
			r, size := utf8.DecodeRune(seg)
			seg = seg[size:]
			switch {
			case r == utf8.RuneError && size <= 1:
				r = utf8.RuneError // invalid input byte: keep the output valid UTF-8
			case unicode.IsSpace(r) || unicode.IsControl(r):
				r = ' '
			default:
				r = simplify(unicode.ToLower(r))
			}
			n := utf8.EncodeRune(buf[:], r)
			b.Write(buf[:n])
			for range n {
				start = append(start, from)
				end = append(end, to)
			}
		}
	}
	// A long decomposition comes in several pieces; all but the last report no progress
	// (Pos unchanged), so they get the span of the piece that completes the segment.
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] <= start[i] {
			if i+1 < len(end) && start[i+1] == start[i] {
				end[i] = end[i+1]
			} else {
				end[i] = len(text)
			}
		}
	}
	return normText{s: b.String(), start: start, end: end}
}

// orig maps the normalized byte range [s, e) back to the original text.
func (n normText) orig(s, e int) (int, int) {
	if s >= e || e > len(n.s) {
		return 0, 0
	}
	return n.start[s], n.end[e-1]
}

// Normalize returns text as the analyzer sees it before segmentation: NFKC (full-width →
// half-width), lower case, traditional characters folded to simplified, whitespace and control
// characters as plain spaces.
func (a *Analyzer) Normalize(text string) string { return normalize(text).s }

package draft_test

import (
	"strings"
	"testing"
	"unicode"

	"pgregory.net/rapid"

	"infowork/draft"
)

// A draft made of pieces of a source (at least MinSpanRunes long, possibly reflowed with spaces)
// and the editor's own words (runes the source does not contain) has spans that: lie inside
// both texts, say the same thing in both (spacing aside), do not overlap in the draft, and cover
// every copied piece.
func TestFindSpansProperties(t *testing.T) {
	source := []rune("6月12日凌晨芙蓉区东湖街道遭遇短时强降雨辖区12处易涝点积水街道组织网格员连夜排水转移群众46人设置警示标志20处疏通排水管网3.2公里")
	own := []rune("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥") // not in the source
	rapid.Check(t, func(t *rapid.T) {
		var b strings.Builder
		var copied []string
		for range rapid.IntRange(1, 5).Draw(t, "pieces") {
			if rapid.Bool().Draw(t, "own") {
				n := rapid.IntRange(1, 6).Draw(t, "ownLen")
				for range n {
					b.WriteRune(own[rapid.IntRange(0, len(own)-1).Draw(t, "ownRune")])
				}
				continue
			}
			start := rapid.IntRange(0, len(source)-draft.MinSpanRunes).Draw(t, "start")
			end := rapid.IntRange(start+draft.MinSpanRunes, len(source)).Draw(t, "end")
			piece := string(source[start:end])
			copied = append(copied, piece)
			if rapid.Bool().Draw(t, "reflow") { // an editor's line break in the middle
				rs := []rune(piece)
				k := rapid.IntRange(1, len(rs)-1).Draw(t, "at")
				piece = string(rs[:k]) + "\n " + string(rs[k:])
			}
			b.WriteString(piece)
			b.WriteRune(own[0]) // pieces never run into each other
		}
		dtext := b.String()
		spans := draft.FindSpans(dtext, string(source), 7)
		drs := []rune(dtext)
		strip := func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					return -1
				}
				return r
			}, s)
		}
		last := 0
		for _, s := range spans {
			if s.DstStart < last || s.DstEnd > len(drs) || s.SrcEnd > len(source) || s.SubmissionID != 7 {
				t.Fatalf("span out of place: %+v (last end %d)", s, last)
			}
			last = s.DstEnd
			if strip(string(drs[s.DstStart:s.DstEnd])) != strip(string(source[s.SrcStart:s.SrcEnd])) {
				t.Fatalf("span says different things: %q vs %q", string(drs[s.DstStart:s.DstEnd]), string(source[s.SrcStart:s.SrcEnd]))
			}
			if len([]rune(strip(s.Text))) < draft.MinSpanRunes {
				t.Fatalf("span shorter than the minimum: %q", s.Text)
			}
		}
		covered := ""
		for _, s := range spans {
			covered += strip(s.Text) + "|"
		}
		for _, p := range copied {
			if !strings.Contains(covered, p) && !coveredAcross(spans, p) {
				t.Fatalf("copied piece %q not covered by spans %q", p, covered)
			}
		}
	})
}

// coveredAcross: a piece may be covered by a longer span that began in an earlier piece when
// the source continues there too; it is covered when its text is inside the spans' text joined.
func coveredAcross(spans []draft.Span, p string) bool {
	var all strings.Builder
	for _, s := range spans {
		all.WriteString(strings.Join(strings.Fields(s.Text), ""))
	}
	return strings.Contains(all.String(), p)
}

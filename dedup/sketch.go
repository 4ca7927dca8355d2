package dedup

import (
	"hash/fnv"
	"slices"
	"unicode"
)

// ShingleRunes is the length of a shingle, in runes of normalized text. Four characters is
// about two Chinese words: long enough that unrelated messages on the same topic share few
// shingles ("小区物业" appears everywhere, "物业在小区门口" does not), short enough that a
// few changed characters break only a few shingles.
const ShingleRunes = 4

// SketchSize is k of the bottom-k MinHash sketch: the k smallest shingle hashes are kept. A
// message shorter than k shingles is compared exactly.
const SketchSize = 128

// Fingerprint is what is stored per report: the sketch and the number of distinct shingles.
type Fingerprint struct {
	Sketch   []int64 // ascending, distinct
	Shingles int
}

// normalize keeps letters and digits, folds full-width ASCII and case: punctuation, spacing and
// layout do not make two reports different.
func normalize(s string) []rune {
	out := make([]rune, 0, len(s)/2)
	for _, r := range s {
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			r -= 0xFEE0
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToLower(r))
		}
	}
	return out
}

// Sketch fingerprints a report's title and body.
func Sketch(title, body string) Fingerprint {
	rs := normalize(title + "\n" + body)
	if len(rs) == 0 {
		return Fingerprint{Sketch: []int64{}}
	}
	n := ShingleRunes
	if len(rs) < n {
		n = len(rs)
	}
	seen := make(map[int64]struct{}, len(rs))
	buf := make([]byte, 0, 4*n)
	for i := 0; i+n <= len(rs); i++ {
		buf = buf[:0]
		for _, r := range rs[i : i+n] {
			buf = append(buf, byte(r>>24&0xff), byte(r>>16&0xff), byte(r>>8&0xff), byte(r&0xff))
		}
		h := fnv.New64a()
		_, _ = h.Write(buf)
		seen[int64(h.Sum64()>>1)] = struct{}{} // non-negative, so SQL bigint order agrees
	}
	all := make([]int64, 0, len(seen))
	for h := range seen {
		all = append(all, h)
	}
	slices.Sort(all)
	if len(all) > SketchSize {
		all = all[:SketchSize:SketchSize]
	}
	return Fingerprint{Sketch: all, Shingles: len(seen)}
}

// Score compares two fingerprints.
type Score struct {
	// Jaccard is the estimated |A∩B| / |A∪B| of the two shingle sets (bottom-k estimator).
	Jaccard float64
	// Containment is the estimated |A∩B| / min(|A|,|B|): high when one report is a shortened
	// or extended copy of the other (a unit that reports the same event in two lines).
	Containment float64
}

// Compare estimates the similarity of a and b.
func Compare(a, b Fingerprint) Score {
	if len(a.Sketch) == 0 || len(b.Sketch) == 0 {
		return Score{}
	}
	// Bottom-k of the union: merge both sketches, keep the k smallest, count those in both.
	k := SketchSize
	if a.Shingles < k && b.Shingles < k { // both exact: the union is small
		k = a.Shingles + b.Shingles
	}
	i, j, taken, both := 0, 0, 0, 0
	for taken < k && (i < len(a.Sketch) || j < len(b.Sketch)) {
		switch {
		case j >= len(b.Sketch) || (i < len(a.Sketch) && a.Sketch[i] < b.Sketch[j]):
			i++
		case i >= len(a.Sketch) || b.Sketch[j] < a.Sketch[i]:
			j++
		default:
			both++
			i++
			j++
		}
		taken++
	}
	if taken == 0 {
		return Score{}
	}
	jac := float64(both) / float64(taken)
	inter := jac * float64(a.Shingles+b.Shingles) / (1 + jac)
	small := min(a.Shingles, b.Shingles)
	cont := 0.0
	if small >= MinContainmentShingles {
		cont = min(1, inter/float64(small))
	}
	return Score{Jaccard: jac, Containment: cont}
}

// Thresholds of a hint; measured on the civic-messages corpus (dedup_corpus_test.go): no pair of
// distinct real messages in the sample reaches them, every perturbed copy does.
const (
	MinJaccard     = 0.30
	MinContainment = 0.55
)

// MinContainmentShingles: containment is not counted for a text this short (a one-line note
// is "contained" in any long report that shares its phrase).
const MinContainmentShingles = 40

// Near reports whether a score is a near-duplicate hint.
func (s Score) Near() bool { return s.Jaccard >= MinJaccard || s.Containment >= MinContainment }

// Value orders hints: the stronger of the two measures.
func (s Score) Value() float64 { return max(s.Jaccard, s.Containment) }

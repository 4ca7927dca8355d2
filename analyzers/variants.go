package analyzers

import (
	"sync"
	"unicode/utf8"

	"github.com/longbridgeapp/opencc"
)

// Traditional characters are folded to simplified ones character by character, using OpenCC's
// t2s tables. Only one-to-one character mappings are used (no phrase conversion), so the
// normalization stays a per-rune map and offsets into the original text stay exact; jieba's
// dictionaries are simplified, so folding before segmentation also segments traditional text
// well. A character OpenCC maps ambiguously keeps OpenCC's first choice.
var t2s = sync.OnceValue(func() map[rune]rune {
	m := map[rune]rune{}
	cc, err := opencc.New("t2s")
	if err != nil {
		return m // no folding rather than no search; a test asserts the table is loaded
	}
	// CJK Extension A and the URO block hold every traditional character in practical use.
	for r := rune(0x3400); r <= 0x9FFF; r++ {
		out, err := cc.Convert(string(r))
		if err != nil || utf8.RuneCountInString(out) != 1 {
			continue
		}
		if o, _ := utf8.DecodeRuneInString(out); o != r && o != utf8.RuneError {
			m[r] = o
		}
	}
	return m
})

// simplify returns the simplified form of a traditional character, or r itself.
func simplify(r rune) rune {
	if r < 0x3400 || r > 0x9FFF {
		return r
	}
	if s, ok := t2s()[r]; ok {
		return s
	}
	return r
}

package analyzers

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"unicode"
)

// maxAlternatives bounds the alternatives Expand returns for one query word, so a text made of
// many synonym words cannot blow up into a huge engine query.
const maxAlternatives = 16

// synTable maps the precise-mode token sequence of a synonym (terms joined by synKeySep) to the
// token sequences of its group, itself included.
type synTable struct {
	groups  int
	alts    map[string][][]string
	longest int // most tokens of any key
}

const synKeySep = "\x1f"

// parseSynonyms reads a synonym file: one group per line, words separated by commas (ASCII or
// full-width, or 、) or whitespace, "#" starts a comment. Words are normalized like text; a
// group needs at least two different words.
func parseSynonyms(src []byte) [][]string {
	var groups [][]string
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || r == '，' || r == '、' || unicode.IsSpace(r)
		})
		var g []string
		seen := map[string]bool{}
		for _, f := range fields {
			w := strings.TrimSpace(normalize(f).s)
			if w != "" && !seen[w] {
				seen[w] = true
				g = append(g, w)
			}
		}
		if len(g) >= 2 {
			groups = append(groups, g)
		}
	}
	return groups
}

// readSynonyms returns the groups of the embedded synonym file and of Options.Synonyms.
func (a *Analyzer) readSynonyms() ([][]string, error) {
	embedded, err := dictFS.ReadFile("dict/" + dictSynonyms)
	if err != nil {
		return nil, fmt.Errorf("read embedded synonyms: %w", err)
	}
	groups := parseSynonyms(embedded)
	if a.opts.Synonyms != "" {
		extra, err := os.ReadFile(a.opts.Synonyms)
		if err != nil {
			return nil, fmt.Errorf("read synonyms: %w", err)
		}
		groups = append(groups, parseSynonyms(extra)...)
	}
	return groups, nil
}

// buildSynonyms segments every word of groups with the current dictionary. A word that appears
// in several groups gets the union of their words.
func (a *Analyzer) buildSynonyms(groups [][]string) *synTable {
	t := &synTable{groups: len(groups), alts: map[string][][]string{}}
	for _, g := range groups {
		var seqs [][]string
		for _, w := range g {
			if seq := tokenTerms(a.Query(w)); len(seq) > 0 {
				seqs = append(seqs, seq)
			}
		}
		for _, seq := range seqs {
			key := strings.Join(seq, synKeySep)
			for _, alt := range seqs {
				if !containsSeq(t.alts[key], alt) {
					t.alts[key] = append(t.alts[key], alt)
				}
			}
			t.longest = max(t.longest, len(seq))
		}
	}
	// A word alone in its group after segmentation (two spellings that segment alike) has no
	// alternative.
	for k, alts := range t.alts {
		if len(alts) < 2 {
			delete(t.alts, k)
		}
	}
	return t
}

func tokenTerms(toks []Token) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Term
	}
	return out
}

func containsSeq(seqs [][]string, s []string) bool {
	for _, x := range seqs {
		if strings.Join(x, synKeySep) == strings.Join(s, synKeySep) {
			return true
		}
	}
	return false
}

// Expand analyzes a query word or phrase like Query and returns it together with its synonym
// variants: each alternative is a precise-mode token sequence with positions 0, 1, … . The first
// alternative is always Query(text) itself; every run of consecutive tokens that spells a word
// of the synonym dictionary is replaced by each other word of its group (longest run first, at
// most 16 alternatives in all). An engine ORs the alternatives and matches a multi-token one as
// a phrase. Tokens of a substituted word carry the offsets of the run they replace. Expand
// returns nil when text has no tokens.
func (a *Analyzer) Expand(text string) [][]Token {
	toks := a.Query(text)
	if len(toks) == 0 {
		return nil
	}
	t := a.syn.Load()
	if t == nil || len(t.alts) == 0 {
		return [][]Token{toks}
	}
	// Each slot is one original token or one synonym run with its options.
	type slot struct{ opts [][]Token }
	var slots []slot
	for i := 0; i < len(toks); {
		matched := 0
		var alts [][]string
		for n := min(t.longest, len(toks)-i); n >= 1; n-- {
			key := strings.Join(tokenTerms(toks[i:i+n]), synKeySep)
			if as, ok := t.alts[key]; ok {
				matched, alts = n, as
				break
			}
		}
		if matched == 0 {
			slots = append(slots, slot{[][]Token{toks[i : i+1]}})
			i++
			continue
		}
		run := toks[i : i+matched]
		opts := [][]Token{run}
		for _, alt := range alts {
			if strings.Join(alt, synKeySep) == strings.Join(tokenTerms(run), synKeySep) {
				continue
			}
			seq := make([]Token, len(alt))
			for j, term := range alt {
				seq[j] = Token{Term: term, Start: run[0].Start, End: run[len(run)-1].End}
			}
			opts = append(opts, seq)
		}
		slots = append(slots, slot{opts})
		i += matched
	}
	out := [][]Token{nil}
	for _, s := range slots {
		if len(s.opts) == 1 || len(out)*len(s.opts) > maxAlternatives {
			for k := range out {
				out[k] = append(out[k], s.opts[0]...)
			}
			continue
		}
		next := make([][]Token, 0, len(out)*len(s.opts))
		for _, opt := range s.opts {
			for _, prefix := range out {
				seq := append(append([]Token(nil), prefix...), opt...)
				next = append(next, seq)
			}
		}
		out = next
	}
	for _, seq := range out {
		for p := range seq {
			seq[p].Position = p
		}
	}
	return out
}

// SynonymGroups reports how many synonym groups are loaded (for logs and tests).
func (a *Analyzer) SynonymGroups() int {
	if t := a.syn.Load(); t != nil {
		return t.groups
	}
	return 0
}

package esengine

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"infowork/analyzers"
)

const (
	// groupSep joins the tokens of one word position; the index analyzer's pattern_capture
	// filter splits on it and gives the parts the same position (see package mappings).
	groupSep = '\x01'
	// maxTermBytes bounds one term on the wire. Lucene rejects a document with a term over
	// 32766 bytes, and the whitespace tokenizer splits tokens longer than its
	// max_token_length (8192 characters), which would shift positions. Index and query
	// terms are cut the same way, so matching is unaffected short of pathological input.
	maxTermBytes = 256
)

// wireTerm makes an analyzer term safe for the whitespace tokenizer: characters that split
// tokens (Go or Java whitespace) or groups become '_', and the term is cut at maxTermBytes.
func wireTerm(t string) string {
	t = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == groupSep || (r >= 0x1c && r <= 0x1f) {
			return '_'
		}
		return r
	}, t)
	if len(t) > maxTermBytes {
		cut := maxTermBytes
		for cut > 0 && !utf8.RuneStart(t[cut]) {
			cut--
		}
		t = t[:cut]
	}
	return t
}

// indexTerms encodes index tokens for a *_terms field: one space-separated group per
// position, the terms of a group joined by groupSep. A position without tokens (none today)
// gets a lone groupSep, which the index analyzer keeps as a placeholder term no query matches,
// so later positions do not shift.
func indexTerms(toks []analyzers.Token) string {
	if len(toks) == 0 {
		return ""
	}
	toks = append([]analyzers.Token(nil), toks...)
	sort.SliceStable(toks, func(i, j int) bool { return toks[i].Position < toks[j].Position })
	var b strings.Builder
	last := toks[0].Position - 1
	for i := 0; i < len(toks); {
		p := toks[i].Position
		for ; last+1 < p; last++ {
			b.WriteByte(' ')
			b.WriteRune(groupSep)
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		seen := map[string]bool{}
		first := true
		for ; i < len(toks) && toks[i].Position == p; i++ {
			t := wireTerm(toks[i].Term)
			if t == "" || seen[t] {
				continue
			}
			seen[t] = true
			if !first {
				b.WriteRune(groupSep)
			}
			b.WriteString(t)
			first = false
		}
		last = p
	}
	return b.String()
}

// queryTerms returns the wire terms of precise-mode query tokens, in order.
func queryTerms(toks []analyzers.Token) []string {
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		if w := wireTerm(t.Term); w != "" {
			out = append(out, w)
		}
	}
	return out
}

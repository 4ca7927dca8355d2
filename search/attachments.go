package search

import (
	"strings"
	"unicode/utf8"

	"infowork/analyzers"
)

// AttachmentText is the extracted text of one attachment (package attachment, issue 11).
type AttachmentText struct {
	ID   string // attachment id
	Name string // display file name
	Text string // extracted plain text (at most MaxAttachmentTextBytes are indexed)
}

// AttachmentHit is the attachment of a hit whose text matched: which file, and the passage
// (HTML-escaped original text with <mark> around matched words, like Hit.Snippet).
type AttachmentHit struct {
	ID      string
	Name    string
	Snippet string
}

// MaxAttachmentTextBytes is how much of one attachment's text an engine indexes and stores.
const MaxAttachmentTextBytes = 1 << 20

// ClipAttachmentText cuts an attachment's text to MaxAttachmentTextBytes on a rune boundary.
func ClipAttachmentText(s string) string {
	if len(s) <= MaxAttachmentTextBytes {
		return s
	}
	n := MaxAttachmentTextBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// passageWindow is how many bytes around the first matched term are highlighted: segmenting a
// whole long document for every hit would cost about a second per megabyte.
const passageWindow = 1200

// MatchAttachment finds the first attachment whose text holds one of terms (normalized query
// terms, as for highlighting) and returns it with a highlighted passage of at most maxRunes
// runes; nil when none does. Engines call it for each hit with the stored attachment texts.
func MatchAttachment(an *analyzers.Analyzer, atts []AttachmentText, terms []string, maxRunes int) *AttachmentHit {
	if len(terms) == 0 {
		return nil
	}
	for _, a := range atts {
		lower := strings.ToLower(a.Text)
		pos := -1
		for _, t := range terms {
			if t == "" {
				continue
			}
			if i := strings.Index(lower, t); i >= 0 && (pos < 0 || i < pos) {
				pos = i
			}
		}
		if pos < 0 || len(lower) != len(a.Text) {
			if pos < 0 {
				continue
			}
			pos = 0 // lower-casing changed byte lengths: fall back to the start
		}
		from, to := max(0, pos-passageWindow/3), min(len(a.Text), pos+passageWindow)
		for from > 0 && !utf8.RuneStart(a.Text[from]) {
			from--
		}
		for to < len(a.Text) && !utf8.RuneStart(a.Text[to]) {
			to++
		}
		snippet := an.Highlight(a.Text[from:to], terms, maxRunes)
		if !strings.Contains(snippet, "<mark>") {
			continue // a sub-string of another word, not a token match
		}
		if from > 0 && !strings.HasPrefix(snippet, "…") {
			snippet = "…" + snippet
		}
		return &AttachmentHit{ID: a.ID, Name: a.Name, Snippet: snippet}
	}
	return nil
}

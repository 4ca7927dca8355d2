package stats

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"infowork/access"
	"infowork/analyzers"
	"infowork/search"
)

// Term is a term's weight in a period.
type Term struct {
	Term string
	// Docs is the number of records of the period holding the term; BackgroundDocs the same in
	// the comparison period.
	Docs, BackgroundDocs int
	// Score is the significance of the term in the period against the background (JLH, as
	// Elasticsearch's significant_terms: (fg% − bg%) × fg%/bg%); 0 for plain frequency lists.
	Score float64
}

// Week is one week's most frequent terms.
type Week struct {
	Start time.Time // Monday 00:00 in the office's time zone
	Docs  int
	Terms []Term
}

// Trends is the topic-trend answer: frequent terms per week and the terms rising in the last
// week compared with the weeks before.
type Trends struct {
	Weeks  []Week
	Rising []Term
}

// TrendOptions bound the work of a trend computation.
type TrendOptions struct {
	Weeks    int // weeks to show, default 8
	TopN     int // terms per week, default 10
	MaxDocs  int // most recent records read per computation, default 20000
	MinDocs  int // a rising term appears in at least this many records of the last week, default 3
	Analyzer *analyzers.Analyzer
}

// weekStart is the Monday 00:00 of t's week in the office's time zone.
func weekStart(t time.Time) time.Time {
	t = t.In(search.Location)
	d := (int(t.Weekday()) + 6) % 7
	y, m, dd := t.Date()
	return time.Date(y, m, dd-d, 0, 0, 0, 0, search.Location)
}

// trendCache keeps a computed answer for a few minutes per scope; trends move by the week.
type trendCache struct {
	mu sync.Mutex
	m  map[string]trendEntry
}

type trendEntry struct {
	at time.Time
	t  Trends
}

var cache = &trendCache{m: map[string]trendEntry{}}

// Trends computes topic trends over the records sub may read, ending with the week of now.
// Titles and the start of each body are segmented with the analyzers (jieba precise mode,
// normalized, stop words removed); single-character and numeric terms are dropped. A term's
// weight is the number of records holding it (document frequency), so one long report cannot
// dominate a week.
func (s *Service) Trends(ctx context.Context, sub access.Subject, now time.Time, o TrendOptions) (Trends, error) {
	if o.Analyzer == nil {
		return Trends{}, fmt.Errorf("stats: trends need an analyzer")
	}
	if o.Weeks <= 0 {
		o.Weeks = 8
	}
	if o.TopN <= 0 {
		o.TopN = 10
	}
	if o.MaxDocs <= 0 {
		o.MaxDocs = 20000
	}
	if o.MinDocs <= 0 {
		o.MinDocs = 3
	}
	end := weekStart(now).AddDate(0, 0, 7)
	from := end.AddDate(0, 0, -7*o.Weeks)
	ckey := fmt.Sprintf("%s|%d|%v|%v|%v|%d|%d", sub.Username, sub.Clearance, sub.Roles, sub.Categories, from.Unix(), o.Weeks, o.TopN)
	cache.mu.Lock()
	if e, ok := cache.m[ckey]; ok && time.Since(e.at) < 5*time.Minute {
		cache.mu.Unlock()
		return e.t, nil
	}
	cache.mu.Unlock()

	pred, args := access.Predicate(sub, "s", 1)
	args = append(args, from, end, o.MaxDocs)
	n := len(args)
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return Trends{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT s.reported_at, s.title, left(s.body_text, 300) FROM submissions s
		WHERE %s AND s.reported_at >= $%d AND s.reported_at < $%d ORDER BY s.reported_at DESC LIMIT $%d`, pred, n-2, n-1, n), args...)
	if err != nil {
		return Trends{}, fmt.Errorf("stats: trends: %w", err)
	}
	weeks := make([]map[string]int, o.Weeks)
	docs := make([]int, o.Weeks)
	for i := range weeks {
		weeks[i] = map[string]int{}
	}
	for rows.Next() {
		var at time.Time
		var title, body string
		if err := rows.Scan(&at, &title, &body); err != nil {
			rows.Close()
			return Trends{}, fmt.Errorf("stats: trends: %w", err)
		}
		w := int(weekStart(at).Sub(from).Hours() / (24 * 7))
		if w < 0 || w >= o.Weeks {
			continue
		}
		docs[w]++
		seen := map[string]bool{}
		for _, tok := range o.Analyzer.Query(title + "\n" + body) {
			if seen[tok.Term] || !significant(tok.Term) {
				continue
			}
			seen[tok.Term] = true
			weeks[w][tok.Term]++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Trends{}, fmt.Errorf("stats: trends: %w", err)
	}
	var out Trends
	for i := range weeks {
		wk := Week{Start: from.AddDate(0, 0, 7*i), Docs: docs[i]}
		for t, c := range weeks[i] {
			wk.Terms = append(wk.Terms, Term{Term: t, Docs: c})
		}
		sortTerms(wk.Terms, func(t Term) float64 { return float64(t.Docs) })
		if len(wk.Terms) > o.TopN {
			wk.Terms = wk.Terms[:o.TopN]
		}
		out.Weeks = append(out.Weeks, wk)
	}
	// Rising: the last week against the weeks before it.
	last := len(weeks) - 1
	bg := map[string]int{}
	bgDocs := 0
	for i := 0; i < last; i++ {
		bgDocs += docs[i]
		for t, c := range weeks[i] {
			bg[t] += c
		}
	}
	out.Rising = Significant(weeks[last], docs[last], bg, bgDocs, o.MinDocs, o.TopN)
	cache.mu.Lock()
	cache.m[ckey] = trendEntry{at: time.Now(), t: out}
	cache.mu.Unlock()
	return out, nil
}

// Significant ranks the foreground terms by JLH significance against the background: terms
// that are more common in the foreground than in the background, weighted by how much. A term
// unseen in the background counts as seen in half a record (so it scores high but finitely).
func Significant(fg map[string]int, fgDocs int, bg map[string]int, bgDocs, minDocs, topN int) []Term {
	if fgDocs == 0 {
		return nil
	}
	var out []Term
	for t, c := range fg {
		if c < minDocs {
			continue
		}
		fp := float64(c) / float64(fgDocs)
		b := float64(bg[t])
		if b == 0 {
			b = 0.5
		}
		bp := b / math.Max(float64(bgDocs), 1)
		if fp <= bp {
			continue
		}
		out = append(out, Term{Term: t, Docs: c, BackgroundDocs: bg[t], Score: (fp - bp) * (fp / bp)})
	}
	sortTerms(out, func(t Term) float64 { return t.Score })
	if len(out) > topN {
		out = out[:topN]
	}
	return out
}

func sortTerms(ts []Term, key func(Term) float64) {
	sort.Slice(ts, func(i, j int) bool {
		if key(ts[i]) != key(ts[j]) {
			return key(ts[i]) > key(ts[j])
		}
		return ts[i].Term < ts[j].Term
	})
}

// significant drops terms that say nothing about a topic: one character, or only digits and
// punctuation.
func significant(t string) bool {
	if utf8.RuneCountInString(t) < 2 {
		return false
	}
	for _, r := range t {
		if r > 0x2E80 || (r >= 'a' && r <= 'z') {
			return true
		}
	}
	return false
}

// Package bench is the performance harness behind `infowork bench` and `make bench`: a seeded
// corpus generator that scales the real civic messages to any number of distinct documents, the
// scenarios (bulk load, freshness, search, HTTP, memory) run against the embedded engine and,
// side by side on the same data and queries, PostgreSQL full-text search and OpenSearch, and the
// report appended to BENCHMARKS.md. See docs/benchmarks.md.
package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"infowork/demo"
	"infowork/search"
)

// Doc is one generated report, ready for submission.Service.CreateTx.
type Doc struct {
	Seq            int // 0-based position in the generated corpus
	SourceRef      string
	Title          string
	Body           string
	UnitCode       string
	CategoryCode   string
	District       string // the district of UnitCode ("" for city-wide units); the database derives it too
	Classification string
	Urgency        string
	Time           time.Time
}

// Generator scales a demo data set (the real civic messages) to any number of distinct documents.
// Document i depends only on the seed, i and the data set, so the first 100k documents of a
// 1M corpus are the 100k corpus, and every run with the same seed generates the same documents.
//
// Document i takes its title, unit, category, classification and urgency from base message
// B(i) (so their joint distribution is the real one the demo assigns from the text), appends
// the second half of the body of a donor message D(i) ≠ B(i) to the base body, and gets a date
// drawn over ten years with more recent years weighted higher (B's time of day and day of
// year, a year from the weights). The pairs (B(i), D(i)) are distinct for every i below
// n·(n−1), n the number of distinct base messages (some 7,000: 49 million documents).
type Generator struct {
	Seed     uint64
	msgs     []demo.Message
	perm     []int // base order
	step     []int // donor stride per round
	units    map[string]demo.Unit
	Dataset  *demo.Dataset
	yearCum  []float64
	firstYr  int
	tailFrom []int // byte offset where the donor tail starts, per message
	cats     map[string]demo.Category
}

func (g *Generator) catIndex() map[string]demo.Category { return g.cats }

// Years are the report years of generated documents and their relative weights (growth of
// reporting over the decade; the last year is partial).
var yearWeights = []struct {
	year   int
	weight float64
}{{2017, 4}, {2018, 5}, {2019, 7}, {2020, 8}, {2021, 9}, {2022, 10}, {2023, 11}, {2024, 12}, {2025, 13}, {2026, 11}}

// NewGenerator builds a generator over ds (demo.Load). Messages with the same title and body are
// kept once, so distinct (base, donor) pairs give distinct documents.
func NewGenerator(ds *demo.Dataset, seed uint64) (*Generator, error) {
	if ds == nil || len(ds.Messages) < 2 {
		return nil, errors.New("bench: the data set needs at least two messages")
	}
	seen := map[string]bool{}
	var msgs []demo.Message
	for _, m := range ds.Messages {
		k := m.Title + "\x00" + m.Body
		if seen[k] || strings.TrimSpace(m.Body) == "" || m.UnitCode == "" {
			continue
		}
		seen[k] = true
		msgs = append(msgs, m)
	}
	// demo.Load sorts newest first; sort by SourceID so the base order does not depend on it.
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].SourceID < msgs[j].SourceID })
	n := len(msgs)
	if n < 2 {
		return nil, errors.New("bench: the data set needs at least two distinct messages")
	}
	g := &Generator{Seed: seed, msgs: msgs, units: map[string]demo.Unit{}, Dataset: ds}
	r := rand.New(rand.NewPCG(seed, 0x696e666f776f726b)) // #nosec G404 -- a seeded generator for repeatable benchmarks
	g.perm = r.Perm(n)
	// Round k pairs base perm[j] with donor (perm[j]+step[k]) mod n, step[k] in 1..n-1 distinct
	// per round, so no pair repeats.
	steps := r.Perm(n - 1)
	g.step = make([]int, n-1)
	for i, s := range steps {
		g.step[i] = s + 1
	}
	for _, u := range ds.Units {
		g.units[u.Code] = u
	}
	g.cats = make(map[string]demo.Category, len(ds.Categories))
	for _, c := range ds.Categories {
		g.cats[c.Code] = c
	}
	total := 0.0
	for _, y := range yearWeights {
		total += y.weight
		g.yearCum = append(g.yearCum, total)
	}
	for i := range g.yearCum {
		g.yearCum[i] /= total
	}
	g.firstYr = yearWeights[0].year
	g.tailFrom = make([]int, n)
	for i, m := range msgs {
		g.tailFrom[i] = tailStart(m.Body)
	}
	return g, nil
}

// Bases is the number of distinct base messages.
func (g *Generator) Bases() int { return len(g.msgs) }

// Max is the number of distinct documents the generator can make.
func (g *Generator) Max() int { return len(g.msgs) * (len(g.msgs) - 1) }

// tailStart is where the second half of body starts: the first sentence end at or after the
// middle, or the middle rune when there is none.
func tailStart(body string) int {
	mid := len(body) / 2
	for mid > 0 && !utf8.RuneStart(body[mid]) {
		mid--
	}
	for i, r := range body[mid:] {
		switch r {
		case '。', '！', '？', '\n', '；':
			j := mid + i + utf8.RuneLen(r)
			if j < len(body) {
				return j
			}
			return mid
		}
	}
	return mid
}

// Doc generates document i (0 ≤ i < Max()).
func (g *Generator) Doc(i int) Doc {
	if i < 0 {
		panic(fmt.Sprintf("bench: Generator.Doc(%d): the index is negative", i))
	}
	n := len(g.msgs)
	round, j := i/n, i%n
	bi := g.perm[j]
	di := (bi + g.step[round%(n-1)]) % n
	base, donor := g.msgs[bi], g.msgs[di]
	r := rand.New(rand.NewPCG(g.Seed, uint64(i)+1)) // #nosec G404 -- seeded, repeatable

	tail := strings.TrimSpace(donor.Body[g.tailFrom[di]:])
	body := strings.TrimRight(base.Body, "\n ")
	if tail != "" {
		body += "\n" + tail
	}
	body = truncateRunes(body, 9000)

	u := r.Float64()
	yi := sort.SearchFloat64s(g.yearCum, u)
	year := g.firstYr + min(yi, len(yearWeights)-1)
	t := base.Time.In(search.Location)
	date := time.Date(year, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, search.Location)
	if limit := time.Date(2026, 11, 1, 0, 0, 0, 0, search.Location); !date.Before(limit) {
		date = date.AddDate(-1, 0, 0)
	}
	return Doc{
		Seq:            i,
		SourceRef:      fmt.Sprintf("bench:%d:%d", g.Seed, i),
		Title:          base.Title,
		Body:           body,
		UnitCode:       base.UnitCode,
		CategoryCode:   base.CategoryCode,
		District:       g.units[base.UnitCode].District,
		Classification: base.Classification,
		Urgency:        base.Urgency,
		Time:           date,
	}
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	k := 0
	for i := range s {
		if k == n {
			return s[:i]
		}
		k++
	}
	return s
}

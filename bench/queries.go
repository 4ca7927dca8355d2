package bench

import (
	"math/rand/v2"
	"time"
	"unicode/utf8"

	"infowork/analyzers"
	"infowork/search"
)

// Query mix shares (per mille). Every query asks for the five facets and a month histogram and
// highlights its hits; the web search page does the same.
const (
	mixTwoWords   = 450 // two words from one real title
	mixThreeWords = 200 // three words from one real title
	mixPhrase     = 150 // a quoted two-word phrase
	// the rest: browse, no text, only filters (a unit's or a category's recent reports)
)

// Facets are the five facets every benchmark search asks for (the search page's original set).
var Facets = []string{search.FacetUnit, search.FacetCategory, search.FacetDistrict, search.FacetMonth, search.FacetClassification}

// Researcher is the scope of the benchmark searches: a researcher who may read every unit up to
// secret (demo account "researcher"), so scope filtering is part of every query.
var Researcher = search.Scope{MaxLevel: 2, AllUnits: true}

// Queries builds n queries from the generator's real titles: words are the analyzer's query
// tokens of at least two characters, in title order; a third of the queries also filter (a
// category, a district or the last twelve months). The same seed gives the same queries.
func Queries(g *Generator, an *analyzers.Analyzer, n int) []search.Query {
	r := rand.New(rand.NewPCG(g.Seed, 0x71756572)) // #nosec G404 -- seeded, repeatable
	var cats, districts []string
	seenCat, seenDist := map[string]bool{}, map[string]bool{}
	for _, m := range g.msgs {
		// The engines store the top-level category name; find it from the data set.
		if name := topCategory(g, m.CategoryCode); name != "" && !seenCat[name] {
			seenCat[name] = true
			cats = append(cats, name)
		}
		if d := g.units[m.UnitCode].District; d != "" && !seenDist[d] {
			seenDist[d] = true
			districts = append(districts, d)
		}
	}
	out := make([]search.Query, 0, n)
	for len(out) < n {
		m := g.msgs[r.IntN(len(g.msgs))]
		var words []string
		var spans [][2]int
		for _, t := range an.Query(m.Title) {
			if utf8.RuneCountInString(t.Term) >= 2 {
				words = append(words, m.Title[t.Start:t.End])
				spans = append(spans, [2]int{t.Start, t.End})
			}
		}
		q := search.Query{Facets: Facets, DateHistogram: search.IntervalMonth, Scope: Researcher, Size: 20}
		p := r.IntN(1000)
		switch {
		case p < mixTwoWords:
			if len(words) < 2 {
				continue
			}
			k := r.IntN(len(words) - 1)
			q.Text = words[k] + " " + words[k+1+r.IntN(len(words)-k-1)]
		case p < mixTwoWords+mixThreeWords:
			if len(words) < 3 {
				continue
			}
			k := r.IntN(len(words) - 2)
			q.Text = words[k] + " " + words[k+1] + " " + words[k+2]
		case p < mixTwoWords+mixThreeWords+mixPhrase:
			if len(words) < 2 {
				continue
			}
			k := r.IntN(len(words) - 1)
			if spans[k][1] != spans[k+1][0] { // only words written next to each other
				continue
			}
			q.Text = `"` + m.Title[spans[k][0]:spans[k+1][1]] + `"`
		default:
			if r.IntN(2) == 0 {
				q.Units = []string{m.UnitCode}
			} else if name := topCategory(g, m.CategoryCode); name != "" {
				q.Categories = []string{name}
			}
			q.Sort = search.SortDate
		}
		if q.Text != "" && r.IntN(3) == 0 {
			switch r.IntN(3) {
			case 0:
				if len(cats) > 0 {
					q.Categories = []string{cats[r.IntN(len(cats))]}
				}
			case 1:
				if len(districts) > 0 {
					q.Districts = []string{districts[r.IntN(len(districts))]}
				}
			default:
				q.From = time.Date(2025, 11, 1, 0, 0, 0, 0, search.Location)
			}
		}
		out = append(out, q)
	}
	return out
}

func topCategory(g *Generator, code string) string {
	byCode := g.catIndex()
	c, ok := byCode[code]
	for ok && c.Parent != "" {
		c, ok = byCode[c.Parent]
	}
	if !ok {
		return ""
	}
	return c.Name
}

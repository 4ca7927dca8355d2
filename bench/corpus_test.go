package bench

import (
	"crypto/sha256"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"infowork/analyzers"
	"infowork/demo"
	"infowork/search"
)

var loaded struct {
	once sync.Once
	ds   *demo.Dataset
	an   *analyzers.Analyzer
	err  error
}

func dataset(t testing.TB) (*demo.Dataset, *analyzers.Analyzer) {
	t.Helper()
	loaded.once.Do(func() {
		loaded.ds, loaded.err = demo.Load("", 0)
		if loaded.err == nil {
			loaded.an, loaded.err = analyzers.New(analyzers.Options{})
		}
	})
	if loaded.err != nil {
		t.Fatal(loaded.err)
	}
	if loaded.ds.Source == "sample" {
		t.Log("corpus folder not found: generating from the shipped sample")
	}
	return loaded.ds, loaded.an
}

// realCorpus skips a test whose expectations (query mix, 2,000 distinct documents) hold only for
// the real civic-messages corpus, not for the 31-message sample used when ../shared is absent.
func realCorpus(t testing.TB, ds *demo.Dataset) {
	t.Helper()
	if ds.Source == "sample" {
		t.Skip("needs the real corpus (../shared/corpus/civic-messages); only the shipped sample was found")
	}
}

func TestGeneratorDeterministicAndPrefixStable(t *testing.T) {
	ds, _ := dataset(t)
	g1, err := NewGenerator(ds, 7)
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := NewGenerator(ds, 7)
	g3, _ := NewGenerator(ds, 8)
	differ := 0
	for _, i := range []int{0, 1, 2, 999, 12345, 99999, 1_000_000 - 1} {
		a, b, c := g1.Doc(i), g2.Doc(i), g3.Doc(i)
		if a != b {
			t.Fatalf("doc %d differs between two generators with seed 7:\n%+v\n%+v", i, a, b)
		}
		if a.Body != c.Body || !a.Time.Equal(c.Time) {
			differ++
		}
		if a.Seq != i || a.SourceRef == "" || a.Title == "" || a.Body == "" || a.UnitCode == "" {
			t.Fatalf("doc %d incomplete: %+v", i, a)
		}
	}
	if differ < 5 {
		t.Fatalf("seeds 7 and 8 generate the same documents (%d of 7 differ)", differ)
	}
}

func TestGeneratorDistinctDocuments(t *testing.T) {
	ds, _ := dataset(t)
	g, err := NewGenerator(ds, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Two full rounds over the base messages and a bit: every base pairs with two donors.
	n := min(2*g.Bases()+500, g.Max())
	seen := make(map[[32]byte]int, n)
	refs := make(map[string]bool, n)
	for i := range n {
		d := g.Doc(i)
		h := sha256.Sum256([]byte(d.Title + "\x00" + d.Body))
		if j, dup := seen[h]; dup {
			t.Fatalf("documents %d and %d are identical: %q", j, i, d.Title)
		}
		seen[h] = i
		if refs[d.SourceRef] {
			t.Fatalf("source ref %s repeats", d.SourceRef)
		}
		refs[d.SourceRef] = true
	}
}

// The generated corpus keeps the real joint distribution of units, categories and
// classifications (each base message is used equally often), spreads dates over the decade
// with more recent years weighted higher, and stays inside the submission limits.
func TestGeneratorDistributions(t *testing.T) {
	ds, _ := dataset(t)
	g, err := NewGenerator(ds, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := 4 * g.Bases()
	units, levels, years := map[string]int{}, map[string]int{}, map[int]int{}
	baseUnits, baseLevels := map[string]int{}, map[string]int{}
	for _, m := range g.msgs {
		baseUnits[m.UnitCode]++
		baseLevels[m.Classification]++
	}
	lo, hi := time.Date(2017, 1, 1, 0, 0, 0, 0, search.Location), time.Date(2026, 11, 1, 0, 0, 0, 0, search.Location)
	for i := range n {
		d := g.Doc(i)
		units[d.UnitCode]++
		levels[d.Classification]++
		years[d.Time.In(search.Location).Year()]++
		if d.Time.Before(lo) || !d.Time.Before(hi) {
			t.Fatalf("doc %d dated %s, outside %s–%s", i, d.Time, lo, hi)
		}
		if len([]rune(d.Body)) > 9000 || len([]rune(d.Title)) > 200 {
			t.Fatalf("doc %d exceeds the submission limits", i)
		}
		if !strings.Contains(d.Body, strings.TrimSpace(strings.SplitN(d.Body, "\n", 2)[0])) {
			t.Fatalf("doc %d body malformed", i)
		}
	}
	// Four full rounds: every base message exactly four times, so the shares are the real ones.
	for u, c := range baseUnits {
		if units[u] != 4*c {
			t.Fatalf("unit %s: %d generated documents, want 4 × %d", u, units[u], c)
		}
	}
	for l, c := range baseLevels {
		if levels[l] != 4*c {
			t.Fatalf("classification %s: %d, want %d", l, levels[l], 4*c)
		}
	}
	if len(units) < 20 || len(levels) < 3 {
		t.Fatalf("too little variety: %d units, %d classification levels", len(units), len(levels))
	}
	// Years follow the weights within a few percent.
	total := 0.0
	for _, y := range yearWeights {
		total += y.weight
	}
	for _, y := range yearWeights {
		want := y.weight / total * float64(n)
		got := float64(years[y.year])
		if y.year >= 2025 { // dates from November 2026 on move back a year
			want = (yearWeights[len(yearWeights)-2].weight + yearWeights[len(yearWeights)-1].weight) / total * float64(n)
			got = float64(years[2025] + years[2026])
		}
		if math.Abs(got-want) > 0.15*want+30 {
			t.Errorf("year %d: %.0f documents, want about %.0f", y.year, got, want)
		}
	}
	if years[2025] <= years[2018] {
		t.Errorf("recent years are not weighted higher: 2018 %d, 2025 %d", years[2018], years[2025])
	}
}

func TestQueriesMixAndDeterminism(t *testing.T) {
	ds, an := dataset(t)
	realCorpus(t, ds)
	g, err := NewGenerator(ds, 1)
	if err != nil {
		t.Fatal(err)
	}
	qs := Queries(g, an, 1000)
	again := Queries(g, an, 1000)
	var words2, words3, phrases, browse, filtered int
	for i, q := range qs {
		if q.Text != again[i].Text || !q.From.Equal(again[i].From) || len(q.Categories) != len(again[i].Categories) {
			t.Fatalf("query %d differs between two calls: %+v / %+v", i, q, again[i])
		}
		if len(q.Facets) != 5 || q.DateHistogram != search.IntervalMonth || q.Scope.MaxLevel != Researcher.MaxLevel {
			t.Fatalf("query %d lacks facets, histogram or scope: %+v", i, q)
		}
		if _, err := search.ParseQuery(q.Text); err != nil {
			t.Fatalf("query %d %q does not parse: %v", i, q.Text, err)
		}
		switch {
		case q.Text == "":
			browse++
		case strings.HasPrefix(q.Text, `"`):
			phrases++
		case strings.Count(q.Text, " ") == 1:
			words2++
		case strings.Count(q.Text, " ") == 2:
			words3++
		}
		if q.Text != "" && (len(q.Categories) > 0 || len(q.Districts) > 0 || !q.From.IsZero()) {
			filtered++
		}
	}
	near := func(got, want int) bool { return math.Abs(float64(got-want)) <= 0.35*float64(want) }
	if !near(words2, 450) || !near(words3, 200) || !near(phrases, 150) || !near(browse, 200) || !near(filtered, 270) {
		t.Fatalf("mix: %d two-word, %d three-word, %d phrases, %d browse, %d filtered text queries", words2, words3, phrases, browse, filtered)
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond)
	}
	p := percentiles(d)
	if p.N != 100 || p.P50 != 50*time.Millisecond || p.P90 != 90*time.Millisecond || p.P99 != 99*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Fatalf("percentiles = %+v", p)
	}
	if percentiles(nil) != (Percentiles{}) {
		t.Fatal("empty sample")
	}
}

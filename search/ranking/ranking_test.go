package ranking

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"infowork/search"
	"infowork/search/elasticsearch"
	"infowork/search/embedded"
	"infowork/search/internal/esengine/estest"
	"infowork/search/opensearch"
)

var update = flag.Bool("update", false, "rewrite testdata/ranking.golden from this run")

const (
	goldenPath = "testdata/ranking.golden"
	// tolerance is how far a metric may drop below its golden value before the test fails.
	tolerance = 0.02
	// depth is how many hits a query fetches; recall@10 and MRR look no further.
	depth = 10
)

type corpusDoc struct {
	ID, Title, Body, Unit, Category, District, Date string
}

type rankQuery struct {
	ID       string
	Query    string
	Relevant []string
	Note     string
}

// metrics are the averages over all queries of one engine.
type metrics struct{ R5, R10, MRR float64 }

type row struct {
	q       rankQuery
	r5, r10 float64
	rr      float64
	top     []string
}

// engines are opened fresh per run; the OpenSearch ones skip (locally) or fail (CI) without a node.
var engines = []struct {
	name string
	open func(t *testing.T) search.Engine
}{
	{"embedded", func(t *testing.T) search.Engine {
		e, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: estest.Analyzer(t)})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}},
	{"opensearch", func(t *testing.T) search.Engine {
		urls := estest.URLs(t)
		e, err := opensearch.Open(context.Background(), opensearch.Options{
			URLs: urls, IndexPrefix: estest.Prefix(t, urls), Analyzer: estest.Analyzer(t), Refresh: "true",
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}},
	{"elasticsearch", func(t *testing.T) search.Engine {
		urls := estest.URLs(t)
		e, err := elasticsearch.Open(context.Background(), elasticsearch.Options{
			URLs: []string{productProxy(t, urls[0])}, IndexPrefix: estest.Prefix(t, urls), Analyzer: estest.Analyzer(t), Refresh: "true",
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}},
}

// productProxy lets the Elasticsearch client talk to the OpenSearch test node (see
// search/elasticsearch's tests).
func productProxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("X-Elastic-Product", "Elasticsearch")
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRanking(t *testing.T) {
	docs, queries := load(t)
	golden, goldenLines := readGolden(t)
	lines := map[string][]string{}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			e := eng.open(t)
			t.Cleanup(func() { _ = e.Close() })
			index(t, e, docs)
			rows := run(t, e, queries)
			m := summarize(rows)
			lines[eng.name] = format(eng.name, m, rows)
			if *update {
				return
			}
			want, ok := golden[eng.name]
			if !ok {
				t.Fatalf("%s has no line in %s; run go test ./search/ranking -update", eng.name, goldenPath)
			}
			var drops []string
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"recall@5", m.R5, want.R5}, {"recall@10", m.R10, want.R10}, {"MRR", m.MRR, want.MRR}} {
				if c.got < c.want-tolerance {
					drops = append(drops, fmt.Sprintf("%s %.4f < golden %.4f", c.name, c.got, c.want))
				}
			}
			if len(drops) > 0 {
				t.Errorf("%s ranking regressed: %s\n%s", eng.name, strings.Join(drops, "; "), strings.Join(lines[eng.name], "\n"))
			} else if m != want {
				t.Logf("%s metrics changed (%+v, golden %+v); review and run -update", eng.name, m, want)
			}
		})
	}
	if *update {
		writeGolden(t, goldenLines, lines, len(docs), len(queries))
	}
}

func load(t *testing.T) ([]corpusDoc, []rankQuery) {
	t.Helper()
	var docs []corpusDoc
	var queries []rankQuery
	for _, f := range []struct {
		path string
		v    any
	}{{"testdata/corpus.json", &docs}, {"testdata/queries.json", &queries}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, f.v); err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
	}
	ids := map[string]bool{}
	for _, d := range docs {
		ids[d.ID] = true
	}
	for _, q := range queries {
		if len(q.Relevant) == 0 {
			t.Fatalf("query %s has no relevant documents", q.ID)
		}
		for _, id := range q.Relevant {
			if !ids[id] {
				t.Fatalf("query %s: relevant id %s is not in the corpus", q.ID, id)
			}
		}
	}
	return docs, queries
}

func index(t *testing.T, e search.Engine, docs []corpusDoc) {
	t.Helper()
	ops := make([]search.Op, len(docs))
	for i, d := range docs {
		date, err := time.ParseInLocation("2006-01-02", d.Date, search.Location)
		if err != nil {
			t.Fatalf("document %s: %v", d.ID, err)
		}
		doc := &search.Document{
			ID: d.ID, Version: 1, Kind: "submission", Title: d.Title, Body: d.Body, Unit: d.Unit, UnitName: d.Unit,
			Category: d.Category, District: d.District, Urgency: "normal", State: "submitted", Date: date,
		}
		ops[i] = search.Op{Kind: search.OpUpsert, ID: d.ID, Version: 1, Doc: doc}
	}
	res, err := e.Apply(context.Background(), ops)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("index %s: %v", r.ID, r.Err)
		}
	}
}

func run(t *testing.T, e search.Engine, queries []rankQuery) []row {
	t.Helper()
	all := search.Scope{MaxLevel: 3, AllUnits: true}
	var rows []row
	for _, q := range queries {
		res, err := e.Search(context.Background(), search.Query{Text: q.Query, Scope: all, Size: depth})
		if err != nil {
			t.Fatalf("%s %q: %v", q.ID, q.Query, err)
		}
		r := row{q: q}
		for _, h := range res.Hits {
			r.top = append(r.top, h.ID)
		}
		found5, found10 := 0, 0
		for i, id := range r.top {
			if !slices.Contains(q.Relevant, id) {
				continue
			}
			if r.rr == 0 {
				r.rr = 1 / float64(i+1)
			}
			if i < 5 {
				found5++
			}
			found10++
		}
		r.r5 = float64(found5) / float64(min(5, len(q.Relevant)))
		r.r10 = float64(found10) / float64(len(q.Relevant))
		rows = append(rows, r)
	}
	return rows
}

// summarize averages the rows. recall@5 divides by min(5, relevant), so a query with more than
// five relevant documents can still reach 1.
func summarize(rows []row) metrics {
	var m metrics
	for _, r := range rows {
		m.R5 += r.r5
		m.R10 += r.r10
		m.MRR += r.rr
	}
	n := float64(len(rows))
	round := func(x float64) float64 { v, _ := strconv.ParseFloat(fmt.Sprintf("%.4f", x/n), 64); return v }
	return metrics{round(m.R5), round(m.R10), round(m.MRR)}
}

// format renders an engine's golden lines: the summary, then one line per query with its ranks,
// so a ranking change shows up in the diff of -update.
func format(engine string, m metrics, rows []row) []string {
	out := []string{fmt.Sprintf("%s summary recall@5=%.4f recall@10=%.4f mrr=%.4f", engine, m.R5, m.R10, m.MRR)}
	for _, r := range rows {
		top := make([]string, len(r.top))
		for i, id := range r.top {
			top[i] = id
			if slices.Contains(r.q.Relevant, id) {
				top[i] += "*"
			}
		}
		out = append(out, fmt.Sprintf("%s %s r@5=%.2f r@10=%.2f rr=%.2f top=[%s] query=%s", engine, r.q.ID, r.r5, r.r10, r.rr, strings.Join(top, " "), r.q.Query))
	}
	return out
}

// readGolden returns each engine's summary and all lines per engine.
func readGolden(t *testing.T) (map[string]metrics, map[string][]string) {
	t.Helper()
	summaries, lines := map[string]metrics{}, map[string][]string{}
	b, err := os.ReadFile(goldenPath)
	if os.IsNotExist(err) && *update {
		return summaries, lines
	}
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		engine, rest, _ := strings.Cut(line, " ")
		lines[engine] = append(lines[engine], line)
		if !strings.HasPrefix(rest, "summary ") {
			continue
		}
		var m metrics
		if _, err := fmt.Sscanf(rest, "summary recall@5=%f recall@10=%f mrr=%f", &m.R5, &m.R10, &m.MRR); err != nil {
			t.Fatalf("%s: %q: %v", goldenPath, line, err)
		}
		summaries[engine] = m
	}
	return summaries, lines
}

// writeGolden writes the engines of this run and keeps the lines of engines that did not run
// (no OpenSearch node locally).
func writeGolden(t *testing.T, old, fresh map[string][]string, docs, queries int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "# Ranking regression set: %d documents, %d queries (search/ranking/testdata).\n", docs, queries)
	b.WriteString("# Regenerate: go test ./search/ranking -update (with INFOWORK_TEST_OPENSEARCH_URL for the\n")
	b.WriteString("# OpenSearch and Elasticsearch engines). top lists the first 10 hits, * marks a relevant one.\n")
	for _, eng := range engines {
		ls, ok := fresh[eng.name]
		if !ok {
			ls = old[eng.name]
		}
		if len(ls) == 0 {
			continue
		}
		b.WriteString("\n")
		for _, l := range ls {
			b.WriteString(l + "\n")
		}
	}
	if err := os.WriteFile(filepath.Clean(goldenPath), []byte(b.String()), 0o644); err != nil { // #nosec G306 -- test data
		t.Fatal(err)
	}
}

package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"infowork/auth"
	"infowork/internal/testenv"
	"infowork/search"
)

// A tiny end-to-end run against the real PostgreSQL (and the OpenSearch test node when
// INFOWORK_TEST_OPENSEARCH_URL is set): every scenario runs, every document is indexed, the
// engines answer the same queries without errors, and the report lands in the Markdown file.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end bench run")
	}
	ds, an := dataset(t)
	realCorpus(t, ds)
	db := testenv.DB(t)
	authSvc, err := auth.New(db, auth.Options{Logger: testenv.Logger(t), SecretKey: []byte("infowork-test-secret-key-32-byte"),
		HashParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cfg := Config{Docs: 2000, Seed: 3, DB: db, Analyzer: an, Dataset: ds, Auth: authSvc, IndexDir: filepath.Join(t.TempDir(), "index"),
		OpenSearchURL: os.Getenv("INFOWORK_TEST_OPENSEARCH_URL"), Clients: []int{1, 4}, SearchDuration: 500 * time.Millisecond,
		FreshWrites: 10, FreshRate: 20, HTTPRate: 100, HTTPDuration: 2 * time.Second,
		HTTPSteps: []int{50}, HTTPStepDuration: time.Second, Out: &out, Logger: testenv.Logger(t)}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if res.Indexed != 2000 {
		t.Errorf("embedded engine holds %d documents, want 2000", res.Indexed)
	}
	var stored int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM bench_fts`).Scan(&stored); err != nil || stored < 2000 {
		t.Errorf("bench_fts holds %d rows (%v), want at least 2000", stored, err)
	}
	if res.LoadDocsPerSec <= 0 || res.SegmentDocsPerSec <= 0 {
		t.Errorf("load figures missing: %+v", res)
	}
	engines := []string{"embedded", "pg-fts"}
	if cfg.OpenSearchURL != "" {
		engines = append(engines, "opensearch")
	}
	for _, e := range engines {
		if res.SearchErrors[e] != 0 {
			t.Errorf("%s: %d search errors\n%s", e, res.SearchErrors[e], out.String())
		}
		for _, c := range cfg.Clients {
			if res.SearchP99[e][c] <= 0 {
				t.Errorf("%s at %d clients: no p99", e, c)
			}
		}
	}
	if p := res.FreshP99["embedded"]; p <= 0 || p > 10*time.Second {
		t.Errorf("embedded freshness p99 = %s", p)
	}
	if res.HTTPRequests < 150 || res.HTTPSuccess != 1 {
		t.Errorf("HTTP: %d requests, success %.3f\n%s", res.HTTPRequests, res.HTTPSuccess, out.String())
	}
	if len(res.Tables) != 6 {
		t.Fatalf("%d tables, want one per scenario and the HTTP steps", len(res.Tables))
	}
	for _, want := range []string{"== Bulk load", "== Freshness", "== Search", "== HTTP capacity", "== HTTP through Fiber", "== Memory", "pg-fts",
		"\n50  ", "CPU per request: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	report := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(report, []byte("# Benchmarks\n\n## Documents\n\nkept\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := StartReport(report, "infowork bench --docs 2000", Machine(), time.Now(), []string{"shared machine"}); err != nil {
		t.Fatal(err)
	}
	for _, tb := range res.Tables {
		if err := AppendTable(report, tb); err != nil {
			t.Fatal(err)
		}
	}
	if err := EndReport(report, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(report)
	for _, want := range []string{"## Documents\n\nkept", "## Search and indexing: run of ", "`infowork bench --docs 2000`", "logical CPUs", "### Search", "| embedded | 4 |", "The run took"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}

	// The database now holds the benchmark's reports: a second run refuses it.
	if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "empty database") {
		t.Fatalf("second run on a used database: %v", err)
	}
}

// The PostgreSQL alternative translates the query language: words and phrases become
// adjacent-token tsquery phrases, OR and exclusions keep their meaning.
func TestPGFTSQuery(t *testing.T) {
	_, an := dataset(t)
	p := &PGFTS{An: an}
	for q, want := range map[string]string{
		"停车":       "'停车'",
		"城乡建设 小区":  "('城乡建设') & ('小区')",
		`"物业 管理"`:  "'物业' <-> '管理'",
		"噪音 OR 扰民": "('噪音') | ('扰民')",
		"学校 -幼儿园":  "('学校') & !('幼儿园')",
		"":         "",
	} {
		node, err := search.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.tsquery(node)
		if err != nil || got != want {
			t.Errorf("%q → %q (%v), want %q", q, got, err, want)
		}
	}
}

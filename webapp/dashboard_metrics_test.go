package webapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"infowork/attachment"
	"infowork/extract"
	"infowork/internal/testenv"
	"infowork/notes"
	"infowork/savedsearch"
	"infowork/search"
	"infowork/store"
	"infowork/webapp"
)

var metricName = regexp.MustCompile(`\binfowork_[a-z0-9_]+`)

// The operations dashboards (deploy/grafana) and alert rules (deploy/prometheus) only use
// metrics that a running infowork really exports: the test runs the web app, the indexer, the
// instrumented engine, the pool and outbox collectors and the subscription notifier on one
// registry, exercises them, gathers, and looks up every infowork_* name the JSON and YAML use.
// (deploy/deploy_test.go checks the same names against a scan of the Go source; this checks the
// live registry, so a metric declared but never registered or observed is caught too.)
func TestOperationsDashboardsUseExportedMetrics(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	reg := s.Opts.Registerer.(*prometheus.Registry)
	reg.MustRegister(store.NewPoolCollector(s.DB))
	eng := search.Instrument(s.Engine, reg)
	if _, err := savedsearch.NewNotifier(savedsearch.NotifierOptions{DB: s.DB, Analyzer: sharedAnalyzer(t), Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	// The Lotus Notes sync ('infowork notes sync --metrics-addr', its own process) on the same
	// registry: its row of the dashboard and its alerts are checked like the others.
	im, err := notes.NewImporter(notes.Options{DB: s.DB, DataDir: t.TempDir(), Mapping: notes.DefaultMapping()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notes.NewSyncer(notes.SyncOptions{Importer: im, DropDir: t.TempDir(), Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	// Exercise: a request per kind, a record indexed, a search through the instrumented engine.
	s.token(t, "rep_a")
	if _, err := s.createAPI("rep_a", created{Title: "指标核对", Body: "指标核对正文"}); err != nil {
		t.Fatal(err)
	}
	s.waitIndexed(t, 1)
	if _, err := eng.Search(ctx, search.Query{Text: "指标", Scope: search.Scope{AllUnits: true, MaxLevel: 3}}); err != nil {
		t.Fatal(err)
	}
	if r := s.api(t, "GET", "/healthz", "", nil); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	exerciseExtraction(t, s, reg)
	// The indexer counts a batch after the engine has made it searchable (and after its ack), so
	// the counters may lag waitIndexed by a moment: gather until they are there.
	var families []*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		if families, err = reg.Gather(); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(families, func(f *dto.MetricFamily) bool { return f.GetName() == "infowork_indexer_batches_total" }) ||
			time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	exported := map[string]bool{}
	for _, f := range families {
		n := f.GetName()
		exported[n] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				exported[n+suf] = true
			}
		}
		if f.GetType() == dto.MetricType_SUMMARY {
			exported[n+"_sum"], exported[n+"_count"] = true, true
		}
	}

	used := map[string][]string{}
	dashes, _ := filepath.Glob("../deploy/grafana/dashboards/*.json")
	if len(dashes) == 0 {
		t.Fatal("no Grafana dashboards")
	}
	for _, f := range dashes {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
				Panels  []struct {
					Title   string
					Targets []struct{ Expr string }
				}
			}
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				for _, n := range metricName.FindAllString(tg.Expr, -1) {
					used[n] = append(used[n], filepath.Base(f)+": "+p.Title)
				}
			}
			for _, sp := range p.Panels {
				for _, tg := range sp.Targets {
					for _, n := range metricName.FindAllString(tg.Expr, -1) {
						used[n] = append(used[n], filepath.Base(f)+": "+sp.Title)
					}
				}
			}
		}
	}
	rules, _ := filepath.Glob("../deploy/prometheus/rules/*.yml")
	if len(rules) == 0 {
		t.Fatal("no alert rules")
	}
	for _, f := range rules {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Rules []struct{ Alert, Record, Expr string }
			}
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				for _, n := range metricName.FindAllString(r.Expr, -1) {
					used[n] = append(used[n], filepath.Base(f)+": "+r.Alert+r.Record)
				}
			}
		}
	}
	// What the operations issue asks the dashboards and alerts to cover.
	for _, want := range []string{"infowork_http_request_duration_seconds_count", "infowork_http_request_duration_seconds_bucket",
		"infowork_search_duration_seconds_bucket", "infowork_outbox_backlog", "infowork_outbox_oldest_age_seconds",
		"infowork_indexer_documents_total", "infowork_indexer_batches_total", "infowork_outbox_dead_letters",
		"infowork_db_pool_acquired_connections", "infowork_subscription_notifications_total",
		"infowork_notes_sync_lag_seconds", "infowork_notes_sync_errors_total", "infowork_notes_sync_documents_total",
		// Attachment text extraction (issue 11): backlog, oldest waiting job, results, OCR cost.
		"infowork_extraction_queue", "infowork_extraction_oldest_pending_age_seconds", "infowork_extraction_jobs_total",
		"infowork_extraction_duration_seconds_bucket", "infowork_extraction_duration_seconds_sum", "infowork_extraction_pages_total"} {
		if len(used[want]) == 0 {
			t.Errorf("no dashboard panel or alert uses %s", want)
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !exported[n] {
			t.Errorf("%s is used by %s but the running application does not export it", n, strings.Join(used[n], "; "))
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d metric names found in the dashboards and rules: %v", len(names), names)
	}
}

// exerciseExtraction runs the attachment text-extraction worker (as 'infowork serve' and 'web'
// do) on reg: one text file uploaded through a replica, its job backdated ten minutes and read
// by the queue collector as the oldest waiting job, then extracted, so the job, duration and
// page series exist and the oldest-waiting age drops to 0.
func exerciseExtraction(t *testing.T, s *stack, reg *prometheus.Registry) {
	t.Helper()
	ctx := context.Background()
	runner, err := extract.NewRunner(extract.RunnerOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	atts, err := attachment.New(s.DB, attachment.Options{DataDir: t.TempDir(), Extractor: runner, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := attachment.NewWorker(atts, attachment.WorkerOptions{Logger: testenv.Logger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	as := &stack{DB: s.DB, Base: s.replica(t, func(o *webapp.Options) { o.Attachments = atts }), Auth: s.Auth, Opts: s.Opts,
		tokens: map[string]string{}, totpSecrets: map[string]string{}}
	as.token(t, "rep_a")
	sub, err := as.createAPI("rep_a", created{Title: "抽取指标核对", Body: "抽取指标核对正文"})
	if err != nil {
		t.Fatal(err)
	}
	if r := as.upload(t, "rep_a", sub.ID, upload{filename: "记录.txt", file: []byte("抽取指标核对记录。\n"), caption: str("核对记录")}); r.Status != http.StatusCreated {
		t.Fatalf("upload: %s", r)
	}
	if _, err := s.DB.Exec(ctx, `UPDATE extractions SET updated_at = now() - interval '10 minutes' WHERE state = 'pending'`); err != nil {
		t.Fatal(err)
	}
	if v := gaugeValue(t, reg, "infowork_extraction_oldest_pending_age_seconds", ""); v < 600 || v > 660 {
		t.Errorf("oldest waiting extraction job: %v s, want about 600", v)
	}
	if v := gaugeValue(t, reg, "infowork_extraction_queue", "pending"); v != 1 {
		t.Errorf("pending extraction jobs: %v, want 1", v)
	}
	if n, err := w.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("extraction worker drained %d jobs (%v), want 1", n, err)
	}
	if v := gaugeValue(t, reg, "infowork_extraction_oldest_pending_age_seconds", ""); v != 0 {
		t.Errorf("oldest waiting extraction job after the drain: %v s, want 0", v)
	}
}

// gaugeValue is the value of a gauge of reg (with the given state label, or none).
func gaugeValue(t *testing.T, reg *prometheus.Registry, name, state string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			got := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "state" {
					got = lp.GetValue()
				}
			}
			if got == state {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("%s{state=%q} not gathered", name, state)
	return 0
}

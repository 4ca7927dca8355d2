package search_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"infowork/search"
)

type fakeEngine struct {
	search.Engine // nil: only Name and Search are called
	err           error
}

func (fakeEngine) Name() string { return "fake" }
func (f fakeEngine) Search(ctx context.Context, _ search.Query) (search.Result, error) {
	return search.Result{Total: 1}, f.err
}

func TestInstrumentCountsSearchesByEngineAndOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	ok := search.Instrument(fakeEngine{}, reg)
	bad := search.Instrument(fakeEngine{err: errors.New("boom")}, reg) // second registration reuses the histogram
	ctx := context.Background()
	if r, err := ok.Search(ctx, search.Query{}); err != nil || r.Total != 1 {
		t.Fatalf("Search through the wrapper = %v, %v", r, err)
	}
	_, _ = ok.Search(ctx, search.Query{})
	if _, err := bad.Search(ctx, search.Query{}); err == nil {
		t.Fatal("the wrapper swallowed the engine's error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = bad.Search(cctx, search.Query{})
	if ok.Name() != "fake" {
		t.Fatalf("Name = %q", ok.Name())
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "infowork_search_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["engine"]+"/"+labels["outcome"]] = m.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{"fake/ok": 2, "fake/error": 1, "fake/canceled": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d observations, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

package search

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Instrument wraps e so that every Search is timed in the histogram
// infowork_search_duration_seconds{engine,outcome} (outcome: ok, error, canceled — a caller
// that went away is not an engine error). Every other method is e's own.
//
// The wrapper exposes only the Engine interface: optional interfaces such as Rebuilder and
// Scanner are not forwarded, so pass it where searches are served (the web app), not to the
// indexer or the reindex and reconcile commands. reg may be nil (no registration); registering
// twice with one registerer reuses the first histogram.
func Instrument(e Engine, reg prometheus.Registerer) Engine {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "infowork", Subsystem: "search", Name: "duration_seconds",
		Help:    "Search latency as seen by the web app, by engine and outcome (ok, error, canceled).",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"engine", "outcome"})
	if reg != nil {
		if err := reg.Register(h); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
			h = are.ExistingCollector.(*prometheus.HistogramVec)
		}
	}
	return &instrumented{Engine: e, ok: h.WithLabelValues(e.Name(), "ok"),
		failed: h.WithLabelValues(e.Name(), "error"), canceled: h.WithLabelValues(e.Name(), "canceled")}
}

type instrumented struct {
	Engine
	ok, failed, canceled prometheus.Observer
}

// Search implements Engine.
func (i *instrumented) Search(ctx context.Context, q Query) (Result, error) {
	start := time.Now()
	r, err := i.Engine.Search(ctx, q)
	d := time.Since(start).Seconds()
	switch {
	case err == nil:
		i.ok.Observe(d)
	case ctx.Err() != nil:
		i.canceled.Observe(d)
	default:
		i.failed.Observe(d)
	}
	return r, err
}

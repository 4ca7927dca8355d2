package render

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the PDF printer: infowork_render_pdf_seconds (one print, browser start included)
// and infowork_render_pdf_failures_total.
type metrics struct {
	seconds  prometheus.Histogram
	failures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "infowork", Subsystem: "render", Name: "pdf_seconds",
			Help: "Time to print one periodical issue to PDF, browser start included.", Buckets: []float64{.25, .5, 1, 2, 5, 10, 30, 60}}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "infowork", Subsystem: "render", Name: "pdf_failures_total",
			Help: "PDF prints that failed (no browser, timeout, browser error)."}),
	}
	if reg != nil {
		m.seconds = register(reg, m.seconds)
		m.failures = register(reg, m.failures)
	}
	return m
}

// register registers c, or returns the collector already registered under its name (several
// printers in one process share the series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

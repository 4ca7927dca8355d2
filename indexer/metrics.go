package indexer

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"infowork/outbox"
	"infowork/store"
)

type metrics struct {
	batches       *prometheus.CounterVec
	docs          *prometheus.CounterVec
	batchDuration prometheus.Histogram
	freshness     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "infowork", Subsystem: "indexer", Name: "batches_total",
			Help: "Outbox batches processed, by result.",
		}, []string{"result"}),
		docs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "infowork", Subsystem: "indexer", Name: "documents_total",
			Help: "Documents written to the search engine, by operation and outcome (ok, stale, retry, dead).",
		}, []string{"op", "outcome"}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "infowork", Subsystem: "indexer", Name: "batch_duration_seconds",
			Help:    "Time to claim, load, write and acknowledge one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "infowork", Subsystem: "indexer", Name: "freshness_seconds",
			Help:    "Time from an outbox row's creation to its change being acknowledged in the index.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.batches, m.docs, m.batchDuration, m.freshness)
	}
	return m
}

// OutboxCollector exports the outbox backlog, dead letters and the age of the oldest unindexed
// change, read from the database at scrape time (so every replica reports the same truth).
type OutboxCollector struct {
	db                 store.DB
	backlog, dead, age *prometheus.Desc
	up                 *prometheus.Desc
}

// NewOutboxCollector builds the collector.
func NewOutboxCollector(db store.DB) *OutboxCollector {
	return &OutboxCollector{
		db:      db,
		backlog: prometheus.NewDesc("infowork_outbox_backlog", "Outbox rows waiting to be indexed.", nil, nil),
		dead:    prometheus.NewDesc("infowork_outbox_dead_letters", "Outbox rows in the dead-letter state.", nil, nil),
		age:     prometheus.NewDesc("infowork_outbox_oldest_age_seconds", "Age of the oldest unindexed change.", nil, nil),
		up:      prometheus.NewDesc("infowork_outbox_stats_up", "1 if the outbox statistics could be read.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *OutboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.dead
	ch <- c.age
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *OutboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := outbox.ReadStats(ctx, c.db)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(s.Backlog))
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(s.Dead))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, s.OldestAge.Seconds())
}

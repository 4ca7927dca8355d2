package store

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports the connection pool's statistics (pgxpool.Stat) at scrape time, so
// dashboards and alerts can see pool saturation: acquired / max connections near 1 and a rising
// rate of acquires that had to wait mean requests queue for a connection.
type PoolCollector struct {
	pool                                            *pgxpool.Pool
	maxConns, totalConns, acquired, idle, construct *prometheus.Desc
	acquires, emptyAcquires, canceledAcquires       *prometheus.Desc
	acquireSeconds, emptyWaitSeconds                *prometheus.Desc
}

// NewPoolCollector builds a collector over pool; register it once per process.
func NewPoolCollector(pool *pgxpool.Pool) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &PoolCollector{
		pool:             pool,
		maxConns:         d("infowork_db_pool_max_connections", "Largest number of connections the pool may open."),
		totalConns:       d("infowork_db_pool_total_connections", "Connections currently open (idle, acquired or being built)."),
		acquired:         d("infowork_db_pool_acquired_connections", "Connections in use."),
		idle:             d("infowork_db_pool_idle_connections", "Open connections waiting to be used."),
		construct:        d("infowork_db_pool_constructing_connections", "Connections being established."),
		acquires:         d("infowork_db_pool_acquires_total", "Successful connection acquisitions."),
		emptyAcquires:    d("infowork_db_pool_empty_acquires_total", "Acquisitions that found no idle connection and had to wait or connect."),
		canceledAcquires: d("infowork_db_pool_canceled_acquires_total", "Acquisitions abandoned because their context ended."),
		acquireSeconds:   d("infowork_db_pool_acquire_seconds_total", "Total time spent acquiring connections."),
		emptyWaitSeconds: d("infowork_db_pool_empty_acquire_wait_seconds_total", "Total time acquisitions waited because the pool had no idle connection."),
	}
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxConns, c.totalConns, c.acquired, c.idle, c.construct,
		c.acquires, c.emptyAcquires, c.canceledAcquires, c.acquireSeconds, c.emptyWaitSeconds} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.maxConns, float64(s.MaxConns()))
	g(c.totalConns, float64(s.TotalConns()))
	g(c.acquired, float64(s.AcquiredConns()))
	g(c.idle, float64(s.IdleConns()))
	g(c.construct, float64(s.ConstructingConns()))
	n(c.acquires, float64(s.AcquireCount()))
	n(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	n(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	n(c.acquireSeconds, s.AcquireDuration().Seconds())
	n(c.emptyWaitSeconds, s.EmptyAcquireWaitTime().Seconds())
}

package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/store"
)

// The collector reads pgxpool.Stat only; a pool that never connected is enough (pgxpool
// connects lazily), so this test needs no server.
func TestPoolCollectorExportsPoolStatistics(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 7
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(store.NewPoolCollector(pool))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			got[mf.GetName()] = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			got[mf.GetName()] = m.GetCounter().GetValue()
		}
	}
	if got["infowork_db_pool_max_connections"] != 7 {
		t.Errorf("max connections = %v, want 7 (all: %v)", got["infowork_db_pool_max_connections"], got)
	}
	for _, name := range []string{"infowork_db_pool_acquired_connections", "infowork_db_pool_idle_connections",
		"infowork_db_pool_total_connections", "infowork_db_pool_acquires_total", "infowork_db_pool_empty_acquires_total",
		"infowork_db_pool_empty_acquire_wait_seconds_total"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing (all: %v)", name, got)
		}
	}
}

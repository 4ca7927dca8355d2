package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"infowork/internal/testenv"
	"infowork/search"
)

type downEngine struct{ search.Engine }

func (downEngine) Name() string                   { return "opensearch" }
func (downEngine) Ping(ctx context.Context) error { return errors.New("connection refused") }

// TestIndexerOperationsEndpoints checks what Prometheus and the orchestrator see of an
// indexer-only process: liveness, readiness (degraded, not unready, when only the engine is
// down) and the metrics.
func TestIndexerOperationsEndpoints(t *testing.T) {
	db := testenv.DB(t)
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "infowork_indexer_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	srv := opsServer(db, downEngine{}, reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { _ = srv.Close() })
	get := func(path string) (int, string) {
		r, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"search":"unavailable"`) {
		t.Fatalf("readyz with the engine down: %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "infowork_indexer_test_total 1") {
		t.Fatalf("metrics: %d %s", code, body)
	}
	if code, _ := get("/search"); code != 404 {
		t.Fatalf("an indexer serves no pages, got %d", code)
	}
	db.Close()
	if code, body := get("/readyz"); code != 503 {
		t.Fatalf("readyz without a database: %d %s", code, body)
	}
}

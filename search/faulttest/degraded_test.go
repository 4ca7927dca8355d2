package faulttest

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"infowork/outbox"
	"infowork/search"
	"infowork/search/internal/esengine/estest"
	"infowork/search/opensearch"
)

// proxyTo starts an in-process toxiproxy in front of the first test node.
func proxyTo(t *testing.T, rawURL string) *toxiproxy.Proxy {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "es", "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func addToxic(t *testing.T, p *toxiproxy.Proxy, js string) {
	t.Helper()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		t.Fatal(err)
	}
}

func removeToxic(t *testing.T, p *toxiproxy.Proxy, name string) {
	t.Helper()
	if err := p.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}

// TestDegradedModeAndConvergence puts the OpenSearch engine behind a TCP proxy and, in turn,
// blackholes it, refuses connections and slows it down. Writes through submission.Create keep
// succeeding, the outbox backlog grows, readiness says degraded and searches fail with
// ErrUnavailable (the UI then lists from the database); no row is dead-lettered although the
// indexer's MaxAttempts is 3, and after each heal the index converges to the database.
func TestDegradedModeAndConvergence(t *testing.T) {
	urls := estest.URLs(t)
	p := proxyTo(t, urls[0])
	db := newDB(t)
	ctx := context.Background()
	e, err := opensearch.Open(ctx, opensearch.Options{URLs: []string{"http://" + p.Listen}, IndexPrefix: estest.Prefix(t, urls),
		Analyzer: estest.Analyzer(t), RequestTimeout: time.Second, BulkAttempts: 2, BulkBackoffBase: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	startIndexer(t, db, e, 3)
	for i := 0; i < 20; i++ {
		if _, err := create(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	waitDrained(t, db, 30*time.Second)
	assertSame(t, db, e)

	degraded := func() bool {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second) // the /readyz budget
		defer cancel()
		return e.Ping(pctx) != nil
	}
	writeDuring := func(mode string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			start := time.Now()
			if _, err := create(ctx, db); err != nil {
				t.Fatalf("%s: write failed: %v", mode, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("%s: write took %s", mode, d)
			}
		}
	}
	for _, mode := range []string{"blackhole", "refused"} {
		t.Run(mode, func(t *testing.T) {
			switch mode {
			case "blackhole":
				addToxic(t, p, `{"name":"down","type":"timeout","stream":"downstream","toxicity":1,"attributes":{"timeout":0}}`)
			case "refused":
				p.Stop()
			}
			writeDuring(mode, 30)
			if !degraded() {
				t.Fatal("readiness: engine still answers")
			}
			_, err := e.Search(ctx, search.Query{Text: "停车", Scope: allScope})
			if !errors.Is(err, search.ErrUnavailable) {
				t.Fatalf("search during outage: %v, want ErrUnavailable", err)
			}
			// Let the indexer fail several times (more than MaxAttempts) before healing.
			time.Sleep(3 * time.Second)
			st, err := outbox.ReadStats(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if st.Backlog < 30 || st.Dead != 0 {
				t.Fatalf("outbox during outage: backlog %d (want >= 30), dead %d", st.Backlog, st.Dead)
			}
			var attempts int
			if err := db.QueryRow(ctx, `SELECT COALESCE(max(attempts), 0) FROM outbox`).Scan(&attempts); err != nil || attempts != 0 {
				t.Fatalf("outage counted %d attempts (%v); an outage must not move rows towards the dead letters", attempts, err)
			}
			t.Logf("%s: backlog %d, oldest %s", mode, st.Backlog, st.OldestAge.Round(time.Millisecond))
			switch mode {
			case "blackhole":
				removeToxic(t, p, "down")
			case "refused":
				if err := p.Start(); err != nil {
					t.Fatal(err)
				}
			}
			took := waitDrained(t, db, 60*time.Second)
			t.Logf("%s: backlog drained %s after heal", mode, took.Round(time.Millisecond))
			if degraded() {
				t.Fatal("readiness: still degraded after heal")
			}
			assertSame(t, db, e)
		})
	}
	t.Run("slow", func(t *testing.T) {
		addToxic(t, p, `{"name":"slow","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":300,"jitter":100}}`)
		writeDuring("slow", 30)
		if degraded() {
			t.Fatal("readiness: degraded while the engine is only slow")
		}
		took := waitDrained(t, db, 60*time.Second) // converges while still slow
		t.Logf("slow: backlog drained %s", took.Round(time.Millisecond))
		assertSame(t, db, e)
		removeToxic(t, p, "slow")
	})
}

package elasticsearch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"infowork/search"
	"infowork/search/internal/esengine/estest"
	"infowork/search/searchtest"
)

// productProxy is a reverse proxy to an OpenSearch node that adds the response header the
// Elasticsearch client insists on. Elasticsearch itself is not available to CI; see the
// package documentation for what this leaves unverified.
func productProxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("X-Elastic-Product", "Elasticsearch")
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestConformance runs the shared suite through the go-elasticsearch client against the
// OpenSearch node at $INFOWORK_TEST_OPENSEARCH_URL behind productProxy.
func TestConformance(t *testing.T) {
	urls := estest.URLs(t)
	proxy := productProxy(t, urls[0])
	searchtest.Run(t, func(t *testing.T) search.Engine {
		e, err := Open(context.Background(), Options{
			URLs: []string{proxy}, IndexPrefix: estest.Prefix(t, urls), Analyzer: estest.Analyzer(t), Refresh: "true",
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

// TestProductCheck shows the proxy is what makes the client talk to OpenSearch at all: without
// the header the client refuses the server, and the engine reports it unavailable.
func TestProductCheck(t *testing.T) {
	urls := estest.URLs(t)
	e, err := Open(context.Background(), Options{URLs: urls, IndexPrefix: estest.Prefix(t, urls), Analyzer: estest.Analyzer(t)})
	if err != nil {
		t.Fatalf("Open must tolerate an engine it cannot use yet: %v", err)
	}
	defer e.Close()
	if err := e.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded against a server without X-Elastic-Product")
	}
}

// Package elasticsearch is the Elasticsearch engine: the shared Elasticsearch/OpenSearch
// engine (search/internal/esengine) over the go-elasticsearch/v8 client, for Elasticsearch 8
// clusters.
//
// Elasticsearch itself does not run in CI (no package registry CI reaches serves it). The
// conformance suite drives this package against the CI OpenSearch node through a test-only
// proxy that adds the X-Elastic-Product header the client checks, which verifies the client
// wiring and our requests and response handling against the REST API both engines share. Not
// verified against a real Elasticsearch 8: its acceptance of the mapping file (the
// pattern_capture filter and whitespace max_token_length are stock in both, and both accept
// auto_expand_replicas and index.gc_deletes), its error bodies and status codes where they
// differ from OpenSearch, security defaults of Elasticsearch 8 (HTTPS with a generated CA and
// the elastic user: use Options.CACert, Username and Password), and cluster behaviour under
// faults.
package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	elasticsearch8 "github.com/elastic/go-elasticsearch/v8"

	"infowork/analyzers"
	"infowork/search"
	"infowork/search/internal/esengine"
)

// Options configures the engine.
type Options struct {
	URLs               []string // node URLs, e.g. https://127.0.0.1:9200; required
	Username, Password string   // HTTP basic authentication; optional
	APIKey             string   // base64 API key; overrides Username/Password; optional
	CACert             []byte   // PEM CA certificates for HTTPS; optional
	// IndexPrefix prefixes the alias (<prefix>submissions) and its versioned indices, so
	// several installations or tests can share a cluster.
	IndexPrefix string
	Analyzer    *analyzers.Analyzer // required; shared with the rest of the process
	Logger      *slog.Logger        // default slog.Default()
	// Replicas, when above 0, fixes number_of_replicas of a newly created index (default:
	// auto-expand 0-1).
	Replicas int
	// Refresh is the refresh parameter of bulk writes: "" (default; searchable within the
	// index refresh interval, 1s), "wait_for" (Apply returns once its writes are searchable)
	// or "true" (a forced refresh per request; tests only).
	Refresh string
	// RequestTimeout bounds one request; default 30s.
	RequestTimeout time.Duration
	// BulkAttempts, BulkBackoffBase, BulkBackoffMax shape Apply's retries of 429/5xx;
	// defaults 4, 100ms, 5s.
	BulkAttempts    int
	BulkBackoffBase time.Duration
	BulkBackoffMax  time.Duration
	// Transport replaces the HTTP transport (tests put proxies here); optional.
	Transport http.RoundTripper
}

// Engine is the Elasticsearch engine.
type Engine struct {
	*esengine.Engine
}

var _ search.Engine = (*Engine)(nil)

// Open connects to the cluster and creates the alias and index if missing. An unreachable
// cluster is not an error: the set-up is retried on first use (see esengine.Open).
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("elasticsearch: Options.URLs is required")
	}
	client, err := elasticsearch8.NewClient(elasticsearch8.Config{
		Addresses: opts.URLs,
		Username:  opts.Username,
		Password:  opts.Password,
		APIKey:    opts.APIKey,
		CACert:    opts.CACert,
		Transport: opts.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: client: %w", err)
	}
	closeClient := func() error { return client.Close(context.Background()) }
	e, err := esengine.Open(ctx, esengine.Config{
		Name:            "elasticsearch",
		Send:            client.Perform,
		CloseClient:     closeClient,
		IndexPrefix:     opts.IndexPrefix,
		Analyzer:        opts.Analyzer,
		Logger:          opts.Logger,
		Replicas:        opts.Replicas,
		Refresh:         opts.Refresh,
		RequestTimeout:  opts.RequestTimeout,
		BulkAttempts:    opts.BulkAttempts,
		BulkBackoffBase: opts.BulkBackoffBase,
		BulkBackoffMax:  opts.BulkBackoffMax,
	})
	if err != nil {
		_ = closeClient()
		return nil, err
	}
	return &Engine{e}, nil
}

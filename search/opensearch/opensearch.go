// Package opensearch is the OpenSearch engine: the shared Elasticsearch/OpenSearch engine
// (search/internal/esengine) over the opensearch-go/v4 client. It is tested in CI against a
// real OpenSearch 2.19 node (deploy/opensearch-dev).
package opensearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	opensearchgo "github.com/opensearch-project/opensearch-go/v4"

	"infowork/analyzers"
	"infowork/search"
	"infowork/search/internal/esengine"
)

// Options configures the engine.
type Options struct {
	URLs               []string // node URLs, e.g. http://127.0.0.1:9200; required
	Username, Password string   // HTTP basic authentication; optional
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

// Engine is the OpenSearch engine.
type Engine struct {
	*esengine.Engine
}

var _ search.Engine = (*Engine)(nil)

// Open connects to the cluster and creates the alias and index if missing. An unreachable
// cluster is not an error: the set-up is retried on first use (see esengine.Open).
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("opensearch: Options.URLs is required")
	}
	client, err := opensearchgo.NewClient(opensearchgo.Config{
		Addresses: opts.URLs,
		Username:  opts.Username,
		Password:  opts.Password,
		CACert:    opts.CACert,
		Transport: opts.Transport,
		// A fixed node list: no sniffing, so nodes behind a load balancer or proxy work.
		DiscoverNodesOnStart: new(false),
	})
	if err != nil {
		return nil, fmt.Errorf("opensearch: client: %w", err)
	}
	e, err := esengine.Open(ctx, esengine.Config{
		Name:            "opensearch",
		Send:            client.Stream,
		CloseClient:     client.Close,
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
		_ = client.Close()
		return nil, err
	}
	return &Engine{e}, nil
}

package esengine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"infowork/analyzers"
	"infowork/mappings"
	"infowork/search"
)

// MappingName is the mappings/ entry the engine serves.
const MappingName = "submissions"

// Defaults of Config.
const (
	DefaultRequestTimeout  = 30 * time.Second
	DefaultBulkAttempts    = 4
	DefaultBulkBackoffBase = 100 * time.Millisecond
	DefaultBulkBackoffMax  = 5 * time.Second
	DefaultMaxBulkBytes    = 8 << 20
)

// Config configures an Engine. The public engine packages fill it from their Options.
type Config struct {
	// Name is the engine's configuration name ("opensearch", "elasticsearch"); it prefixes
	// errors and log lines.
	Name string
	// Send carries one request through the client (which fills in scheme and host). It may
	// return a response together with an error; the caller closes the body.
	Send func(*http.Request) (*http.Response, error)
	// CloseClient releases the client; optional.
	CloseClient func() error

	IndexPrefix string              // prefix of the alias and index names; [a-z0-9][a-z0-9._-]*
	Analyzer    *analyzers.Analyzer // required
	Logger      *slog.Logger        // default slog.Default()
	// Replicas, when above 0, fixes index.number_of_replicas of a newly created index instead
	// of the mapping's auto_expand_replicas 0-1.
	Replicas int
	// Refresh is the refresh parameter of every bulk request: "" (default: writes become
	// searchable within index.refresh_interval), RefreshWaitFor (Apply returns once its
	// writes are searchable) or RefreshNow (forces a refresh per request; tests only).
	Refresh string
	// RequestTimeout bounds one HTTP request (all its client-level retries); default 30s.
	RequestTimeout time.Duration
	// BulkAttempts is how many times Apply sends an item that failed with 429, 5xx or a
	// connection error before reporting it; default 4. BulkBackoffBase and BulkBackoffMax
	// shape the capped exponential backoff between attempts (defaults 100ms and 5s).
	BulkAttempts    int
	BulkBackoffBase time.Duration
	BulkBackoffMax  time.Duration
	// MaxBulkBytes splits one Apply into several _bulk requests above this size; default 8 MiB.
	MaxBulkBytes int
}

// Values of Config.Refresh.
const (
	RefreshWaitFor = "wait_for"
	RefreshNow     = "true"
)

// Engine implements search.Engine over the Elasticsearch/OpenSearch REST API.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	an      *analyzers.Analyzer
	mapping mappings.Mapping
	alias   string
	index   string // versioned index Open creates when the alias is missing

	setupMu  sync.Mutex
	ready    bool      // the alias exists; guarded by setupMu
	setupErr error     // the last failed set-up, returned without a new attempt for a while
	setupAt  time.Time // when setupErr happened
	// setupRetry is setupRetryInterval; tests shorten it.
	setupRetry time.Duration
}

// setupRetryInterval is how long a failed set-up is reported without trying again, so that
// requests arriving while the cluster is unreachable fail fast instead of each waiting for a
// request timeout.
const setupRetryInterval = 5 * time.Second

var _ search.Engine = (*Engine)(nil)

var prefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Open validates cfg and makes sure the alias and its index exist. When the cluster cannot be
// reached Open logs a warning and returns the engine anyway; the set-up is retried by every
// later call, which until then fails with search.ErrUnavailable. Other set-up failures (bad
// credentials, a rejected mapping, a name clash) are returned.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Name == "" {
		return nil, errors.New("esengine: Config.Name is required")
	}
	if cfg.Send == nil {
		return nil, fmt.Errorf("%s: Config.Send is required", cfg.Name)
	}
	if cfg.Analyzer == nil {
		return nil, fmt.Errorf("%s: Options.Analyzer is required", cfg.Name)
	}
	if cfg.IndexPrefix != "" && (!prefixRE.MatchString(cfg.IndexPrefix) || len(cfg.IndexPrefix) > 100) {
		return nil, fmt.Errorf("%s: Options.IndexPrefix %q: want at most 100 of a-z 0-9 . _ - starting with a letter or digit", cfg.Name, cfg.IndexPrefix)
	}
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"Replicas", int64(cfg.Replicas)}, {"RequestTimeout", int64(cfg.RequestTimeout)},
		{"BulkAttempts", int64(cfg.BulkAttempts)}, {"BulkBackoffBase", int64(cfg.BulkBackoffBase)},
		{"BulkBackoffMax", int64(cfg.BulkBackoffMax)}, {"MaxBulkBytes", int64(cfg.MaxBulkBytes)},
	} {
		if c.v < 0 {
			return nil, fmt.Errorf("%s: Options.%s %d must not be negative", cfg.Name, c.name, c.v)
		}
	}
	if cfg.Refresh != "" && cfg.Refresh != RefreshWaitFor && cfg.Refresh != RefreshNow {
		return nil, fmt.Errorf("%s: Options.Refresh %q: want \"\", %q or %q", cfg.Name, cfg.Refresh, RefreshWaitFor, RefreshNow)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.BulkAttempts == 0 {
		cfg.BulkAttempts = DefaultBulkAttempts
	}
	if cfg.BulkBackoffBase == 0 {
		cfg.BulkBackoffBase = DefaultBulkBackoffBase
	}
	if cfg.BulkBackoffMax == 0 {
		cfg.BulkBackoffMax = DefaultBulkBackoffMax
	}
	if cfg.MaxBulkBytes == 0 {
		cfg.MaxBulkBytes = DefaultMaxBulkBytes
	}
	m, err := mappings.Latest(MappingName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "search_"+cfg.Name),
		an:      cfg.Analyzer,
		mapping: m,
		alias:   cfg.IndexPrefix + m.Name,
		index:   m.IndexName(cfg.IndexPrefix),

		setupRetry: setupRetryInterval,
	}
	if err := e.setup(ctx); err != nil {
		if !errors.Is(err, search.ErrUnavailable) {
			return nil, err
		}
		e.log.Warn("search engine unreachable; will set up the index on first use", "alias", e.alias, "err", err)
	}
	return e, nil
}

// Name implements search.Engine.
func (e *Engine) Name() string { return e.cfg.Name }

// Alias is the name every request goes to.
func (e *Engine) Alias() string { return e.alias }

// Close implements search.Engine.
func (e *Engine) Close() error {
	if e.cfg.CloseClient == nil {
		return nil
	}
	if err := e.cfg.CloseClient(); err != nil {
		return fmt.Errorf("%s: close: %w", e.cfg.Name, err)
	}
	return nil
}

// setup runs createIfMissing once successfully.
func (e *Engine) setup(ctx context.Context) error {
	e.setupMu.Lock()
	defer e.setupMu.Unlock()
	if e.ready {
		return nil
	}
	err := e.createIfMissing(ctx)
	if err != nil {
		e.setupErr, e.setupAt = err, time.Now()
		return err
	}
	e.ready, e.setupErr = true, nil
	return nil
}

// createIfMissing creates the versioned index with the alias unless the alias exists.
// setupMu is held.
func (e *Engine) createIfMissing(ctx context.Context) error {
	target, err := e.aliasTarget(ctx)
	if err != nil {
		return err
	}
	if target == "" {
		body, err := e.createBody()
		if err != nil {
			return err
		}
		st, resp, err := e.do(ctx, http.MethodPut, "/"+e.index, nil, body)
		switch {
		case err != nil:
			return fmt.Errorf("%s: create index %s: %w", e.cfg.Name, e.index, err)
		case st == http.StatusOK:
			e.log.Info("created search index", "index", e.index, "alias", e.alias)
			target = e.index
		case errorType(resp) == "resource_already_exists_exception":
			// Another process created it, or an earlier run left the index without its alias.
			if target, err = e.aliasTarget(ctx); err != nil {
				return err
			}
			if target == "" {
				if err := e.addAlias(ctx); err != nil {
					return err
				}
				target = e.index
			}
		default:
			return fmt.Errorf("%s: create index %s: %w", e.cfg.Name, e.index, statusError(st, resp))
		}
	}
	if target != e.index {
		e.log.Info("alias serves another index version", "alias", e.alias, "index", target, "newest_mapping", e.index)
	}
	return nil
}

func (e *Engine) ensure(ctx context.Context) error {
	e.setupMu.Lock()
	ready, lastErr, at := e.ready, e.setupErr, e.setupAt
	e.setupMu.Unlock()
	if ready {
		return nil
	}
	if lastErr != nil && time.Since(at) < e.setupRetry {
		return lastErr
	}
	return e.setup(ctx)
}

// aliasTarget returns the index behind the alias, "" when the alias does not exist.
func (e *Engine) aliasTarget(ctx context.Context) (string, error) {
	st, resp, err := e.do(ctx, http.MethodGet, "/_alias/"+e.alias, nil, nil)
	if err != nil {
		return "", fmt.Errorf("%s: read alias %s: %w", e.cfg.Name, e.alias, err)
	}
	if st == http.StatusNotFound {
		return "", nil
	}
	if st != http.StatusOK {
		err := statusError(st, resp)
		if transient(st) {
			err = fmt.Errorf("%w: %w", search.ErrUnavailable, err)
		}
		return "", fmt.Errorf("%s: read alias %s: %w", e.cfg.Name, e.alias, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(resp, &m); err != nil {
		return "", fmt.Errorf("%s: read alias %s: %w", e.cfg.Name, e.alias, err)
	}
	if len(m) != 1 {
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		return "", fmt.Errorf("%s: alias %s points to %d indices (%s); want exactly one", e.cfg.Name, e.alias, len(m), strings.Join(names, ", "))
	}
	for k := range m {
		return k, nil
	}
	return "", nil
}

func (e *Engine) addAlias(ctx context.Context) error {
	body, _ := json.Marshal(obj{"actions": []any{obj{"add": obj{"index": e.index, "alias": e.alias}}}})
	st, resp, err := e.do(ctx, http.MethodPost, "/_aliases", nil, body)
	if err != nil {
		return fmt.Errorf("%s: add alias %s: %w", e.cfg.Name, e.alias, err)
	}
	if st != http.StatusOK {
		return fmt.Errorf("%s: add alias %s: %w", e.cfg.Name, e.alias, statusError(st, resp))
	}
	return nil
}

// createBody is the mapping file plus the alias, with Config.Replicas applied.
func (e *Engine) createBody() ([]byte, error) {
	var def map[string]any
	if err := json.Unmarshal(e.mapping.JSON, &def); err != nil {
		return nil, fmt.Errorf("%s: mapping %s v%d: %w", e.cfg.Name, e.mapping.Name, e.mapping.Version, err)
	}
	if e.cfg.Replicas > 0 {
		settings, _ := def["settings"].(map[string]any)
		index, _ := settings["index"].(map[string]any)
		if index == nil {
			return nil, fmt.Errorf("%s: mapping %s v%d has no settings.index", e.cfg.Name, e.mapping.Name, e.mapping.Version)
		}
		index["number_of_replicas"] = e.cfg.Replicas
		index["auto_expand_replicas"] = "false"
	}
	def["aliases"] = obj{e.alias: obj{}}
	b, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("%s: create body: %w", e.cfg.Name, err)
	}
	return b, nil
}

// Ping implements search.Engine: the alias answers a count on all its shards.
func (e *Engine) Ping(ctx context.Context) error {
	if _, err := e.count(ctx, obj{"match_none": obj{}}); err != nil {
		return fmt.Errorf("%s: ping: %w", e.cfg.Name, err)
	}
	return nil
}

// Count implements search.Engine: live documents, tombstones excluded.
func (e *Engine) Count(ctx context.Context) (int, error) {
	n, err := e.count(ctx, obj{"bool": obj{"must_not": []any{isTombstone}}})
	if err != nil {
		return 0, fmt.Errorf("%s: count: %w", e.cfg.Name, err)
	}
	return n, nil
}

func (e *Engine) count(ctx context.Context, query obj) (int, error) {
	if err := e.ensure(ctx); err != nil {
		return 0, err
	}
	body, _ := json.Marshal(obj{"query": query})
	st, resp, err := e.do(ctx, http.MethodPost, "/"+e.alias+"/_count", nil, body)
	if err != nil {
		return 0, err
	}
	if st != http.StatusOK {
		return 0, unavailable(st, resp)
	}
	var r struct {
		Count  int        `json:"count"`
		Shards shardStats `json:"_shards"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return 0, fmt.Errorf("decode count: %w", err)
	}
	if err := r.Shards.check(); err != nil {
		return 0, err
	}
	return r.Count, nil
}

type shardStats struct {
	Total, Successful, Failed int
}

func (s shardStats) check() error {
	if s.Failed > 0 || s.Successful < s.Total {
		return fmt.Errorf("%w: %d of %d shards failed", search.ErrUnavailable, s.Total-s.Successful, s.Total)
	}
	return nil
}

// Versions implements search.Engine. Tombstones count as absent.
func (e *Engine) Versions(ctx context.Context, ids []string) (map[string]int64, error) {
	return e.versionsIn(ctx, e.alias, ids)
}

// versionsIn is Versions over an alias or index.
func (e *Engine) versionsIn(ctx context.Context, target string, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	if err := e.ensure(ctx); err != nil {
		return nil, fmt.Errorf("%s: versions: %w", e.cfg.Name, err)
	}
	const chunk = 1000
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		body, _ := json.Marshal(obj{"ids": part})
		st, resp, err := e.do(ctx, http.MethodPost, "/"+target+"/_mget", url.Values{"_source_includes": {"deleted"}}, body)
		if err != nil {
			return nil, fmt.Errorf("%s: versions: %w", e.cfg.Name, err)
		}
		if st != http.StatusOK {
			return nil, fmt.Errorf("%s: versions: %w", e.cfg.Name, unavailable(st, resp))
		}
		var r struct {
			Docs []struct {
				ID      string `json:"_id"`
				Found   bool   `json:"found"`
				Version int64  `json:"_version"`
				Source  struct {
					Deleted bool `json:"deleted"`
				} `json:"_source"`
				Error json.RawMessage `json:"error"`
			} `json:"docs"`
		}
		if err := json.Unmarshal(resp, &r); err != nil {
			return nil, fmt.Errorf("%s: versions: decode: %w", e.cfg.Name, err)
		}
		for _, d := range r.Docs {
			if len(d.Error) > 0 && string(d.Error) != "null" {
				return nil, fmt.Errorf("%s: versions: %s: %w: %s", e.cfg.Name, d.ID, search.ErrUnavailable, d.Error)
			}
			if d.Found && !d.Source.Deleted {
				out[d.ID] = d.Version
			}
		}
	}
	return out, nil
}

type obj = map[string]any

// isTombstone matches tombstone documents; every query excludes them.
var isTombstone = obj{"term": obj{"deleted": true}}

// do sends one request and reads the whole response. A transport failure (unreachable,
// timeout) wraps search.ErrUnavailable; an HTTP status is returned as is.
func (e *Engine) do(ctx context.Context, method, path string, query url.Values, body []byte) (int, []byte, error) {
	return e.doType(ctx, method, path, query, body, "application/json")
}

func (e *Engine) doType(ctx context.Context, method, path string, query url.Values, body []byte, contentType string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	u := url.URL{Path: path, RawQuery: query.Encode()}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	res, err := e.cfg.Send(req)
	if res == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return 0, nil, fmt.Errorf("%w: %s %s: %w", search.ErrUnavailable, method, path, err)
	}
	defer res.Body.Close()
	b, rerr := io.ReadAll(res.Body)
	if rerr != nil {
		return 0, nil, fmt.Errorf("%w: %s %s: read response: %w", search.ErrUnavailable, method, path, rerr)
	}
	return res.StatusCode, b, nil
}

// errorType and errorReason read an error response ({"error": {"type", "reason"}}).
func errorType(body []byte) string { t, _ := errorInfo(body); return t }

func errorInfo(body []byte) (typ, reason string) {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &r) != nil || len(r.Error) == 0 {
		return "", strings.TrimSpace(string(truncate(body, 300)))
	}
	var e struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		RootCaus []struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"root_cause"`
	}
	if json.Unmarshal(r.Error, &e) != nil {
		var s string
		_ = json.Unmarshal(r.Error, &s)
		return "", s
	}
	if e.Reason == "" && len(e.RootCaus) > 0 {
		return e.RootCaus[0].Type, e.RootCaus[0].Reason
	}
	return e.Type, e.Reason
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func statusError(status int, body []byte) error {
	typ, reason := errorInfo(body)
	if typ == "" {
		return fmt.Errorf("HTTP %d: %s", status, reason)
	}
	return fmt.Errorf("HTTP %d %s: %s", status, typ, reason)
}

// transient reports whether a status may go away by itself: throttling or a server error.
func transient(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// unavailable classifies a failed read: a missing index, throttling, auth failures and server
// errors mean the engine cannot serve (search is degraded); a 400 is a defect in the request.
func unavailable(status int, body []byte) error {
	if status == http.StatusBadRequest {
		return statusError(status, body)
	}
	return fmt.Errorf("%w: %w", search.ErrUnavailable, statusError(status, body))
}

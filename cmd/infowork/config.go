package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/analyzers"
	"infowork/pgserver"
	"infowork/search"
	"infowork/search/embedded"
	"infowork/store"
)

// config is read from the environment (see DESIGN.md "Contracts").
type config struct {
	DatabaseURL    string
	HTTPAddr       string
	DataDir        string
	SearchEngine   string
	SearchURLs     []string
	UserDict       string
	TrustedProxies []string
	CookieSecure   bool
	LogLevel       slog.Level
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL:  os.Getenv("INFOWORK_DATABASE_URL"),
		HTTPAddr:     envOr("INFOWORK_HTTP_ADDR", "127.0.0.1:8080"),
		DataDir:      envOr("INFOWORK_DATA_DIR", ".data"),
		SearchEngine: envOr("INFOWORK_SEARCH_ENGINE", "embedded"),
		UserDict:     os.Getenv("INFOWORK_USER_DICT"),
		CookieSecure: os.Getenv("INFOWORK_COOKIE_SECURE") == "true",
	}
	for _, u := range strings.Split(os.Getenv("INFOWORK_SEARCH_URLS"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.SearchURLs = append(c.SearchURLs, u)
		}
	}
	for _, p := range strings.Split(os.Getenv("INFOWORK_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(envOr("INFOWORK_LOG_LEVEL", "info"))); err != nil {
		return c, fmt.Errorf("INFOWORK_LOG_LEVEL: %w", err)
	}
	switch c.SearchEngine {
	case "embedded":
	case "elasticsearch", "opensearch":
		if len(c.SearchURLs) == 0 {
			return c, fmt.Errorf("INFOWORK_SEARCH_ENGINE=%s needs INFOWORK_SEARCH_URLS", c.SearchEngine)
		}
	default:
		return c, fmt.Errorf("INFOWORK_SEARCH_ENGINE %q: want embedded, elasticsearch or opensearch", c.SearchEngine)
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("INFOWORK_DATA_DIR: %w", err)
	}
	c.DataDir = abs
	return c, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (c config) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
}

// openDB connects to INFOWORK_DATABASE_URL, or starts the private cluster under the data
// directory when it is unset, and migrates.
func (c config) openDB(ctx context.Context, log *slog.Logger) (*pgxpool.Pool, error) {
	dsn := c.DatabaseURL
	if dsn == "" {
		var err error
		dsn, err = pgserver.Ensure(ctx, pgserver.Options{Dir: filepath.Join(c.DataDir, "postgres"), Logger: log, Out: os.Stderr})
		if err != nil {
			return nil, err
		}
	}
	pool, err := store.Open(ctx, dsn, 20)
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx, pool, log); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

func (c config) analyzer(log *slog.Logger) (*analyzers.Analyzer, error) {
	return analyzers.New(analyzers.Options{UserDict: c.UserDict, Logger: log})
}

// openEngine is the one place a concrete search engine is chosen.
func (c config) openEngine(an *analyzers.Analyzer, log *slog.Logger) (search.Engine, error) {
	switch c.SearchEngine {
	case "embedded":
		return embedded.Open(embedded.Options{Dir: filepath.Join(c.DataDir, "index"), Analyzer: an, Logger: log})
	default:
		return nil, fmt.Errorf("search engine %q is not available in this build yet; use INFOWORK_SEARCH_ENGINE=embedded", c.SearchEngine)
	}
}

const shutdownGrace = 15 * time.Second

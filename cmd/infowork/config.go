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
	"infowork/attachment"
	"infowork/pgserver"
	"infowork/search"
	"infowork/search/elasticsearch"
	"infowork/search/embedded"
	"infowork/search/opensearch"
	"infowork/store"
)

// config is read from the environment (see DESIGN.md "Contracts").
type config struct {
	DatabaseURL string
	// ReadOnlyURL, when set, serves long read-only work (exports; statistics later) from a hot
	// standby, e.g. a multi-host DSN with target_session_attrs=prefer-standby.
	ReadOnlyURL  string
	HTTPAddr     string
	DataDir      string
	SearchEngine string
	SearchURLs   []string
	// Elasticsearch/OpenSearch: basic-auth credentials and a prefix of the alias and index
	// names (INFOWORK_SEARCH_USERNAME, INFOWORK_SEARCH_PASSWORD, INFOWORK_SEARCH_INDEX_PREFIX).
	SearchUsername    string
	SearchPassword    string
	SearchIndexPrefix string
	// SearchCACert holds the PEM CA certificates of an HTTPS cluster (read from the file named
	// by INFOWORK_SEARCH_CA_CERT); SearchReplicas (INFOWORK_SEARCH_REPLICAS) fixes
	// number_of_replicas of indices infowork creates (0: the mapping's auto-expand 0-1).
	SearchCACert   []byte
	SearchReplicas int
	UserDict       string
	Synonyms       string // INFOWORK_SYNONYMS: site synonym file, added to the embedded one
	TrustedProxies []string
	CookieSecure   bool
	LogLevel       slog.Level

	// Accounts (docs/security.md, "口令策略：等保与 ASVS 的取舍").
	PasswordMinLength  int           // INFOWORK_PASSWORD_MIN_LENGTH, default 10
	PasswordClasses    int           // INFOWORK_PASSWORD_CLASSES, default 0 (ASVS); 等保: 3
	PasswordMaxAgeDays int           // INFOWORK_PASSWORD_MAX_AGE_DAYS, default 0 (ASVS); 等保: 90
	PasswordHistory    int           // INFOWORK_PASSWORD_HISTORY, default 5; 0 turns it off
	SessionIdle        time.Duration // INFOWORK_SESSION_IDLE, default 30m
	SessionMax         time.Duration // INFOWORK_SESSION_MAX, default 12h
	SecretKey          string        // INFOWORK_SECRET_KEY; unset: DataDir/secret.key
	RateLoginPerIP     int           // INFOWORK_RATE_LOGIN_PER_IP, default 30 per minute
	RateLoginPerUser   int           // INFOWORK_RATE_LOGIN_PER_USER, default 10 per minute
	RatePerSession     int           // INFOWORK_RATE_PER_SESSION, default 600 per minute

	// Upload limits (docs/documents.md, "Limits"). INFOWORK_UPLOAD_MAX_BYTES keeps the meaning it
	// has had since images came first: the limit of one image (default 1 MiB, the gov intake
	// rule). INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES is the limit of one document (PDF, Office, text,
	// HTML; default 20 MiB) and so of any upload: it must be at least the image limit.
	UploadMaxBytes         int // INFOWORK_UPLOAD_MAX_BYTES, default 1 MiB
	UploadMaxDocumentBytes int // INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES, default 20 MiB
}

// Bounds of the upload limits. The web server holds a request body in memory while it is read
// (BodyLimit is the document limit plus multipart headroom), so a document may not exceed
// 100 MiB; below 1 KiB no real file fits.
const (
	uploadLimitMin         = 1 << 10
	uploadImageLimitMax    = 64 << 20
	uploadDocumentLimitMax = 100 << 20
)

// loadUploadLimits reads and checks the two upload limits.
func (c *config) loadUploadLimits() error {
	var err error
	if c.UploadMaxBytes, err = envInt("INFOWORK_UPLOAD_MAX_BYTES", attachment.DefaultMaxBytes, uploadLimitMin, uploadImageLimitMax); err != nil {
		return err
	}
	if c.UploadMaxDocumentBytes, err = envInt("INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES", attachment.DefaultMaxDocumentBytes, uploadLimitMin, uploadDocumentLimitMax); err != nil {
		return err
	}
	if c.UploadMaxDocumentBytes < c.UploadMaxBytes {
		return fmt.Errorf("INFOWORK_UPLOAD_MAX_DOCUMENT_BYTES=%d is below INFOWORK_UPLOAD_MAX_BYTES=%d (the image limit): the document limit caps every upload, so it must be at least the image limit",
			c.UploadMaxDocumentBytes, c.UploadMaxBytes)
	}
	return nil
}

// attachmentOptions are the attachment store's options from the configuration.
func (c config) attachmentOptions() attachment.Options {
	return attachment.Options{DataDir: c.DataDir, MaxBytes: int64(c.UploadMaxBytes), MaxDocumentBytes: int64(c.UploadMaxDocumentBytes)}
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL:       os.Getenv("INFOWORK_DATABASE_URL"),
		ReadOnlyURL:       os.Getenv("INFOWORK_DATABASE_READONLY_URL"),
		HTTPAddr:          envOr("INFOWORK_HTTP_ADDR", "127.0.0.1:8080"),
		DataDir:           envOr("INFOWORK_DATA_DIR", ".data"),
		SearchEngine:      envOr("INFOWORK_SEARCH_ENGINE", "embedded"),
		SearchUsername:    os.Getenv("INFOWORK_SEARCH_USERNAME"),
		SearchPassword:    os.Getenv("INFOWORK_SEARCH_PASSWORD"),
		SearchIndexPrefix: os.Getenv("INFOWORK_SEARCH_INDEX_PREFIX"),
		UserDict:          os.Getenv("INFOWORK_USER_DICT"),
		Synonyms:          os.Getenv("INFOWORK_SYNONYMS"),
		CookieSecure:      os.Getenv("INFOWORK_COOKIE_SECURE") == "true",
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
	if err := c.loadAccountConfig(); err != nil {
		return c, err
	}
	if err := c.loadUploadLimits(); err != nil {
		return c, err
	}
	var err error
	if c.SearchReplicas, err = envInt("INFOWORK_SEARCH_REPLICAS", 0, 0, 10); err != nil {
		return c, err
	}
	if f := os.Getenv("INFOWORK_SEARCH_CA_CERT"); f != "" {
		if c.SearchCACert, err = os.ReadFile(f); err != nil { // #nosec G304 G703 -- a path the operator configures
			return c, fmt.Errorf("INFOWORK_SEARCH_CA_CERT: %w", err)
		}
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

// openReadOnly connects the optional read-only pool; without INFOWORK_DATABASE_READONLY_URL the
// read-write pool serves that work too.
func (c config) openReadOnly(ctx context.Context, rw *pgxpool.Pool) (*pgxpool.Pool, func(), error) {
	if c.ReadOnlyURL == "" {
		return rw, func() {}, nil
	}
	pool, err := store.Open(ctx, c.ReadOnlyURL, 10)
	if err != nil {
		return nil, nil, fmt.Errorf("INFOWORK_DATABASE_READONLY_URL: %w", err)
	}
	return pool, pool.Close, nil
}

func (c config) analyzer(log *slog.Logger) (*analyzers.Analyzer, error) {
	// The dictionaries are extracted under the data directory (owned by this installation), not
	// into a shared, predictable folder under /tmp that another local user could create first.
	return analyzers.New(analyzers.Options{UserDict: c.UserDict, Synonyms: c.Synonyms, Logger: log, CacheDir: filepath.Join(c.DataDir, "jieba")})
}

// openEngine is the one place a concrete search engine is chosen.
func (c config) openEngine(an *analyzers.Analyzer, log *slog.Logger) (search.Engine, error) {
	switch c.SearchEngine {
	case "embedded":
		e, err := embedded.Open(embedded.Options{Dir: filepath.Join(c.DataDir, "index"), Analyzer: an, Logger: log})
		if err != nil {
			return nil, err
		}
		return e, nil
	case "opensearch", "elasticsearch":
		// Bounds the index set-up at start; an unreachable cluster does not fail the start
		// (the engine sets the index up on first use and search reports degraded until then).
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		// Each branch checks its error before returning, so a failed Open never yields a
		// non-nil search.Engine holding a nil pointer.
		if c.SearchEngine == "opensearch" {
			e, err := opensearch.Open(ctx, opensearch.Options{
				URLs: c.SearchURLs, Username: c.SearchUsername, Password: c.SearchPassword,
				IndexPrefix: c.SearchIndexPrefix, Analyzer: an, Logger: log,
				CACert: c.SearchCACert, Replicas: c.SearchReplicas,
			})
			if err != nil {
				return nil, err
			}
			return e, nil
		}
		e, err := elasticsearch.Open(ctx, elasticsearch.Options{
			URLs: c.SearchURLs, Username: c.SearchUsername, Password: c.SearchPassword,
			IndexPrefix: c.SearchIndexPrefix, Analyzer: an, Logger: log,
			CACert: c.SearchCACert, Replicas: c.SearchReplicas,
		})
		if err != nil {
			return nil, err
		}
		return e, nil
	default:
		return nil, fmt.Errorf("INFOWORK_SEARCH_ENGINE %q: want embedded, elasticsearch or opensearch", c.SearchEngine)
	}
}

const shutdownGrace = 15 * time.Second

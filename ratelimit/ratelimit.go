package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Rule is a limit: at most Limit events per Window for one key.
type Rule struct {
	Name   string // key prefix, e.g. login_ip
	Limit  int
	Window time.Duration
}

// Decision is the outcome of one Allow.
type Decision struct {
	Allowed    bool
	Count      int           // events in the current window, this one included
	RetryAfter time.Duration // until the window ends; meaningful when !Allowed
	// Tripped is true for the first event over the limit in a window: callers audit that one
	// event instead of every refused request.
	Tripped bool
}

// Options configure a Limiter.
type Options struct {
	// Retention is how long a window row is kept after it starts; default 1 h. It must exceed
	// the longest Window of any rule.
	Retention time.Duration
	// PurgeInterval is the period of Run; default 1 min.
	PurgeInterval time.Duration
	Logger        *slog.Logger
}

// Limiter checks rules against the shared counters.
type Limiter struct {
	db   *pgxpool.Pool
	opts Options
	log  *slog.Logger
}

// New builds a limiter on db (which must have the rate_limits table, migration 0002).
func New(db *pgxpool.Pool, opts Options) *Limiter {
	if opts.Retention <= 0 {
		opts.Retention = time.Hour
	}
	if opts.PurgeInterval <= 0 {
		opts.PurgeInterval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Limiter{db: db, opts: opts, log: opts.Logger.With("component", "ratelimit")}
}

// The window start is computed from the database clock; to_timestamp(floor(epoch / w) * w)
// works on PostgreSQL 12 (date_bin needs 14).
const bump = `INSERT INTO rate_limits AS r (key, window_start, count)
	VALUES ($1, to_timestamp(floor(extract(epoch FROM clock_timestamp()) / $2::float8) * $2::float8), 1)
	ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + 1
	RETURNING r.count, extract(epoch FROM r.window_start - clock_timestamp())::float8 + $2::float8`

// Allow counts one event for key under rule and says whether it is within the limit. A rule
// with Limit <= 0 allows everything without touching the database.
func (l *Limiter) Allow(ctx context.Context, rule Rule, key string) (Decision, error) {
	if rule.Limit <= 0 || rule.Window <= 0 {
		return Decision{Allowed: true}, nil
	}
	var (
		count int
		left  float64
	)
	// Counters need no durability: a crash loses at most the last few hundred milliseconds of
	// counts, which only makes a window a little more lenient. So the upsert commits without
	// waiting for the WAL flush (synchronous_commit off for this transaction only), and the
	// four statements travel in one round trip. Every request of the web app passes here.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	b.Queue(bump, rule.Name+":"+key, rule.Window.Seconds()).QueryRow(func(row pgx.Row) error { return row.Scan(&count, &left) })
	b.Queue(`COMMIT`)
	if err := l.db.SendBatch(ctx, b).Close(); err != nil {
		return Decision{}, fmt.Errorf("ratelimit: %s: %w", rule.Name, err)
	}
	d := Decision{Allowed: count <= rule.Limit, Count: count, Tripped: count == rule.Limit+1}
	if !d.Allowed {
		d.RetryAfter = time.Duration(math.Max(1, math.Ceil(left))) * time.Second
	}
	return d, nil
}

// Purge deletes windows that started more than Retention ago and returns how many.
func (l *Limiter) Purge(ctx context.Context) (int64, error) {
	tag, err := l.db.Exec(ctx, `DELETE FROM rate_limits WHERE window_start < clock_timestamp() - $1 * interval '1 second'`,
		l.opts.Retention.Seconds())
	if err != nil {
		return 0, fmt.Errorf("ratelimit: purge: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Run purges old windows every PurgeInterval until ctx ends. Several replicas may run it; the
// DELETE is idempotent.
func (l *Limiter) Run(ctx context.Context) error {
	t := time.NewTicker(l.opts.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := l.Purge(ctx); err != nil {
				l.log.Warn("purge failed", "err", err)
			} else if n > 0 {
				l.log.Debug("purged rate-limit windows", "rows", n)
			}
		}
	}
}

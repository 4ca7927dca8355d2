package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"infowork/analyzers"
	"infowork/auth"
	"infowork/bench"
	"infowork/demo"
	"infowork/pgserver"
	"infowork/store"
)

// benchDatabase is the database `infowork bench` drops and recreates for every run.
const benchDatabase = "infowork_bench"

// benchPort is the private cluster's port when INFOWORK_DATABASE_URL is unset (not the dev
// cluster's, so a bench never touches it).
const benchPort = 54339

func cmdBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	docs := fs.Int("docs", 100_000, "documents to generate and load (100000, 1000000, 10000000)")
	seed := fs.Uint64("seed", 1, "generator seed (the same seed gives the same documents and queries)")
	scenarios := fs.String("scenarios", strings.Join(bench.AllScenarios, ","), "scenarios to run (load always runs)")
	clients := fs.String("clients", "1,8,32", "concurrent search clients")
	searchDur := fs.Duration("search-duration", 10*time.Second, "measuring time per engine and client count")
	freshWrites := fs.Int("fresh-writes", 100, "freshness: writes per engine")
	freshRate := fs.Float64("fresh-rate", 20, "freshness: writes per second")
	httpRate := fs.Int("http-rate", 1000, "HTTP: requests per second")
	httpDur := fs.Duration("http-duration", 30*time.Second, "HTTP: duration (the target is stated for 5m)")
	httpSteps := fs.String("http-steps", "", "HTTP: lower rates to run first, 10s each, for the machine's capacity (e.g. 200,400,600,800)")
	osURL := fs.String("opensearch", os.Getenv("INFOWORK_BENCH_OPENSEARCH_URL"), "OpenSearch URL for the alternative ('' or none: skip)")
	profile := fs.String("profile", "", "write CPU profiles (search at 8 clients, HTTP) and a heap profile to this folder")
	report := fs.String("report", "BENCHMARKS.md", "append the tables to this Markdown file (none: do not)")
	corpus := fs.String("corpus", "", "civic messages folder (default ../shared/corpus/civic-messages)")
	dataDir := fs.String("data", ".data/bench", "index and private PostgreSQL folder")
	bulk := fs.Bool("bulk-insert", false, "load with multi-row INSERTs and fill the engines from the rows (large corpora; skips the end-to-end load)")
	pgPort := fs.Int("pg-port", benchPort, "port of the private PostgreSQL cluster (when INFOWORK_DATABASE_URL is unset)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg := bench.Config{Docs: *docs, Seed: *seed, SearchDuration: *searchDur, FreshWrites: *freshWrites, FreshRate: *freshRate,
		HTTPRate: *httpRate, HTTPDuration: *httpDur, ProfileDir: *profile, BulkInsert: *bulk, Out: os.Stdout}
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Scenarios = append(cfg.Scenarios, s)
		}
	}
	for _, r := range strings.Split(*httpSteps, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 {
			return usageError{fmt.Sprintf("--http-steps: %q is not a positive number", r)}
		}
		cfg.HTTPSteps = append(cfg.HTTPSteps, n)
	}
	for _, c := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return usageError{fmt.Sprintf("--clients: %q is not a positive number", c)}
		}
		cfg.Clients = append(cfg.Clients, n)
	}
	if *osURL != "" && *osURL != "none" {
		cfg.OpenSearchURL = *osURL
		if err := reachable(ctx, *osURL); err != nil {
			return fmt.Errorf("--opensearch %s: %w (start the test node with deploy/opensearch-dev/run.sh start --port 9209 --data .data/opensearch-test, or pass --opensearch none)", *osURL, err)
		}
	}
	data, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	started := time.Now()
	command := "infowork bench " + strings.Join(args, " ")
	machine := bench.Machine()

	dsn, err := benchDSN(ctx, data, *pgPort, log)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, dsn, 40)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db, log); err != nil {
		return err
	}
	an, err := analyzers.New(analyzers.Options{Logger: log, CacheDir: filepath.Join(data, "jieba")})
	if err != nil {
		return err
	}
	defer an.Close()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	authSvc, err := auth.New(db, auth.Options{Logger: log, SecretKey: key, PasswordHistory: -1})
	if err != nil {
		return err
	}
	ds, err := demo.Load(*corpus, 0)
	if err != nil {
		return err
	}
	for _, w := range ds.Warnings {
		fmt.Fprintln(os.Stderr, "bench: corpus:", w)
	}
	cfg.DB, cfg.Analyzer, cfg.Dataset, cfg.Auth = db, an, ds, authSvc
	cfg.IndexDir, cfg.Logger = filepath.Join(data, "index"), log
	fmt.Printf("infowork bench: %d documents from %s (seed %d), data in %s\n", cfg.Docs, ds.Source, cfg.Seed, data)
	notes := []string{
		"absolute figures depend on what else the machine runs (the load average above); compare the ratios, which are measured side by side in the same run",
		fmt.Sprintf("corpus: %s, %d messages, seed %d", ds.Source, len(ds.Messages), cfg.Seed),
	}
	if cfg.OpenSearchURL == "" {
		notes = append(notes, "OpenSearch: not run (no --opensearch URL)")
	} else {
		notes = append(notes, "OpenSearch: single node at "+cfg.OpenSearchURL+" (deploy/opensearch-dev)")
	}
	if *report != "" && *report != "none" {
		cfg.Report = *report
		if err := bench.StartReport(*report, command, machine, started, notes); err != nil {
			return err
		}
	}
	_, runErr := bench.Run(ctx, cfg)
	if *profile != "" {
		writeHeapProfile(*profile)
	}
	if cfg.Report != "" {
		if err := bench.EndReport(cfg.Report, started, runErr); err != nil {
			return err
		}
		fmt.Printf("\nbench: appended to %s\n", cfg.Report)
	}
	return runErr
}

// benchDSN drops and recreates the benchmark database on INFOWORK_DATABASE_URL's server, or on
// a private cluster under data when it is unset.
func benchDSN(ctx context.Context, data string, port int, log *slog.Logger) (string, error) {
	dsn := os.Getenv("INFOWORK_DATABASE_URL")
	if dsn == "" {
		var err error
		dsn, err = pgserver.Ensure(ctx, pgserver.Options{Dir: filepath.Join(data, "postgres"), Port: port, Logger: log, Out: os.Stderr})
		if err != nil {
			return "", err
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return "", fmt.Errorf("bench: connect to create %s: %w", benchDatabase, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := pgx.Identifier{benchDatabase}.Sanitize()
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, benchDatabase); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name); err != nil {
		return "", fmt.Errorf("bench: drop %s: %w", benchDatabase, err)
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("bench: create %s: %w", benchDatabase, err)
	}
	u.Path = "/" + benchDatabase
	return u.String(), nil
}

func reachable(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil) // #nosec G704 -- u is the operator's own --url/--opensearch flag
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req) // #nosec G704 -- the operator's own flag, see above
	if err != nil {
		return err
	}
	_ = resp.Body.Close() // only the status is used
	if resp.StatusCode >= 500 {
		return errors.New(resp.Status)
	}
	return nil
}

func writeHeapProfile(dir string) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return
	}
	f, err := os.Create(filepath.Join(dir, "heap.pprof")) // #nosec G304 -- operator-chosen profile directory
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.WriteHeapProfile(f)
}

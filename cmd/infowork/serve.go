package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"infowork/access"
	"infowork/analyzers"
	"infowork/attachment"
	"infowork/auth"
	"infowork/demo"
	"infowork/desk"
	"infowork/extract"
	"infowork/indexer"
	"infowork/ratelimit"
	"infowork/savedsearch"
	"infowork/scoring"
	"infowork/search"
	"infowork/store"
	"infowork/submission"
	"infowork/webapp"
)

func cmdServe(ctx context.Context, args []string, withWeb, withIndexer bool) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	withDemo := fs.Bool("demo", false, "load the demo data first when the database has none")
	corpus := fs.String("corpus", "", "demo corpus folder (default ../shared/corpus/civic-messages)")
	// The notification dispatcher (package desk) runs in the background process by default, so one
	// 'infowork serve' delivers e-mail/webhook/SMS notifications; web replicas leave it to the
	// indexer (or to 'infowork notify'). Several dispatchers may run: rows are claimed SKIP LOCKED.
	withNotify := fs.Bool("notify", withIndexer, "deliver notifications to users' e-mail/webhook/SMS channels in this process (as 'infowork notify' does)")
	notifyInterval := fs.Duration("notify-interval", 30*time.Second, "time between notification delivery rounds")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("serve: unexpected argument %q", fs.Arg(0))}
	}
	if *notifyInterval <= 0 {
		return usageError{"--notify-interval must be more than 0"}
	}
	var senders []desk.Sender
	if *withNotify {
		var err error
		if senders, err = notifySenders(); err != nil {
			return err
		}
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := cfg.logger()
	if cfg.SearchEngine == "embedded" && withWeb != withIndexer {
		return fmt.Errorf("the embedded search engine lives inside one process: run 'infowork serve' (web and indexer together), or configure INFOWORK_SEARCH_ENGINE=opensearch|elasticsearch to run them apart")
	}
	var ln net.Listener
	{
		// Take the port first: fail fast when it is taken, before the slow start-up steps.
		// The web app serves on it; an indexer-only process serves its operations endpoints.
		var err error
		ln, err = net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s (INFOWORK_HTTP_ADDR): %w", cfg.HTTPAddr, err)
		}
		defer ln.Close()
	}
	db, err := cfg.openDB(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close()
	an, err := cfg.analyzer(log)
	if err != nil {
		return err
	}
	defer an.Close()
	engine, err := cfg.openEngine(an, log)
	if err != nil {
		return err
	}
	defer engine.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(indexer.NewOutboxCollector(db))
	reg.MustRegister(store.NewPoolCollector(db))

	authOpts, err := cfg.authOptions(log, withWeb)
	if err != nil {
		return err
	}
	authSvc, err := auth.New(db, authOpts)
	if err != nil {
		return err
	}
	subs := submission.New(db)

	if *withDemo {
		if err := loadDemoIfEmpty(ctx, db, authSvc, subs, *corpus); err != nil {
			return err
		}
	}

	if withIndexer {
		if err := refillEmptyIndex(ctx, db, engine, log); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		reloadOnHangup(ctx, an, log)
	}()

	if withIndexer {
		// Saved-search subscriptions are matched as batches commit (issue 7).
		notifier, err := savedsearch.NewNotifier(savedsearch.NotifierOptions{DB: db, Analyzer: an, Logger: log, Registerer: reg})
		if err != nil {
			return err
		}
		ix, err := indexer.New(indexer.Options{DB: db, Engine: engine, Logger: log, Registerer: reg,
			Sources: map[string]indexer.Source{submission.Entity: submission.Documents}, OnIndexed: notifier.OnIndexed})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- ix.Run(ctx)
		}()
	}
	if *withNotify {
		d, err := desk.NewDispatcher(db, desk.DispatcherOptions{Senders: senders, BaseURL: os.Getenv("INFOWORK_BASE_URL"), Logger: log})
		if err != nil {
			return err
		}
		// With no user channel set (or no SMTP relay configured) a round finds nothing and says
		// nothing; the in-app inbox never depends on it.
		log.Info("notification delivery running in-process", "interval", notifyInterval.String(), "email", os.Getenv("INFOWORK_SMTP_ADDR") != "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Run(ctx, *notifyInterval)
		}()
	}
	var ops *http.Server
	if !withWeb {
		ops = opsServer(db, engine, reg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ops.Serve(ln); err != nil && err != http.ErrServerClosed && ctx.Err() == nil {
				errc <- fmt.Errorf("operations endpoints: %w", err)
			}
		}()
		log.Info("indexer operations endpoints", "addr", cfg.HTTPAddr, "paths", "/healthz /readyz /metrics")
	}
	var app *webapp.App
	if withWeb {
		limiter := ratelimit.New(db, ratelimit.Options{Logger: log})
		// Text extraction and page previews run in child processes of this binary with limits
		// (package extract); the worker lives where the blobs are (issue 11).
		runner, err := extract.NewRunner(extract.RunnerOptions{})
		if err != nil {
			return err
		}
		ao := cfg.attachmentOptions() // the upload limits (INFOWORK_UPLOAD_MAX_BYTES, …_DOCUMENT_BYTES)
		ao.Extractor, ao.Logger = runner, log
		atts, err := attachment.New(db, ao)
		if err != nil {
			return err
		}
		extractor, err := attachment.NewWorker(atts, attachment.WorkerOptions{Logger: log, Registerer: reg})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = extractor.Run(ctx)
		}()
		ro, closeRO, err := cfg.openReadOnly(ctx, db)
		if err != nil {
			return err
		}
		defer closeRO()
		app, err = webapp.New(webapp.Options{DB: db, ReadDB: ro, Auth: authSvc, Submissions: subs, Engine: search.Instrument(engine, reg), Logger: log,
			Registerer: reg, Gatherer: reg, CookieSecure: cfg.CookieSecure, TrustedProxies: cfg.TrustedProxies,
			Limiter: limiter, RateLimits: cfg.rateLimits(), Attachments: atts,
			Analyzer: an, ExportDir: filepath.Join(cfg.DataDir, "exports")})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() { // purges old rate-limit windows; ends with ctx
			defer wg.Done()
			_ = limiter.Run(ctx)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := app.Serve(ln); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("http: %w", err)
				return
			}
			errc <- nil
		}()
		printWelcome(cfg, *withDemo)
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	log.Info("shutting down")
	if app != nil {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		if serr := app.Shutdown(sctx); serr != nil {
			log.Warn("http shutdown", "err", serr)
		}
		scancel()
		_ = ln.Close() // ends Serve even if it had not started when Shutdown ran
	}
	if ops != nil {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = ops.Shutdown(sctx)
		scancel()
	}
	cancel()
	wg.Wait()
	return err
}

// reloadOnHangup re-reads the user dictionary and the synonym files on every SIGHUP until ctx
// ends (`kill -HUP <pid>` after editing INFOWORK_USER_DICT or INFOWORK_SYNONYMS). A failed
// reload keeps the dictionaries in use.
func reloadOnHangup(ctx context.Context, an *analyzers.Analyzer, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := an.Reload(); err != nil {
				log.Error("reload dictionaries on SIGHUP", "err", err)
			}
		}
	}
}

func printWelcome(cfg config, withDemo bool) {
	fmt.Fprintf(os.Stdout, "\ninfowork 已启动：http://%s\n", cfg.HTTPAddr)
	fmt.Fprintf(os.Stdout, "  数据目录 %s，搜索引擎 %s\n", cfg.DataDir, cfg.SearchEngine)
	if withDemo {
		fmt.Fprintf(os.Stdout, "  演示账户（密码均为 %s）：\n", demo.Password)
		for _, a := range demo.Accounts {
			fmt.Fprintf(os.Stdout, "    %-11s %s\n", a.Username, a.Note)
		}
	}
	fmt.Fprintln(os.Stdout, "  按 Ctrl+C 停止。")
}

func loadDemoIfEmpty(ctx context.Context, db *pgxpool.Pool, authSvc *auth.Service, subs *submission.Service, corpus string) error {
	var n int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM submissions WHERE source = 'demo'`).Scan(&n)
	})
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	return loadDemo(ctx, db, authSvc, subs, corpus, 0)
}

func loadDemo(ctx context.Context, db *pgxpool.Pool, authSvc *auth.Service, subs *submission.Service, corpus string, limit int) error {
	ds, err := demo.Load(corpus, limit)
	if err != nil {
		return err
	}
	for _, w := range ds.Warnings {
		fmt.Fprintln(os.Stderr, "demo:", w)
	}
	res, err := demo.Seed(ctx, db, authSvc, subs, ds, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo: %s — %d 个单位，%d 个类别，%d 个账户，%d 条信息（跳过 %d），用时 %s\n",
		ds.Source, res.Units, res.Categories, res.Accounts, res.Messages, res.Skipped, res.Took.Round(time.Millisecond))
	// An editorial history and the cited scoring rules, so statistics and dashboards show something (issue 7).
	n, err := scoring.New(db).SeedDemo(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo: %d 条信息补充了采用、综合采用或退回记录，考核规则按引用的考核办法设定\n", n)
	return nil
}

func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	corpus := fs.String("corpus", "", "corpus folder (default ../shared/corpus/civic-messages)")
	limit := fs.Int("limit", 0, "load at most N messages (0 = all)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *limit < 0 {
		return usageError{"--limit must be 0 or more"}
	}
	cfg, db, log, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	authOpts, err := cfg.authOptions(log, false)
	if err != nil {
		return err
	}
	authSvc, err := auth.New(db, authOpts)
	if err != nil {
		return err
	}
	if err := loadDemo(ctx, db, authSvc, submission.New(db), *corpus, *limit); err != nil {
		return err
	}
	_ = cfg
	fmt.Printf("演示账户（密码均为 %s）：\n", demo.Password)
	for _, a := range demo.Accounts {
		fmt.Printf("  %-11s %s\n", a.Username, a.Note)
	}
	fmt.Println("报送信息将由运行中的 'infowork serve' 建立索引。")
	return nil
}

// setup loads the configuration and opens the (migrated) database.
func setup(ctx context.Context) (config, *pgxpool.Pool, *slog.Logger, error) {
	cfg, err := loadConfig()
	if err != nil {
		return cfg, nil, nil, err
	}
	log := cfg.logger()
	db, err := cfg.openDB(ctx, log)
	if err != nil {
		return cfg, nil, nil, err
	}
	return cfg, db, log, nil
}

// refillEmptyIndex queues every record when the index is empty but the database is not: a new
// index version, a deleted index directory or a new engine then fills itself from the system of
// record without an operator step.
func refillEmptyIndex(ctx context.Context, db *pgxpool.Pool, engine search.Engine, log *slog.Logger) error {
	n, err := engine.Count(ctx)
	if err != nil || n > 0 {
		return nil // an unreachable engine is retried by the indexer; a filled one needs nothing
	}
	queued, err := queueAll(ctx, db)
	if err != nil {
		return err
	}
	if queued > 0 {
		log.Info("search index is empty: every record queued for indexing", "records", queued)
	}
	return nil
}

// opsServer serves /healthz, /readyz and /metrics of an indexer-only process, so it can be
// scraped and probed like the web replicas (readiness needs the database; the engine being down
// is reported but does not make the indexer unready — it retries and the backlog shows it).
func opsServer(db *pgxpool.Pool, engine search.Engine, reg *prometheus.Registry) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code := "ok", http.StatusOK
		searchState := "ok"
		if err := db.Ping(ctx); err != nil {
			status, code = "unavailable", http.StatusServiceUnavailable
		}
		if err := engine.Ping(ctx); err != nil {
			searchState = "unavailable"
			if code == http.StatusOK {
				status = "degraded"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"status":%q,"search":%q,"engine":%q}`, status, searchState, engine.Name())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

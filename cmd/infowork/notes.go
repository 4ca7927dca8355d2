package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"infowork/notes"
)

// cmdNotes runs the Lotus Notes migration (docs/notes-migration.md): notes import, notes sync,
// notes mapping.
func cmdNotes(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"notes: want 'notes import PATH…', 'notes sync', 'notes mapping', 'notes verify', 'notes original UNID', 'notes review' or 'notes resolve ID|UNID'"}
	}
	switch args[0] {
	case "import":
		return cmdNotesImport(ctx, args[1:])
	case "sync":
		return cmdNotesSync(ctx, args[1:])
	case "mapping":
		_, err := os.Stdout.Write(notes.DefaultMappingJSON())
		return err
	case "original", "review", "resolve":
		return cmdNotesReview(ctx, args[0], args[1:])
	case "verify":
		return cmdNotesVerify(ctx, args[1:])
	}
	return usageError{fmt.Sprintf("notes: unknown subcommand %q", args[0])}
}

func loadMapping(path string) (*notes.Mapping, error) {
	if path == "" {
		return notes.DefaultMapping(), nil
	}
	return notes.LoadMapping(path)
}

func cmdNotesImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("notes import", flag.ContinueOnError)
	mappingFile := fs.String("mapping", "", "mapping file (JSON; 'infowork notes mapping' prints the default to edit)")
	reportFile := fs.String("report", "", "also write the verification report as JSON to this file")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() == 0 {
		return usageError{"notes import: give a DXL file or a directory of DXL files"}
	}
	m, err := loadMapping(*mappingFile)
	if err != nil {
		return err
	}
	cfg, db, log, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	opts := notes.Options{DB: db, DataDir: cfg.DataDir, Mapping: m, Logger: log}
	if !*quiet {
		opts.Progress = os.Stderr
	}
	im, err := notes.NewImporter(opts)
	if err != nil {
		return err
	}
	failed := 0
	for _, path := range fs.Args() {
		rep, err := im.Import(ctx, path)
		rep.WriteText(os.Stdout)
		if *reportFile != "" {
			if werr := rep.WriteJSON(*reportFile); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
		if !rep.Passed {
			failed++
		}
	}
	if failed > 0 {
		return errors.New("notes import: the verification report shows unexplained differences (see above)")
	}
	return nil
}

// cmdNotesVerify checks every imported document again (the final check at cut-over).
func cmdNotesVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("notes verify", flag.ContinueOnError)
	mappingFile := fs.String("mapping", "", "the mapping file the records were imported with")
	reportFile := fs.String("report", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{"notes verify takes no arguments besides its flags"}
	}
	m, err := loadMapping(*mappingFile)
	if err != nil {
		return err
	}
	cfg, db, log, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	im, err := notes.NewImporter(notes.Options{DB: db, DataDir: cfg.DataDir, Mapping: m, Logger: log})
	if err != nil {
		return err
	}
	rep, err := im.VerifyAll(ctx)
	rep.WriteText(os.Stdout)
	if *reportFile != "" {
		if werr := rep.WriteJSON(*reportFile); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if !rep.Passed {
		return errors.New("notes verify: the report shows unexplained differences (see above)")
	}
	return nil
}

// cmdNotesReview: 'notes original UNID' prints the kept original of a document (hash-checked,
// audited); 'notes review' lists conflicts waiting for an operator; 'notes resolve ID|UNID'
// marks one reviewed.
func cmdNotesReview(ctx context.Context, sub string, args []string) error {
	if (sub == "review") != (len(args) == 0) || len(args) > 1 {
		return usageError{"notes: want 'notes original UNID', 'notes review' or 'notes resolve ID|UNID'"}
	}
	cfg, db, log, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	im, err := notes.NewImporter(notes.Options{DB: db, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return err
	}
	actor := os.Getenv("USER")
	if actor == "" {
		actor = "operator"
	}
	switch sub {
	case "original":
		b, err := im.Original(ctx, args[0], actor)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	case "resolve":
		return im.Resolve(ctx, args[0], actor)
	}
	items, err := im.Review(ctx)
	if err != nil {
		return err
	}
	for _, it := range items {
		fmt.Printf("%d\t%s\t%s\t%s\t%s\t%s\n", it.ConflictID, it.UNID, it.Kind, it.Parent, it.At.Format(time.RFC3339), it.Detail)
	}
	fmt.Printf("%d 项待处理\n", len(items))
	return nil
}

func cmdNotesSync(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("notes sync", flag.ContinueOnError)
	dasURL := fs.String("das", "", "Domino server base URL for Domino Access Services (e.g. https://domino.example)")
	dbPath := fs.String("db", "", "database path on the Domino server (e.g. xxgl/info.nsf)")
	drop := fs.String("drop", "", "drop folder of incremental DXL exports (imported files move to DIR/done)")
	mappingFile := fs.String("mapping", "", "mapping file (JSON)")
	interval := fs.Duration("interval", time.Minute, "time between polls")
	reconcile := fs.Duration("reconcile", time.Hour, "time between UNID-set reconciliations (deletions)")
	pageSize := fs.Int("page-size", 100, "DAS page size (ps)")
	plainHTTP := fs.Bool("insecure-http", false, "allow DAS credentials over plain http (loopback or test servers only)")
	once := fs.Bool("once", false, "poll once (and reconcile once with --das), print the report and exit")
	force := fs.Bool("force", false, "with --once: allow a reconciliation that archives more than half of the records")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics on this address (e.g. 127.0.0.1:9464)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{"notes sync takes no arguments besides its flags"}
	}
	if (*dasURL == "") != (*dbPath == "") {
		return usageError{"notes sync: --das and --db go together"}
	}
	if *dasURL == "" && *drop == "" {
		return usageError{"notes sync: give --das URL --db PATH, or --drop DIR, or both"}
	}
	m, err := loadMapping(*mappingFile)
	if err != nil {
		return err
	}
	cfg, db, log, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	im, err := notes.NewImporter(notes.Options{DB: db, DataDir: cfg.DataDir, Mapping: m, Logger: log})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	so := notes.SyncOptions{Importer: im, DropDir: *drop, Interval: *interval, ReconcileEvery: *reconcile, Registerer: reg, Logger: log}
	if *dasURL != "" {
		// Credentials from the environment, never from flags (they would show in ps).
		das, err := notes.NewDASClient(notes.DASOptions{BaseURL: *dasURL, Database: *dbPath, PageSize: *pageSize, AllowPlainHTTP: *plainHTTP,
			Username: os.Getenv("INFOWORK_NOTES_DAS_USERNAME"), Password: os.Getenv("INFOWORK_NOTES_DAS_PASSWORD")})
		if err != nil {
			return err
		}
		so.DAS = das
	}
	s, err := notes.NewSyncer(so)
	if err != nil {
		return err
	}
	if *once {
		rep, err := s.PollOnce(ctx)
		rep.WriteText(os.Stdout)
		if err != nil {
			return err
		}
		if so.DAS != nil {
			rrep, err := s.Reconcile(ctx, *force)
			if err != nil {
				return err
			}
			rrep.WriteText(os.Stdout)
		}
		if !rep.Passed {
			return errors.New("notes sync: the verification report shows unexplained differences (see above)")
		}
		return nil
	}
	if *metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("notes sync: metrics address: %w", err)
		}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		log.Info("notes sync metrics", "addr", ln.Addr().String(), "path", "/metrics")
	}
	log.Info("notes sync started", "das", *dasURL, "db", *dbPath, "drop", *drop, "interval", interval.String())
	return s.Run(ctx)
}

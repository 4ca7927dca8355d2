package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/analyzers"
	"infowork/reindex"
	"infowork/search"
	"infowork/search/embedded"
)

// cmdReindex rebuilds the search index from the database (docs/search.md "Reindex and
// reconciliation"). Elasticsearch/OpenSearch: online, into a new index beside the serving one,
// then an atomic alias swap. Embedded: offline (the index directory is locked by 'infowork
// serve'), into a new directory, then the CURRENT file is switched. Both resume an interrupted
// run when run again.
func cmdReindex(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	batch := fs.Int("batch", 500, "rows per batch")
	margin := fs.Duration("margin", time.Minute, "catch-up passes re-read rows changed since the start minus this margin")
	dropOld := fs.Bool("drop-old", false, "delete the old index after the swap (default: keep it, state retired)")
	abort := fs.Bool("abort", false, "abandon the unfinished run and delete its index")
	queueOnly := fs.Bool("queue-only", false, "only queue every record for the running indexer (no new index)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{"reindex takes no arguments besides its flags"}
	}
	if *batch < 1 || *batch > 5000 {
		return usageError{"--batch must be between 1 and 5000"}
	}
	cfg, db, log, err := setup(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if *queueOnly {
		n, err := queueAll(ctx, db)
		if err != nil {
			return err
		}
		fmt.Printf("%d records queued for indexing\n", n)
		return nil
	}
	an, err := cfg.analyzer(log)
	if err != nil {
		return err
	}
	defer an.Close()
	opts := reindex.Options{DB: db, BatchSize: *batch, Margin: *margin, Progress: os.Stdout, Logger: log}
	if cfg.SearchEngine == "embedded" {
		return reindexEmbedded(ctx, db, filepath.Join(cfg.DataDir, "index"), an, log, opts, *abort, *dropOld)
	}
	engine, err := cfg.openEngine(an, log)
	if err != nil {
		return err
	}
	defer engine.Close()
	rb, ok := engine.(search.Rebuilder)
	if !ok {
		return fmt.Errorf("engine %s cannot rebuild online", engine.Name())
	}
	if *abort {
		name, err := reindex.AbortRun(ctx, db, rb.Alias())
		if err != nil {
			return err
		}
		if err := rb.DropIndex(ctx, name); err != nil {
			return err
		}
		fmt.Printf("reindex run aborted; index %s deleted\n", name)
		return nil
	}
	res, err := reindex.Online(ctx, db, rb, opts, *dropOld)
	if err != nil {
		return fmt.Errorf("%w\nthe run is recorded: run 'infowork reindex' again to resume, or 'infowork reindex --abort' to abandon it", err)
	}
	if res.AlreadySwapped {
		fmt.Printf("alias %s already served %s; run %d finished\n", rb.Alias(), res.Run.Index, res.Run.ID)
		return nil
	}
	printReport(os.Stdout, res.Report)
	fmt.Printf("alias %s now serves %s (was %s)\n", rb.Alias(), res.Run.Index, orNone(res.Old))
	if res.Old != "" {
		if res.Dropped {
			fmt.Printf("old index %s deleted\n", res.Old)
		} else {
			fmt.Printf("old index %s kept (retired); delete it when satisfied, or rerun with --drop-old next time\n", res.Old)
		}
	}
	return nil
}

func reindexEmbedded(ctx context.Context, db *pgxpool.Pool, dir string, an *analyzers.Analyzer, log *slog.Logger, opts reindex.Options, abort, dropOld bool) error {
	// Holding the serving index open proves 'infowork serve' is not running and keeps it from
	// starting until the switch.
	old, err := embedded.Open(embedded.Options{Dir: dir, Analyzer: an, Logger: log})
	if errors.Is(err, embedded.ErrLocked) {
		return fmt.Errorf("the embedded search index %s is in use by a running 'infowork serve': stop it, run 'infowork reindex', then start it again "+
			"(or run 'infowork reindex --queue-only' to have the running indexer rewrite every record into the current index)", dir)
	}
	if err != nil {
		return err
	}
	oldName := filepath.Base(old.Path())
	key := "embedded:" + dir
	if abort {
		_ = old.Close()
		name, err := reindex.AbortRun(ctx, db, key)
		if err != nil {
			return err
		}
		if name != oldName && name != "" && !strings.ContainsAny(name, `/\`) {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
		fmt.Printf("reindex run aborted; %s deleted\n", filepath.Join(dir, name))
		return nil
	}
	run, err := reindex.StartRun(ctx, db, key, embedded.NewIndexDir, nil)
	if err != nil {
		_ = old.Close()
		return err
	}
	verb := "building"
	if run.Resumed {
		verb = "resuming"
	}
	fmt.Printf("%s %s (run %d)\n", verb, filepath.Join(dir, run.Index), run.ID)
	next, err := embedded.Open(embedded.Options{Dir: dir, Index: run.Index, Analyzer: an, Logger: log})
	if err != nil {
		_ = old.Close()
		return err
	}
	opts.Run = &run
	opts.Target = reindex.Target{Apply: next.Apply, Scan: next.Scan, Versions: next.Versions}
	rep, err := reindex.Rebuild(ctx, opts)
	cerr := next.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		_ = old.Close()
		return fmt.Errorf("%w\nthe run is recorded: run 'infowork reindex' again to resume, or 'infowork reindex --abort' to abandon it", err)
	}
	if err := embedded.SetCurrent(dir, run.Index); err != nil {
		_ = old.Close()
		return err
	}
	if err := old.Close(); err != nil {
		return err
	}
	detail := fmt.Sprintf("rows %d, documents %d, from %s", rep.Rows, rep.IndexDocs, oldName)
	if err := reindex.FinishRun(ctx, db, run, oldName, detail); err != nil {
		return err
	}
	printReport(os.Stdout, rep)
	fmt.Printf("the embedded engine now opens %s (CURRENT)\n", filepath.Join(dir, run.Index))
	if oldName != run.Index {
		if dropOld {
			if err := os.RemoveAll(filepath.Join(dir, oldName)); err != nil {
				return err
			}
			fmt.Printf("old index %s deleted\n", filepath.Join(dir, oldName))
		} else {
			fmt.Printf("old index %s kept; delete it when satisfied\n", filepath.Join(dir, oldName))
		}
	}
	return nil
}

func printReport(w io.Writer, r reindex.Report) {
	fmt.Fprintf(w, "verified: database %d rows, new index %d documents before %d rows were rewritten at verification; copied %d, caught up %d in %d passes; %s\n",
		r.Rows, r.IndexDocs, r.Rewritten, r.Copied, r.CaughtUp, r.Passes, r.Took.Round(time.Millisecond))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// cmdReconcile compares the database with the index and repairs through the outbox.
func cmdReconcile(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "report differences without repairing them")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{"reconcile takes no arguments besides its flags"}
	}
	cfg, db, log, err := setup(ctx)
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
	if errors.Is(err, embedded.ErrLocked) {
		return fmt.Errorf("the embedded search index is in use by a running 'infowork serve': stop it to reconcile (the embedded index is only readable by one process)")
	}
	if err != nil {
		return err
	}
	defer engine.Close()
	rep, err := reindex.Reconcile(ctx, reindex.ReconcileOptions{DB: db, Engine: engine, DryRun: *dryRun})
	if err != nil {
		return err
	}
	return writeReconcileReport(os.Stdout, rep, *dryRun)
}

func writeReconcileReport(w io.Writer, rep reindex.ReconcileReport, dryRun bool) error {
	fmt.Fprintf(w, "database %d rows, index %d documents\n", rep.Rows, rep.Docs)
	list := func(name string, ids []string) {
		if len(ids) == 0 {
			return
		}
		sample := ids[:min(len(ids), 10)]
		more := ""
		if len(ids) > len(sample) {
			more = fmt.Sprintf(" … (%d more)", len(ids)-len(sample))
		}
		fmt.Fprintf(w, "  %-8s %d: %s%s\n", name, len(ids), strings.Join(sample, " "), more)
	}
	list("missing", rep.Missing)
	list("stale", rep.Stale)
	list("ahead", rep.Ahead)
	list("orphans", rep.Orphans)
	if rep.InFlight > 0 {
		fmt.Fprintf(w, "  %d differences already wait in the outbox (left to the indexer)\n", rep.InFlight)
	}
	if rep.Dead > 0 {
		fmt.Fprintf(w, "  %d dead-letter outbox rows: see 'infowork outbox replay'\n", rep.Dead)
	}
	if rep.OrphanErr != nil {
		fmt.Fprintf(w, "  orphans not checked: %v\n", rep.OrphanErr)
	}
	switch {
	case rep.Differences() == 0:
		fmt.Fprintln(w, "index and database agree")
	case dryRun:
		fmt.Fprintf(w, "%d differences (dry run: nothing repaired)\n", rep.Differences())
	default:
		fmt.Fprintf(w, "%d differences: %d outbox rows queued for the indexer, %d documents deleted\n", rep.Differences(), rep.Enqueued, rep.Deleted)
	}
	if len(rep.Ahead) > 0 {
		fmt.Fprintln(w, "documents ahead of the database are not repaired by the indexer (external versions refuse to go back): run 'infowork reindex'")
	}
	return nil
}

package notes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/access"
	"infowork/submission"
)

// SyncOptions configure live sync during the cut-over.
type SyncOptions struct {
	Importer *Importer
	// DAS polls Domino Access Services (nil: no polling).
	DAS *DASClient
	// DropDir is a folder of incremental DXL exports ("" : none). Files are imported in name
	// order and moved to DropDir/done; a file that fails stays and is retried.
	DropDir string
	// Interval between polls (default 1m) and between UNID-set reconciliations (default 1h;
	// far shorter than the 90-day deletion-stub purge interval of Domino).
	Interval       time.Duration
	ReconcileEvery time.Duration
	// MaxDeleteFraction refuses a reconciliation that would archive more than this fraction of
	// the records at once (default 0.5): an empty or partial answer must not wipe the migration.
	MaxDeleteFraction float64
	Registerer        prometheus.Registerer
	Logger            *slog.Logger
	// AfterPoll, when set, is called by Run after each poll (tests wait on it).
	AfterPoll func(*Report, error)
}

// Syncer keeps infowork in step with Notes.
type Syncer struct {
	o   SyncOptions
	im  *Importer
	log *slog.Logger
	m   *syncMetrics

	mu          sync.Mutex
	lastApplied time.Time // local time of the last answer whose changes were all applied
}

type syncMetrics struct {
	lag         prometheus.GaugeFunc
	lastSuccess prometheus.Gauge
	errors      *prometheus.CounterVec
	documents   *prometheus.CounterVec
	deleted     prometheus.Counter
}

func newSyncMetrics(reg prometheus.Registerer, lag func() float64) *syncMetrics {
	m := &syncMetrics{
		// Measured on the local clock from the moment an answer was fully applied, so a skewed
		// Domino clock cannot make it negative.
		lag: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "infowork", Subsystem: "notes_sync", Name: "lag_seconds",
			Help: "Seconds since the last Notes answer whose changes were all applied (how stale infowork may be)."}, lag),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "infowork", Subsystem: "notes_sync",
			Name: "last_success_timestamp_seconds", Help: "Unix time of the last successful poll."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "infowork", Subsystem: "notes_sync", Name: "errors_total",
			Help: "Sync errors by kind (auth, das, import, dropfolder, reconcile)."}, []string{"kind"}),
		documents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "infowork", Subsystem: "notes_sync",
			Name: "documents_total", Help: "Documents applied by outcome (created, updated, unchanged, stale, conflict, skipped)."},
			[]string{"outcome"}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "infowork", Subsystem: "notes_sync", Name: "deleted_total",
			Help: "Records archived because their Notes document was deleted."}),
	}
	for _, k := range []string{"auth", "das", "import", "dropfolder", "reconcile"} {
		m.errors.WithLabelValues(k)
	}
	// Every outcome exists from the start, so rate() and the dashboard see 0 rather than no data.
	for _, o := range []string{"created", "updated", "unchanged", "stale", "conflict", "skipped"} {
		m.documents.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.lag, m.lastSuccess, m.errors, m.documents, m.deleted)
	}
	return m
}

// NewSyncer checks the options.
func NewSyncer(o SyncOptions) (*Syncer, error) {
	if o.Importer == nil {
		return nil, errors.New("notes: SyncOptions.Importer is required")
	}
	if o.DAS == nil && o.DropDir == "" {
		return nil, errors.New("notes: sync needs a DAS server (--das) or a drop folder (--drop)")
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.ReconcileEvery <= 0 {
		o.ReconcileEvery = time.Hour
	}
	if o.MaxDeleteFraction <= 0 {
		o.MaxDeleteFraction = 0.5
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Syncer{o: o, im: o.Importer, log: o.Logger.With("component", "notes_sync"), lastApplied: time.Now()}
	s.m = newSyncMetrics(o.Registerer, s.lag)
	return s, nil
}

func (s *Syncer) sourceKey() string {
	return "das:" + s.o.DAS.o.BaseURL + "/" + s.o.DAS.o.Database
}

// Checkpoint returns the stored since of the DAS source ("" before the first poll).
func (s *Syncer) Checkpoint(ctx context.Context) (string, error) {
	var since string
	err := s.im.db.QueryRow(ctx, `SELECT since FROM notes_sync_state WHERE source = $1`, s.sourceKey()).Scan(&since)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return since, err
}

// Run polls every Interval and reconciles every ReconcileEvery until ctx ends. Errors are logged
// and counted; the next round retries from the stored checkpoint.
func (s *Syncer) Run(ctx context.Context) error {
	tick := time.NewTicker(s.o.Interval)
	defer tick.Stop()
	var lastReconcile time.Time
	for {
		rep, err := s.PollOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("notes sync poll failed", "err", err)
		}
		if s.o.AfterPoll != nil {
			s.o.AfterPoll(rep, err)
		}
		if s.o.DAS != nil && time.Since(lastReconcile) >= s.o.ReconcileEvery {
			if _, err := s.Reconcile(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Error("notes sync reconciliation failed", "err", err)
			} else {
				lastReconcile = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (s *Syncer) lag() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.lastApplied).Seconds()
}

// PollOnce applies the changes since the checkpoint (DAS) and the files waiting in the drop
// folder, then verifies what it applied. The checkpoint moves only after every change of the
// answer was applied, to the server time of that answer.
func (s *Syncer) PollOnce(ctx context.Context) (*Report, error) {
	rep := NewReport("sync")
	started := time.Now()
	if err := s.im.checkDefaultUnit(ctx); err != nil {
		return rep, err
	}
	var firstErr error
	if s.o.DAS != nil {
		if err := s.pollDAS(ctx, rep); err != nil {
			firstErr = err
		}
	}
	if s.o.DropDir != "" {
		if err := s.dropFolder(ctx, rep); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if err := s.im.Verify(ctx, rep); err != nil && firstErr == nil {
		firstErr = err
	}
	rep.Finish()
	for o, n := range map[string]int{Created: rep.Total.Created, Updated: rep.Total.Updated, Unchanged: rep.Total.Unchanged,
		Stale: rep.Total.Stale, Conflict: rep.Total.Conflicts, Skipped: rep.Total.Skipped} {
		s.m.documents.WithLabelValues(o).Add(float64(n))
	}
	if rep.Total.Docs > 0 || len(rep.Mismatches) > 0 {
		if err := s.im.saveRun(context.WithoutCancel(ctx), rep); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		s.m.lastSuccess.SetToCurrentTime()
		s.mu.Lock()
		s.lastApplied = started
		s.mu.Unlock()
	}
	return rep, firstErr
}

func (s *Syncer) countErr(err error) {
	switch {
	case errors.Is(err, ErrAuth):
		s.m.errors.WithLabelValues("auth").Inc()
	default:
		s.m.errors.WithLabelValues("das").Inc()
	}
}

func (s *Syncer) pollDAS(ctx context.Context, rep *Report) error {
	since, err := s.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("notes: sync checkpoint: %w", err)
	}
	entries, server, err := s.o.DAS.Changes(ctx, since)
	if err != nil {
		s.countErr(err)
		return err
	}
	db := DatabaseInfo{Path: s.o.DAS.o.Database}
	acl, err := s.im.loadACL(ctx, s.o.DAS.o.Database)
	if err == nil && acl == nil {
		acl, err = s.im.loadACL(ctx, "")
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		d, err := s.o.DAS.Document(ctx, e.UNID)
		if err != nil {
			s.countErr(err)
			return err
		}
		if err := s.im.keepFlags(ctx, d); err != nil {
			return err
		}
		if _, err := s.im.ImportDocument(ctx, db, acl, d, rep); err != nil {
			s.m.errors.WithLabelValues("import").Inc()
			return err
		}
	}
	next := server.Format(time.RFC3339)
	_, err = s.im.db.Exec(ctx, `INSERT INTO notes_sync_state (source, since, last_success_at) VALUES ($1, $2, now())
		ON CONFLICT (source) DO UPDATE SET since = EXCLUDED.since, last_success_at = now(), updated_at = now()`, s.sourceKey(), next)
	if err != nil {
		return fmt.Errorf("notes: save sync checkpoint: %w", err)
	}
	return nil
}

func (s *Syncer) dropFolder(ctx context.Context, rep *Report) error {
	files, err := filepath.Glob(filepath.Join(s.o.DropDir, "*"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	done := filepath.Join(s.o.DropDir, "done")
	for _, f := range files {
		ext := strings.ToLower(filepath.Ext(f))
		if ext != ".xml" && ext != ".dxl" {
			continue
		}
		if err := s.im.ImportFile(ctx, f, rep); err != nil {
			s.m.errors.WithLabelValues("dropfolder").Inc()
			return err
		}
		if err := os.MkdirAll(done, 0o750); err != nil {
			return err
		}
		// Moving the file is the drop folder's checkpoint; a crash before it re-imports the
		// file, which is a no-op for what was already applied.
		if err := os.Rename(f, filepath.Join(done, filepath.Base(f))); err != nil {
			return fmt.Errorf("notes: drop folder: %w", err)
		}
	}
	return nil
}

// keepFlags gives the items of a DAS document the flags (Readers, Authors, Names, summary, ...)
// of the stored items of the same name: DAS answers carry values only.
func (im *Importer) keepFlags(ctx context.Context, d *Document) error {
	var items []Item
	err := im.db.QueryRow(ctx, `SELECT items FROM notes_documents WHERE unid = $1`, d.UNID).Scan(&items)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("notes: %s: load stored items: %w", d.UNID, err)
	}
	applyFlags(d, items)
	return nil
}

func applyFlags(d *Document, stored []Item) {
	for i, it := range d.Items {
		for _, st := range stored {
			if strings.EqualFold(st.Name, it.Name) && len(st.Flags) > 0 {
				d.Items[i].Flags = st.Flags
				break
			}
		}
	}
}

// Reconcile compares the UNID set of the DAS database with the records imported from it and
// archives the records whose document no longer exists in Notes (deletion stubs are purged
// after ~90–120 days, so deletions are found by set difference, not from stubs). A record
// changed in infowork since its import is not archived but reported as a conflict. With force
// unset, a run that would archive more than MaxDeleteFraction of the records is refused.
func (s *Syncer) Reconcile(ctx context.Context, force bool) (*Report, error) {
	rep := NewReport("sync")
	if s.o.DAS == nil {
		return rep, errors.New("notes: reconciliation needs a DAS server")
	}
	entries, _, err := s.o.DAS.Changes(ctx, "")
	if err != nil {
		s.countErr(err)
		return rep, err
	}
	present := make([]string, 0, len(entries))
	for _, e := range entries {
		present = append(present, strings.ToUpper(e.UNID))
	}
	type gone struct {
		unid             string
		sub, ver, curVer int64
		seq              int64
	}
	var missing []gone
	var total int
	err = pgx.BeginFunc(ctx, s.im.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM notes_documents WHERE database_path = $1 AND deleted_at IS NULL`,
			s.o.DAS.o.Database).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT n.unid, n.submission_id, n.submission_version, s.version, n.sequence
			FROM notes_documents n JOIN submissions s ON s.id = n.submission_id
			WHERE n.database_path = $1 AND n.deleted_at IS NULL AND NOT (n.unid = ANY($2)) ORDER BY n.unid FOR UPDATE OF n`,
			s.o.DAS.o.Database, present)
		if err != nil {
			return err
		}
		for rows.Next() {
			var g gone
			if err := rows.Scan(&g.unid, &g.sub, &g.ver, &g.curVer, &g.seq); err != nil {
				rows.Close()
				return err
			}
			missing = append(missing, g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !force && total > 0 && float64(len(missing)) > s.o.MaxDeleteFraction*float64(total) {
			return fmt.Errorf("notes: reconciliation would archive %d of %d records (more than %.0f%%); check the DAS answer, or rerun with --force",
				len(missing), total, 100*s.o.MaxDeleteFraction)
		}
		for _, g := range missing {
			if g.curVer != g.ver {
				if _, err := tx.Exec(ctx, `INSERT INTO notes_conflicts (unid, kind, notes_sequence, stored_sequence, detail)
					VALUES ($1, 'deleted_changed', $2, $2, $3) ON CONFLICT (unid, kind, notes_sequence) DO NOTHING`,
					g.unid, g.seq, fmt.Sprintf("deleted in Notes, but infowork record %d changed since the import", g.sub)); err != nil {
					return err
				}
				rep.explain(g.unid, "Notes 中已删除，但 infowork 中已修改：未归档，列为冲突待处理")
				continue
			}
			v, err := submission.ArchiveLegacyTx(ctx, tx, g.sub)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE notes_documents SET deleted_at = now(), submission_version = $2, updated_at = now()
				WHERE unid = $1`, g.unid, v); err != nil {
				return err
			}
			rep.Deleted = append(rep.Deleted, g.unid)
		}
		_, err = tx.Exec(ctx, `INSERT INTO notes_sync_state (source, last_reconcile_at) VALUES ($1, now())
			ON CONFLICT (source) DO UPDATE SET last_reconcile_at = now(), updated_at = now()`, s.sourceKey())
		return err
	})
	if err != nil {
		s.m.errors.WithLabelValues("reconcile").Inc()
		return rep, err
	}
	s.m.deleted.Add(float64(len(rep.Deleted)))
	rep.Finish()
	if len(rep.Deleted) > 0 || len(rep.Explained) > 0 {
		if err := s.im.saveRun(context.WithoutCancel(ctx), rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

package attachment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/microcosm-cc/bluemonday"
	"github.com/prometheus/client_golang/prometheus"

	"infowork/access"
	"infowork/audit"
	"infowork/extract"
	"infowork/label"
	"infowork/outbox"
	"infowork/store"
	"infowork/submission"
)

// States of an extraction (table extractions).
const (
	ExtractPending    = "pending"
	ExtractRunning    = "running"
	ExtractDone       = "done"
	ExtractUnreadable = "unreadable"
	ExtractFailed     = "failed"
)

// StateName is the zh-CN name of an extraction state.
func StateName(s string) string {
	switch s {
	case ExtractPending:
		return "等待提取"
	case ExtractRunning:
		return "正在提取"
	case ExtractDone:
		return "已提取"
	case ExtractUnreadable:
		return "无法读取"
	case ExtractFailed:
		return "提取失败"
	}
	return s
}

// NotifyChannel is the LISTEN/NOTIFY channel a trigger on extractions notifies.
const NotifyChannel = "infowork_extract"

// Extractor runs extraction and rendering; *extract.Runner is the production one (a child
// process with limits).
type Extractor interface {
	Extract(ctx context.Context, path, mime string) (extract.Result, error)
	Render(ctx context.Context, path, mime string, page, width int) ([]byte, error)
}

var _ Extractor = (*extract.Runner)(nil)

// WorkerOptions configure the extraction worker. Zero fields take defaults.
type WorkerOptions struct {
	Extractor    Extractor     // required
	Lease        time.Duration // how long a claimed job is held before another worker may take it; default 30 minutes (3× the child's default timeout)
	PollInterval time.Duration // backstop poll; default 5s
	MaxAttempts  int           // claims before a job whose worker keeps dying is marked failed; default 3
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Worker is the background extraction queue's consumer. Several may run against one database
// (claims use FOR UPDATE SKIP LOCKED and a lease); each runs one child at a time, so the 2-core
// machine keeps a core for the web.
type Worker struct {
	svc     *Service
	db      *pgxpool.Pool
	o       WorkerOptions
	log     *slog.Logger
	policy  *bluemonday.Policy
	metrics *workerMetrics

	mu   sync.Mutex
	done chan struct{} // closed and replaced after every job (for tests)
}

type workerMetrics struct {
	jobs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	pages    *prometheus.CounterVec
}

// NewWorker builds a worker for the service's blob store.
func NewWorker(s *Service, o WorkerOptions) (*Worker, error) {
	if o.Extractor == nil {
		o.Extractor = s.ext
	}
	if o.Extractor == nil {
		return nil, errors.New("attachment: WorkerOptions.Extractor (or Options.Extractor) is required")
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Logger == nil {
		o.Logger = s.log
	}
	m := &workerMetrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "infowork", Subsystem: "extraction", Name: "jobs_total",
			Help: "Text extraction jobs finished, by result (done, unreadable, failed)."}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "infowork", Subsystem: "extraction", Name: "duration_seconds",
			Help: "Time of one extraction job (child process included), by method (text, ocr, none).", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}, []string{"method"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "infowork", Subsystem: "extraction", Name: "pages_total",
			Help: "Pages read by extraction, by method (ocr pages went through Tesseract)."}, []string{"method"}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(m.jobs, m.duration, m.pages, NewQueueCollector(s.db))
	}
	return &Worker{svc: s, db: s.db, o: o, log: o.Logger.With("component", "extraction"), policy: bluemonday.UGCPolicy(),
		metrics: m, done: make(chan struct{})}, nil
}

// Finished returns a channel closed after the next job ends.
func (w *Worker) Finished() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

func (w *Worker) signal() {
	w.mu.Lock()
	close(w.done)
	w.done = make(chan struct{})
	w.mu.Unlock()
}

// Run processes jobs until ctx ends, woken by LISTEN/NOTIFY and polling as a backstop.
func (w *Worker) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	go w.listen(ctx, wake)
	w.log.Info("extraction worker started")
	t := time.NewTicker(w.o.PollInterval)
	defer t.Stop()
	for {
		if _, err := w.Drain(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("extraction", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}

func (w *Worker) listen(ctx context.Context, wake chan<- struct{}) {
	for ctx.Err() == nil {
		conn, err := w.db.Acquire(ctx)
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err == nil {
			for {
				if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
					break
				}
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
		conn.Release()
		if ctx.Err() == nil {
			time.Sleep(time.Second)
		}
	}
}

// Drain processes jobs until none is ready and returns how many it finished.
func (w *Worker) Drain(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		ok, err := w.One(ctx)
		if err != nil {
			return n, err
		}
		if !ok {
			return n, nil
		}
		n++
	}
	return n, nil
}

type job struct {
	sum, mime string
	attempts  int
}

// One claims and processes one job; false when none was ready.
func (w *Worker) One(ctx context.Context) (bool, error) {
	var j job
	err := w.bypass(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `UPDATE extractions e SET state = 'running', attempts = e.attempts + 1,
				lease_until = now() + $1::interval, updated_at = now()
			FROM blobs b
			WHERE b.sha256 = e.blob_sha256 AND e.blob_sha256 = (SELECT blob_sha256 FROM extractions
				WHERE state = 'pending' OR (state = 'running' AND lease_until < now())
				ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING e.blob_sha256, b.content_type, e.attempts`, w.o.Lease.String()).Scan(&j.sum, &j.mime, &j.attempts)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("attachment: claim extraction: %w", err)
	}
	defer w.signal()
	if j.attempts > w.o.MaxAttempts {
		return true, w.finish(ctx, j, extract.Result{}, ExtractFailed, fmt.Sprintf("处理进程多次中断（%d 次），已停止提取", j.attempts-1), 0)
	}
	start := time.Now()
	res, err := w.o.Extractor.Extract(ctx, w.svc.BlobPath(j.sum), j.mime)
	took := time.Since(start)
	if ctx.Err() != nil {
		return true, nil // shutting down: the lease expires and another worker retries
	}
	switch {
	case err == nil:
		return true, w.finish(ctx, j, res, ExtractDone, "", took)
	case errors.Is(err, extract.ErrUnreadable):
		return true, w.finish(ctx, j, res, ExtractUnreadable, extract.Reason(err), took)
	default:
		w.log.Warn("extraction failed", "sha256", j.sum, "type", j.mime, "err", err)
		return true, w.finish(ctx, j, res, ExtractFailed, extract.Reason(err), took)
	}
}

func (w *Worker) bypass(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, w.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		return f(tx)
	})
}

// finish stores the result; a done job gives every submission whose current attachments hold
// the content a new version and an outbox row, so the indexer re-reads it with the text.
func (w *Worker) finish(ctx context.Context, j job, r extract.Result, state, reason string, took time.Duration) error {
	var why *string
	if reason != "" {
		why = &reason
	}
	method := r.Method
	if method == "" {
		method = "none"
	}
	w.metrics.jobs.WithLabelValues(state).Inc()
	w.metrics.duration.WithLabelValues(method).Observe(took.Seconds())
	if state == ExtractDone {
		w.metrics.pages.WithLabelValues(method).Add(float64(r.Pages))
	}
	html := ""
	if r.HTML != "" {
		html = w.policy.Sanitize(r.HTML)
	}
	var methodCol *string
	if r.Method != "" {
		methodCol = &r.Method
	}
	ctx = context.WithoutCancel(ctx) // a finished job is stored even when shutdown began
	err := w.bypass(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE extractions SET state = $2, reason = $3, method = $4, encoding = NULLIF($5, ''),
				pages = $6, ocr_pages = $7, truncated = $8, body = NULLIF($9, ''), preview_html = NULLIF($10, ''),
				duration_ms = $11, lease_until = NULL, updated_at = now()
			WHERE blob_sha256 = $1`, j.sum, state, why, methodCol, r.Encoding, r.Pages, r.OCRPages, r.Truncated, r.Text, html,
			took.Milliseconds()); err != nil {
			return fmt.Errorf("attachment: store extraction %s: %w", j.sum, err)
		}
		if state != ExtractDone || r.Text == "" {
			return nil
		}
		rows, err := tx.Query(ctx, `UPDATE submissions SET version = version + 1
			WHERE id IN (SELECT submission_id FROM attachments WHERE blob_sha256 = $1 AND archived_at IS NULL) RETURNING id`, j.sum)
		if err != nil {
			return fmt.Errorf("attachment: reindex after extraction: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("attachment: reindex after extraction: %w", err)
		}
		return outbox.Enqueue(ctx, tx, submission.Entity, ids...)
	})
	if err == nil {
		w.log.Info("extracted", "sha256", j.sum, "type", j.mime, "state", state, "method", r.Method, "pages", r.Pages,
			"chars", len([]rune(r.Text)), "took_ms", took.Milliseconds(), "reason", reason)
	}
	return err
}

// Requeue puts a failed or unreadable extraction back in the queue (an operator's retry after a
// limit was raised or a tool installed). Audited.
func (s *Service) Requeue(ctx context.Context, sub access.Subject, id int64, clientIP string) error {
	a, err := s.Get(ctx, sub, id)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE extractions SET state = 'pending', attempts = 0, reason = NULL, lease_until = NULL, updated_at = now()
			WHERE blob_sha256 = $1 AND state IN ('failed', 'unreadable')`, a.SHA256); err != nil {
			return fmt.Errorf("attachment %d: requeue extraction: %w", id, err)
		}
		lv := int(a.Classification)
		return audit.Record(ctx, tx, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
			Action: "attachment.extract_retry", Object: "attachment:" + strconv.FormatInt(id, 10), Label: &lv,
			Detail: "sha256=" + a.SHA256})
	})
}

// Extraction is the stored result of an attachment's current version, as a reader sees it.
type Extraction struct {
	State, Reason, Method, Encoding string
	Pages, OCRPages                 int
	Truncated                       bool
	Text                            string
	HTML                            string // sanitized preview markup (office and text documents)
	Duration                        time.Duration
}

// Extraction returns the extraction of an attachment the subject may read (its text is as
// classified as the attachment).
func (s *Service) Extraction(ctx context.Context, sub access.Subject, id int64) (Attachment, Extraction, error) {
	a, err := s.Get(ctx, sub, id)
	if err != nil {
		return a, Extraction{}, err
	}
	tx, err := access.Begin(ctx, s.db, sub)
	if err != nil {
		return a, Extraction{}, fmt.Errorf("attachment %d: extraction: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	var e Extraction
	var ms int64
	err = tx.QueryRow(ctx, `SELECT state, COALESCE(reason, ''), COALESCE(method, ''), COALESCE(encoding, ''), COALESCE(pages, 0),
			COALESCE(ocr_pages, 0), truncated, COALESCE(body, ''), COALESCE(preview_html, ''), COALESCE(duration_ms, 0)
		FROM extractions WHERE blob_sha256 = $1`, a.SHA256).Scan(&e.State, &e.Reason, &e.Method, &e.Encoding, &e.Pages,
		&e.OCRPages, &e.Truncated, &e.Text, &e.HTML, &ms)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, Extraction{State: ExtractPending}, nil
	}
	if err != nil {
		return a, Extraction{}, fmt.Errorf("attachment %d: extraction: %w", id, err)
	}
	e.Duration = time.Duration(ms) * time.Millisecond
	return a, e, nil
}

// Preview widths: thumbnails in lists and page images on the document page.
const (
	ThumbWidth = 160
	PageWidth  = 1000
)

// MaxPreviewPages is how many page images the document page shows.
const MaxPreviewPages = 30

// PageImage returns a PNG of one page of an attachment the subject may read (PDFs and images),
// rendered by the extractor's child process and cached under blobs/previews by content hash,
// page and width, so a page is rendered once however many attachments share it. Audited as a
// preview (fail closed).
func (s *Service) PageImage(ctx context.Context, sub access.Subject, id int64, page, width int, clientIP string) (Attachment, []byte, error) {
	x := s.ext
	a, err := s.Get(ctx, sub, id)
	if err != nil {
		return a, nil, err
	}
	k, ok := KindOf(a.ContentType)
	if !ok || !k.Pages || (width != ThumbWidth && width != PageWidth) || page < 1 || page > MaxPreviewPages {
		return a, nil, fmt.Errorf("attachment %d page %d: %w", id, page, store.ErrNotFound)
	}
	cache := filepath.Join(s.dir, "previews", a.SHA256[:2], fmt.Sprintf("%s-p%d-w%d.png", a.SHA256, page, width))
	b, err := os.ReadFile(cache) // #nosec G304 -- built from the stored hex digest and integers
	if err != nil {
		if x == nil {
			return a, nil, fmt.Errorf("attachment %d: no previews without an extractor: %w", id, store.ErrNotFound)
		}
		b, err = x.Render(ctx, s.BlobPath(a.SHA256), a.ContentType, page, width)
		if err != nil && !errors.Is(err, extract.ErrUnreadable) && ctx.Err() == nil {
			// A child that could not start or died (a busy machine) gets one more try.
			s.log.Warn("page preview failed, retrying", "attachment", id, "page", page, "err", err)
			b, err = x.Render(ctx, s.BlobPath(a.SHA256), a.ContentType, page, width)
		}
		if errors.Is(err, extract.ErrUnreadable) {
			return a, nil, fmt.Errorf("attachment %d page %d: %s: %w", id, page, extract.Reason(err), store.ErrNotFound)
		}
		if err != nil {
			return a, nil, fmt.Errorf("attachment %d page %d: %w", id, page, err)
		}
		if err := s.writeCache(cache, b); err != nil {
			s.log.Warn("preview cache", "err", err)
		}
	}
	lv := int(a.Classification)
	detail := fmt.Sprintf("submission=%d page=%d width=%d", a.SubmissionID, page, width)
	if len(a.LabelCategories) > 0 {
		detail += " label=" + label.Label{Level: a.Classification, Categories: a.LabelCategories}.String()
	}
	if err := audit.Write(ctx, s.db, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
		Action: ActionPreview, Object: "attachment:" + strconv.FormatInt(id, 10), Label: &lv, Detail: detail}); err != nil {
		return a, nil, err
	}
	return a, b, nil
}

// writeCache writes a preview atomically (temporary file, rename).
func (s *Service) writeCache(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.tmp, "preview-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// QueueCollector exports the extraction queue by state, read at scrape time.
type QueueCollector struct {
	db     *pgxpool.Pool
	queue  *prometheus.Desc
	oldest *prometheus.Desc
}

// NewQueueCollector builds the collector.
func NewQueueCollector(db *pgxpool.Pool) *QueueCollector {
	return &QueueCollector{db: db, queue: prometheus.NewDesc("infowork_extraction_queue",
		"Extraction jobs by state (pending, running, unreadable, failed); unreadable and failed are files whose text is not searchable.",
		[]string{"state"}, nil),
		oldest: prometheus.NewDesc("infowork_extraction_oldest_pending_age_seconds",
			"Age of the oldest extraction job waiting for a worker (pending, or running with an expired lease), since it was queued, retried or last claimed; 0 when none waits.",
			nil, nil)}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.queue; ch <- c.oldest }

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts := map[string]float64{ExtractPending: 0, ExtractRunning: 0, ExtractUnreadable: 0, ExtractFailed: 0}
	var oldest float64
	err := pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(updated_at)), 0)::float8 FROM extractions
			WHERE state = 'pending' OR (state = 'running' AND lease_until < now())`).Scan(&oldest); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT state, count(*) FROM extractions WHERE state <> 'done' GROUP BY state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var st string
			var n int64
			if err := rows.Scan(&st, &n); err != nil {
				return err
			}
			counts[st] = float64(n)
		}
		return rows.Err()
	})
	if err != nil {
		return
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, n, st)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, max(oldest, 0))
}

// QueueStats is the extraction queue as an operator sees it: counts by state and the latest
// files that could not be read, by attachment id and reason (never their contents).
type QueueStats struct {
	Pending, Running, Done, Unreadable, Failed int
	Problems                                   []Problem
}

// Problem is one unreadable or failed extraction.
type Problem struct {
	AttachmentIDs []int64
	State         string
	Reason        string
	UpdatedAt     time.Time
}

// StateName is the zh-CN name of the problem's state.
func (p Problem) StateName() string { return StateName(p.State) }

// ReadQueueStats reads the queue for the operations page (at most limit problems, newest first).
func (s *Service) ReadQueueStats(ctx context.Context, limit int) (QueueStats, error) {
	var q QueueStats
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := access.SetBypass(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT state, count(*) FROM extractions GROUP BY state`)
		if err != nil {
			return err
		}
		counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
			state string
			n     int
		}, error) {
			var v struct {
				state string
				n     int
			}
			err := r.Scan(&v.state, &v.n)
			return v, err
		})
		if err != nil {
			return err
		}
		for _, c := range counts {
			switch c.state {
			case ExtractPending:
				q.Pending = c.n
			case ExtractRunning:
				q.Running = c.n
			case ExtractDone:
				q.Done = c.n
			case ExtractUnreadable:
				q.Unreadable = c.n
			case ExtractFailed:
				q.Failed = c.n
			}
		}
		rows, err = tx.Query(ctx, `SELECT COALESCE((SELECT array_agg(a.id ORDER BY a.id) FROM attachments a WHERE a.blob_sha256 = e.blob_sha256), '{}'),
				e.state, e.reason, e.updated_at
			FROM extractions e WHERE e.state IN ('unreadable', 'failed') ORDER BY e.updated_at DESC LIMIT $1`, limit)
		if err != nil {
			return err
		}
		q.Problems, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Problem, error) {
			var p Problem
			err := r.Scan(&p.AttachmentIDs, &p.State, &p.Reason, &p.UpdatedAt)
			return p, err
		})
		return err
	})
	if err != nil {
		return QueueStats{}, fmt.Errorf("attachment: extraction queue: %w", err)
	}
	return q, nil
}

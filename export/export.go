package export

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/xuri/excelize/v2"

	"infowork/access"
	"infowork/audit"
	"infowork/label"
	"infowork/savedsearch"
	"infowork/search"
	"infowork/stats"
)

// Kinds and formats.
const (
	KindSearch     = "search"
	KindStatistics = "statistics"
	FormatCSV      = "csv"
	FormatXLSX     = "xlsx"
)

// Job states.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// ErrNotFound is returned for a job that does not exist or belongs to another user.
var ErrNotFound = errors.New("export: not found")

// ValidationError names the field at fault.
type ValidationError struct{ Field, Message string }

func (e *ValidationError) Error() string { return e.Message }

// Job is an export job.
type Job struct {
	ID         int64
	UserID     int64
	Kind       string
	Format     string
	Params     string
	State      string
	Total      int64
	Progress   int64
	Label      *int
	FileSize   int64
	Error      string
	CreatedAt  time.Time
	FinishedAt *time.Time
	filePath   string
}

// Percent is the progress in percent (100 when done).
func (j Job) Percent() int {
	if j.State == StateDone {
		return 100
	}
	if j.Total <= 0 {
		return 0
	}
	return int(j.Progress * 100 / j.Total)
}

// LabelName is the zh-CN marking of the highest classification contained ("" before known).
func (j Job) LabelName() string {
	if j.Label == nil {
		return ""
	}
	return label.Level(*j.Label).Chinese()
}

// Level is the highest classification contained (0 before known).
func (j Job) Level() int {
	if j.Label == nil {
		return 0
	}
	return *j.Label
}

// FileName is the download name: kind, marking, id and extension.
func (j Job) FileName() string {
	kind := map[string]string{KindSearch: "检索结果", KindStatistics: "统计"}[j.Kind]
	return fmt.Sprintf("%s-%s-%d.%s", kind, j.LabelName(), j.ID, j.Format)
}

// Options configure a Service.
type Options struct {
	DB     *pgxpool.Pool // jobs, audit
	ReadDB *pgxpool.Pool // the rows exported (may be a standby); nil means DB
	Engine search.Engine
	Stats  *stats.Service
	Dir    string // where files are written; created if missing
	Logger *slog.Logger
	// Window is the most hits one engine request may reach (default search.MaxResultWindow);
	// tests lower it to exercise the splitting.
	Window int
	// ProgressEvery is how many rows pass between progress updates (default 2000).
	ProgressEvery int
}

// Service runs export jobs.
type Service struct {
	opts Options
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a service; Close stops running jobs (they are marked failed).
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Dir == "" {
		return nil, errors.New("export: Options.DB and Dir are required")
	}
	if o.ReadDB == nil {
		o.ReadDB = o.DB
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Window <= 0 {
		o.Window = search.MaxResultWindow
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 2000
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("export: create %s: %w", o.Dir, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Service{opts: o, log: o.Logger.With("component", "export"), ctx: ctx, stop: stop}, nil
}

// Close cancels running jobs and waits for them.
func (s *Service) Close() { s.stop(); s.wg.Wait() }

// Request is what a user asks to export.
type Request struct {
	Subject  access.Subject
	ClientIP string
	Kind     string
	Format   string
	// Params: for search, the search URL query; for statistics, "dim=unit&from=…&to=…".
	Params string
}

// Start validates the request, stores the job and runs it in the background.
func (s *Service) Start(ctx context.Context, r Request) (Job, error) {
	if r.Format != FormatCSV && r.Format != FormatXLSX {
		return Job{}, &ValidationError{"format", "格式只能是 csv 或 xlsx"}
	}
	var run func(ctx context.Context, j *jobRun) error
	switch r.Kind {
	case KindSearch:
		p, err := savedsearch.ParseParams(r.Params)
		var sve *savedsearch.ValidationError
		if errors.As(err, &sve) {
			return Job{}, &ValidationError{sve.Field, sve.Message}
		}
		if err != nil {
			return Job{}, err
		}
		r.Params = p.Encode()
		run = func(ctx context.Context, j *jobRun) error { return s.runSearch(ctx, j, p) }
	case KindStatistics:
		sp, err := ParseStatsParams(r.Params)
		if err != nil {
			return Job{}, err
		}
		run = func(ctx context.Context, j *jobRun) error { return s.runStats(ctx, j, sp) }
	default:
		return Job{}, &ValidationError{"kind", "导出类型只能是 search 或 statistics"}
	}
	j := Job{UserID: r.Subject.UserID, Kind: r.Kind, Format: r.Format, Params: r.Params, State: StateQueued}
	err := pgx.BeginFunc(ctx, s.opts.DB, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO export_jobs (user_id, kind, format, params, heartbeat_at) VALUES ($1, $2, $3, $4, now())
			RETURNING id, created_at`, j.UserID, j.Kind, j.Format, j.Params).Scan(&j.ID, &j.CreatedAt); err != nil {
			return fmt.Errorf("export: create job: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{UserID: r.Subject.UserID, Username: r.Subject.Username, ClientIP: r.ClientIP,
			Action: "export.start", Object: "export:" + strconv.FormatInt(j.ID, 10), Detail: r.Kind + " " + r.Format + " " + r.Params})
	})
	if err != nil {
		return Job{}, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.execute(j, r, run)
	}()
	return j, nil
}

// jobRun is a running job's writer state.
type jobRun struct {
	s        *Service
	job      Job
	sub      access.Subject
	w        rowWriter
	written  int64
	last     time.Time
	maxLevel int
}

func (s *Service) execute(j Job, r Request, run func(ctx context.Context, j *jobRun) error) {
	ctx := s.ctx
	path := filepath.Join(s.opts.Dir, fmt.Sprintf("export-%d.%s", j.ID, j.Format))
	jr := &jobRun{s: s, job: j, sub: r.Subject, maxLevel: -1}
	err := func() error {
		if _, err := s.opts.DB.Exec(ctx, `UPDATE export_jobs SET state = 'running', started_at = now(), heartbeat_at = now() WHERE id = $1`, j.ID); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // #nosec G304 -- path built from the configured directory and a job id
		if err != nil {
			return err
		}
		defer f.Close()
		if j.Format == FormatCSV {
			jr.w = newCSVWriter(f)
		} else {
			if jr.w, err = newXLSXWriter(f); err != nil {
				return err
			}
		}
		if err := run(ctx, jr); err != nil {
			return err
		}
		if err := jr.w.Close(); err != nil {
			return err
		}
		return f.Close()
	}()
	st, _ := os.Stat(path)
	var size int64
	if st != nil {
		size = st.Size()
	}
	var lvl *int
	if jr.maxLevel >= 0 {
		lvl = &jr.maxLevel
	}
	if err != nil {
		s.log.Error("export failed", "job", j.ID, "err", err)
		msg := err.Error()
		var ve *ValidationError
		if !errors.As(err, &ve) {
			msg = "导出失败：" + msg
		}
		_ = os.Remove(path)
		if _, uerr := s.opts.DB.Exec(context.WithoutCancel(ctx), `UPDATE export_jobs SET state = 'failed', error = $2, finished_at = now(), progress = $3 WHERE id = $1`,
			j.ID, msg, jr.written); uerr != nil {
			s.log.Error("export: record failure", "job", j.ID, "err", uerr)
		}
		_ = audit.Write(context.WithoutCancel(ctx), s.opts.DB, audit.Event{UserID: r.Subject.UserID, Username: r.Subject.Username, ClientIP: r.ClientIP,
			Action: "export.finish", Object: "export:" + strconv.FormatInt(j.ID, 10), Outcome: audit.Failure, Detail: msg})
		return
	}
	err = pgx.BeginFunc(context.WithoutCancel(ctx), s.opts.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE export_jobs SET state = 'done', progress = $2, total = $2, label = $3, file_path = $4, file_size = $5,
			finished_at = now(), heartbeat_at = now() WHERE id = $1`, j.ID, jr.written, lvl, path, size); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{UserID: r.Subject.UserID, Username: r.Subject.Username, ClientIP: r.ClientIP,
			Action: "export.finish", Object: "export:" + strconv.FormatInt(j.ID, 10), Label: lvl,
			Detail: fmt.Sprintf("%s %s，%d 行", j.Kind, j.Format, jr.written)})
	})
	if err != nil {
		s.log.Error("export: record completion", "job", j.ID, "err", err)
	}
}

// begin records the total and label known before streaming and writes the heading rows.
func (j *jobRun) begin(ctx context.Context, total int64, maxLevel int, title string, header []string) error {
	j.maxLevel = maxLevel
	var lvl *int
	if maxLevel >= 0 {
		lvl = &maxLevel
	}
	if _, err := j.s.opts.DB.Exec(ctx, `UPDATE export_jobs SET total = $2, label = $3, heartbeat_at = now() WHERE id = $1`, j.job.ID, total, lvl); err != nil {
		return err
	}
	marking := "公开"
	if maxLevel >= 0 {
		marking = label.Level(maxLevel).Chinese()
	}
	return j.w.Begin(marking, []string{"密级：" + marking, title, "导出时间：" + time.Now().In(search.Location).Format("2006-01-02 15:04"),
		fmt.Sprintf("共 %d 行", total)}, header)
}

// row writes one data row and reports progress now and then.
func (j *jobRun) row(ctx context.Context, cells []any) error {
	if err := j.w.Row(cells); err != nil {
		return err
	}
	j.written++
	if j.written%int64(j.s.opts.ProgressEvery) == 0 || time.Since(j.last) > time.Second {
		j.last = time.Now()
		if _, err := j.s.opts.DB.Exec(ctx, `UPDATE export_jobs SET progress = $2, heartbeat_at = now() WHERE id = $1`, j.job.ID, j.written); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Get returns a job of the user, marking a job whose process died as failed.
func (s *Service) Get(ctx context.Context, userID, id int64) (Job, error) {
	jobs, err := s.query(ctx, `WHERE user_id = $1 AND id = $2`, userID, id)
	if err != nil {
		return Job{}, err
	}
	if len(jobs) == 0 {
		return Job{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return jobs[0], nil
}

// List returns the user's recent jobs, newest first.
func (s *Service) List(ctx context.Context, userID int64) ([]Job, error) {
	return s.query(ctx, `WHERE user_id = $1 ORDER BY id DESC LIMIT 50`, userID)
}

func (s *Service) query(ctx context.Context, where string, args ...any) ([]Job, error) {
	// A job without a heartbeat for two minutes lost its process (restart, crash).
	if _, err := s.opts.DB.Exec(ctx, `UPDATE export_jobs SET state = 'failed', error = '导出进程中断，请重新导出', finished_at = now()
		WHERE state IN ('queued', 'running') AND heartbeat_at < now() - interval '2 minutes'`); err != nil {
		return nil, fmt.Errorf("export: expire jobs: %w", err)
	}
	rows, err := s.opts.DB.Query(ctx, `SELECT id, user_id, kind, format, params, state, total, progress, label, file_size, error, created_at,
		finished_at, file_path FROM export_jobs `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("export: jobs: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Job, error) {
		var j Job
		var lvl *int16
		err := row.Scan(&j.ID, &j.UserID, &j.Kind, &j.Format, &j.Params, &j.State, &j.Total, &j.Progress, &lvl, &j.FileSize, &j.Error,
			&j.CreatedAt, &j.FinishedAt, &j.filePath)
		if lvl != nil {
			v := int(*lvl)
			j.Label = &v
		}
		return j, err
	})
}

// Open opens a finished job's file for download and audits the download.
func (s *Service) Open(ctx context.Context, sub access.Subject, clientIP string, id int64) (Job, io.ReadCloser, error) {
	j, err := s.Get(ctx, sub.UserID, id)
	if err != nil {
		return j, nil, err
	}
	if j.State != StateDone {
		return j, nil, &ValidationError{"state", "导出尚未完成"}
	}
	f, err := os.Open(j.filePath) // #nosec G304 -- a path this service wrote, read back from its own table
	if err != nil {
		return j, nil, fmt.Errorf("export: open %d: %w", id, err)
	}
	if err := audit.Write(ctx, s.opts.DB, audit.Event{UserID: sub.UserID, Username: sub.Username, ClientIP: clientIP,
		Action: "export.download", Object: "export:" + strconv.FormatInt(id, 10), Label: j.Label, Detail: j.FileName()}); err != nil {
		_ = f.Close()
		return j, nil, err
	}
	return j, f, nil
}

// rowWriter is a CSV or XLSX stream.
type rowWriter interface {
	Begin(marking string, heading, header []string) error
	Row(cells []any) error
	Close() error
}

type csvWriter struct {
	w   *csv.Writer
	buf []string
}

func newCSVWriter(w io.Writer) *csvWriter {
	_, _ = w.Write([]byte("\xEF\xBB\xBF")) // UTF-8 BOM: spreadsheet programs then read Chinese correctly
	return &csvWriter{w: csv.NewWriter(w)}
}

func (c *csvWriter) Begin(_ string, heading, header []string) error {
	if err := c.w.Write(heading); err != nil {
		return err
	}
	return c.w.Write(header)
}

func (c *csvWriter) Row(cells []any) error {
	c.buf = c.buf[:0]
	for _, v := range cells {
		c.buf = append(c.buf, csvCell(v))
	}
	return c.w.Write(c.buf)
}

// csvCell renders a value; text starting with = + - @ is prefixed with ' so a spreadsheet does
// not run it as a formula (CSV injection).
func csvCell(v any) string {
	switch x := v.(type) {
	case string:
		if x != "" && strings.ContainsRune("=+-@\t\r", rune(x[0])) {
			return "'" + x
		}
		return x
	case time.Time:
		return x.In(search.Location).Format("2006-01-02 15:04")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func (c *csvWriter) Close() error { c.w.Flush(); return c.w.Error() }

type xlsxWriter struct {
	out  io.Writer
	f    *excelize.File
	sw   *excelize.StreamWriter
	row  int
	cell []any
}

const sheet = "导出"

func newXLSXWriter(out io.Writer) (*xlsxWriter, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	return &xlsxWriter{out: out, f: f, sw: sw}, nil
}

func (x *xlsxWriter) Begin(marking string, heading, header []string) error {
	if err := x.f.SetHeaderFooter(sheet, &excelize.HeaderFooterOptions{OddHeader: "&C" + marking, OddFooter: "&C" + marking + "  第 &P 页"}); err != nil {
		return err
	}
	if err := x.f.SetDocProps(&excelize.DocProperties{Title: heading[1], Subject: "密级：" + marking, Keywords: marking, Creator: "infowork"}); err != nil {
		return err
	}
	for _, r := range [][]string{heading, header} {
		cells := make([]any, len(r))
		for i, v := range r {
			cells[i] = v
		}
		if err := x.Row(cells); err != nil {
			return err
		}
	}
	return nil
}

func (x *xlsxWriter) Row(cells []any) error {
	x.row++
	x.cell = x.cell[:0]
	for _, v := range cells {
		if t, ok := v.(time.Time); ok {
			v = t.In(search.Location).Format("2006-01-02 15:04")
		}
		x.cell = append(x.cell, v)
	}
	addr, err := excelize.CoordinatesToCellName(1, x.row)
	if err != nil {
		return err
	}
	return x.sw.SetRow(addr, x.cell)
}

func (x *xlsxWriter) Close() error {
	if err := x.sw.Flush(); err != nil {
		return err
	}
	if _, err := x.f.WriteTo(x.out); err != nil {
		return err
	}
	return x.f.Close()
}

// searchHeader is the header row of a search export.
var searchHeader = []string{"编号", "标题", "单位", "类别", "区县", "密级", "紧急程度", "状态", "报送时间"}

func levelName(l int) string { return label.Level(l).Chinese() }

package export_test

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/xuri/excelize/v2"

	"infowork/access"
	"infowork/analyzers"
	"infowork/export"
	"infowork/indexer"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/search/embedded"
	"infowork/stats"
	"infowork/submission"
)

func seed(t *testing.T, db *pgxpool.Pool, n int, secretEvery int) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Exec(ctx, `INSERT INTO units (code, name, kind, district) VALUES ('E1', '东区街道', 'direct', '东区'), ('E2', '西区街道', 'direct', '西区')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO submissions (unit_id, title, body_html, body_text, district, classification, state, reported_at)
		SELECT (SELECT id FROM units WHERE code = CASE WHEN g % 2 = 0 THEN 'E1' ELSE 'E2' END),
			'第' || g || '号 物业管理情况', '<p>x</p>', '小区物业管理情况反映', '东区',
			CASE WHEN $2 > 0 AND g % $2 = 0 THEN 2 ELSE 0 END, 'submitted',
			timestamptz '2026-01-01 08:00:00+08' + (g % 90) * interval '1 day' + g * interval '1 second'
		FROM generate_series(1, $1) g`, n, secretEvery); err != nil {
		t.Fatal(err)
	}
}

var (
	researcher = access.Subject{UserID: 0, Username: "res", Roles: []string{access.RoleResearcher}, Clearance: label.Secret}
	public     = access.Subject{Username: "pub", Roles: []string{access.RoleResearcher}, Clearance: label.Public}
)

func user(t *testing.T, db *pgxpool.Pool, sub *access.Subject) {
	t.Helper()
	if err := db.QueryRow(context.Background(), `INSERT INTO users (username, password_hash, roles, clearance) VALUES ($1, 'x', $2, $3) RETURNING id`,
		sub.Username, sub.Roles, int(sub.Clearance)).Scan(&sub.UserID); err != nil {
		t.Fatal(err)
	}
}

// wait polls a job until it ends, recording the progress values seen.
func wait(t *testing.T, svc *export.Service, userID, id int64) (export.Job, []int64) {
	t.Helper()
	var seen []int64
	deadline := time.Now().Add(3 * time.Minute)
	for {
		j, err := svc.Get(context.Background(), userID, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) == 0 || seen[len(seen)-1] != j.Progress {
			seen = append(seen, j.Progress)
		}
		if j.State == export.StateDone || j.State == export.StateFailed {
			return j, seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %s at %d/%d", id, j.State, j.Progress, j.Total)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A 100,000-row export completes with progress, in CSV and XLSX, and the files open with all
// rows, labelled with the highest classification contained.
func TestHundredThousandRows(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 rows")
	}
	ctx := context.Background()
	db := testenv.DB(t)
	const n = 100000
	seed(t, db, n, 1000)
	r := researcher
	user(t, db, &r)
	svc, err := export.New(export.Options{DB: db, Dir: t.TempDir(), Logger: testenv.Logger(t), ProgressEvery: 5000})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, format := range []string{export.FormatCSV, export.FormatXLSX} {
		start := time.Now()
		j, err := svc.Start(ctx, export.Request{Subject: r, Kind: export.KindSearch, Format: format, Params: "unit=E1&unit=E2"})
		if err != nil {
			t.Fatal(err)
		}
		done, seen := wait(t, svc, r.UserID, j.ID)
		if done.State != export.StateDone || done.Progress != n || done.Total != n {
			t.Fatalf("%s: %+v", format, done)
		}
		var partial int
		for _, p := range seen {
			if p > 0 && p < n {
				partial++
			}
		}
		if partial == 0 {
			t.Errorf("%s: no intermediate progress seen (%v)", format, seen)
		}
		if done.LabelName() != "秘密" || !strings.Contains(done.FileName(), "秘密") {
			t.Errorf("%s: label %q, file %q", format, done.LabelName(), done.FileName())
		}
		_, rc, err := svc.Open(ctx, r, "127.0.0.1", j.ID)
		if err != nil {
			t.Fatal(err)
		}
		tmp, err := os.CreateTemp(t.TempDir(), "dl-*."+format)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tmp, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		tmp.Close()
		var rows [][]string
		if format == export.FormatCSV {
			f, _ := os.Open(tmp.Name())
			cr := csv.NewReader(f)
			cr.FieldsPerRecord = -1
			rows, err = cr.ReadAll()
			f.Close()
		} else {
			var x *excelize.File
			x, err = excelize.OpenFile(tmp.Name())
			if err == nil {
				rows, err = x.GetRows("导出")
				x.Close()
			}
		}
		if err != nil {
			t.Fatalf("%s: reopen: %v", format, err)
		}
		if len(rows) != n+2 || !strings.HasSuffix(rows[0][0], "密级：秘密") || rows[1][1] != "标题" {
			t.Fatalf("%s: %d rows, heading %v / %v", format, len(rows), rows[0], rows[1])
		}
		t.Logf("%s: %d rows in %v, %d bytes, progress seen %v", format, n, time.Since(start).Round(time.Millisecond), done.FileSize, seen)
	}
	var audits int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action LIKE 'export.%' AND username = 'res'`).Scan(&audits); err != nil || audits != 6 {
		t.Fatalf("audit rows %d (want start, finish and download of both): %v", audits, err)
	}
	// Another user cannot see or download the job.
	p := public
	user(t, db, &p)
	if _, _, err := svc.Open(ctx, p, "", 1); !errors.Is(err, export.ErrNotFound) {
		t.Fatalf("another user's download: %v", err)
	}
}

// A public reader's export holds only public rows and is labelled 公开.
func TestExportRespectsClearance(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	seed(t, db, 500, 10)
	p := public
	user(t, db, &p)
	svc, err := export.New(export.Options{DB: db, Dir: t.TempDir(), Stats: stats.New(db, nil), Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	j, err := svc.Start(ctx, export.Request{Subject: p, Kind: export.KindSearch, Format: export.FormatCSV, Params: ""})
	if err != nil {
		t.Fatal(err)
	}
	done, _ := wait(t, svc, p.UserID, j.ID)
	if done.State != export.StateDone || done.Progress != 450 || done.LabelName() != "公开" {
		t.Fatalf("%+v", done)
	}
	j, err = svc.Start(ctx, export.Request{Subject: p, Kind: export.KindStatistics, Format: export.FormatXLSX, Params: "dim=unit"})
	if err != nil {
		t.Fatal(err)
	}
	done, _ = wait(t, svc, p.UserID, j.ID)
	if done.State != export.StateDone || done.Progress != 3 {
		t.Fatalf("statistics export %+v", done)
	}
	_, rc, err := svc.Open(ctx, p, "", j.ID)
	if err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := x.GetRows("导出")
	if len(rows) != 5 || rows[4][0] != "合计" || rows[4][1] != "450" {
		t.Fatalf("statistics rows %v", rows)
	}
	for _, bad := range []export.Request{
		{Subject: p, Kind: "report", Format: "csv"},
		{Subject: p, Kind: export.KindSearch, Format: "pdf"},
		{Subject: p, Kind: export.KindSearch, Format: "csv", Params: `q="open`},
		{Subject: p, Kind: export.KindStatistics, Format: "csv", Params: "dim=colour"},
	} {
		var ve *export.ValidationError
		if _, err := svc.Start(ctx, bad); !errors.As(err, &ve) {
			t.Errorf("Start(%+v) = %v, want a validation error", bad, err)
		}
	}
}

// Keyword exports page through the engine in slices that fit its result window: with a window
// of 40, 300 hits over three months export completely; a day with more hits than the window
// fails clearly instead of being cut short.
func TestEngineExportSplitsAndNeverTruncates(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	seed(t, db, 300, 7)
	if _, err := db.Exec(ctx, `INSERT INTO outbox (entity, entity_id) SELECT 'submission', id FROM submissions`); err != nil {
		t.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "infowork-export-jieba-")
	defer os.RemoveAll(dir)
	an, err := analyzers.New(analyzers.Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	eng, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Analyzer: an, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ix, err := indexer.New(indexer.Options{DB: db, Engine: eng, Registerer: prometheus.NewRegistry(), Logger: testenv.Logger(t),
		Sources: map[string]indexer.Source{submission.Entity: submission.Documents}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	r := researcher
	user(t, db, &r)
	svc, err := export.New(export.Options{DB: db, Engine: eng, Dir: t.TempDir(), Window: 40, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	j, err := svc.Start(ctx, export.Request{Subject: r, Kind: export.KindSearch, Format: export.FormatCSV, Params: "q=物业"})
	if err != nil {
		t.Fatal(err)
	}
	done, _ := wait(t, svc, r.UserID, j.ID)
	if done.State != export.StateDone || done.Progress != 300 || done.LabelName() != "秘密" {
		t.Fatalf("%+v", done)
	}
	_, rc, err := svc.Open(ctx, r, "", j.ID)
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(rc)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, row := range rows[2:] {
		ids[row[0]] = true
	}
	if len(ids) != 300 {
		t.Fatalf("%d distinct records exported, want 300", len(ids))
	}
	// 30 hits on one day with a window of 20: the job fails and says why.
	if _, err := db.Exec(ctx, `UPDATE submissions SET reported_at = timestamptz '2026-05-05 09:00:00+08' + id * interval '1 second', version = version + 1 WHERE id <= 30;
		`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO outbox (entity, entity_id) SELECT 'submission', id FROM submissions WHERE id <= 30`); err != nil {
		t.Fatal(err)
	}
	if err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	svc2, err := export.New(export.Options{DB: db, Engine: eng, Dir: t.TempDir(), Window: 20, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close()
	j, err = svc2.Start(ctx, export.Request{Subject: r, Kind: export.KindSearch, Format: export.FormatXLSX, Params: "q=物业&month=2026-05"})
	if err != nil {
		t.Fatal(err)
	}
	done, _ = wait(t, svc2, r.UserID, j.ID)
	if done.State != export.StateFailed || !strings.Contains(done.Error, "2026-05-05") || !strings.Contains(done.Error, "不会静默截断") {
		t.Fatalf("%+v", done)
	}
}

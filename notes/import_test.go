package notes_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"infowork/internal/testenv"
	"infowork/notes"
	"infowork/unit"
)

// corpusDir is ../shared/corpus/dxl beside the repository (INFOWORK_CORPUS overrides the corpus
// root). Missing in CI is a failure; elsewhere the test is skipped.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := corpusDirOrEmpty()
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DXL corpus missing in CI (../shared/corpus/dxl)")
		}
		t.Skip("DXL corpus not available (../shared/corpus/dxl)")
	}
	return dir
}

type env struct {
	db  *pgxpool.Pool
	dir string
	im  *notes.Importer
	ctx context.Context
}

func newEnv(t *testing.T, m *notes.Mapping, o ...func(*notes.Options)) *env {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	for _, c := range []string{"NOTES", "B001"} {
		if _, err := unit.Upsert(ctx, db, unit.Unit{Code: c, Name: "单位" + c, Kind: unit.KindDirect}); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{db: db, dir: t.TempDir(), ctx: ctx}
	opts := notes.Options{DB: db, DataDir: e.dir, Mapping: m, Logger: testenv.Logger(t)}
	for _, f := range o {
		f(&opts)
	}
	im, err := notes.NewImporter(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.im = im
	return e
}

func (e *env) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.QueryRow(e.ctx, q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// documentsIn counts the document elements of a DXL file by a plain text scan, independently
// of the parser.
func documentsIn(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`<(document[\s>]|note [^>]*class=['"]document['"])`)
	return len(re.FindAll(b, -1))
}

func TestCorpusImportsWithZeroDifferences(t *testing.T) {
	dir := corpusDir(t)
	e := newEnv(t, nil)
	var progress bytes.Buffer
	rep, err := e.im.Import(e.ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Log("\n" + text.String() + progress.String())
	want := 0
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	for _, f := range files {
		if strings.HasSuffix(f, ".xml") || strings.HasSuffix(f, ".dxl") {
			want += documentsIn(t, f)
		}
	}
	if want < 30 {
		t.Fatalf("corpus has only %d documents", want)
	}
	if !rep.Passed || len(rep.Mismatches) > 0 {
		t.Fatalf("report did not pass: %+v", rep.Mismatches)
	}
	if rep.Total.Docs != want || rep.Total.Verified != want || rep.Total.Created != want {
		t.Fatalf("docs %d verified %d created %d, want %d", rep.Total.Docs, rep.Total.Verified, rep.Total.Created, want)
	}
	if n := e.count(t, `SELECT count(*) FROM submissions WHERE source = 'notes'`); n != want {
		t.Fatalf("%d records, want %d", n, want)
	}
	if n := e.count(t, `SELECT count(DISTINCT entity_id) FROM outbox WHERE entity = 'submission'`); n != want {
		t.Fatalf("%d records queued for indexing, want %d", n, want)
	}
	if rep.Design["form"] == 0 {
		t.Fatalf("design notes not counted: %v", rep.Design)
	}

	// Importing the same export again changes nothing.
	before := e.count(t, `SELECT count(*) FROM outbox`)
	rep2, err := e.im.Import(e.ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep2.Passed || rep2.Total.Unchanged != want || rep2.Total.Created+rep2.Total.Updated != 0 {
		t.Fatalf("second import: %+v", rep2.Total)
	}
	if after := e.count(t, `SELECT count(*) FROM outbox`); after != before {
		t.Fatalf("second import queued %d outbox rows", after-before)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"infowork/internal/testenv"
	"infowork/store"
)

// The operator's commands end to end: import the corpus with a JSON report, import it again (no
// change), then apply an incremental export from the drop folder with 'notes sync --once'.
func TestNotesCommands(t *testing.T) {
	corpus := filepath.Join(envOr("INFOWORK_CORPUS", filepath.Join("..", "..", "..", "shared", "corpus")), "dxl")
	if _, err := os.Stat(corpus); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("DXL corpus missing in CI: %v", err)
		}
		t.Skipf("DXL corpus not available: %v", err)
	}
	dsn := testenv.DSN(t)
	t.Setenv("INFOWORK_DATABASE_URL", dsn)
	data := t.TempDir()
	t.Setenv("INFOWORK_DATA_DIR", data)
	ctx := context.Background()
	if err := run(ctx, []string{"unit", "create", "--code", "NOTES", "--name", "Notes 迁移"}); err != nil {
		t.Fatal(err)
	}
	reportFile := filepath.Join(t.TempDir(), "report.json")
	type report struct {
		Passed bool `json:"passed"`
		Total  struct {
			Docs, Created, Unchanged, Verified int
		} `json:"total"`
	}
	read := func() report {
		b, err := os.ReadFile(reportFile)
		if err != nil {
			t.Fatal(err)
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := run(ctx, []string{"notes", "import", "--quiet", "--report", reportFile, corpus}); err != nil {
		t.Fatal(err)
	}
	r := read()
	if !r.Passed || r.Total.Docs < 30 || r.Total.Created != r.Total.Docs || r.Total.Verified != r.Total.Docs {
		t.Fatalf("first import: %+v", r)
	}
	if err := run(ctx, []string{"notes", "import", "--quiet", "--report", reportFile, corpus}); err != nil {
		t.Fatal(err)
	}
	if r2 := read(); !r2.Passed || r2.Total.Unchanged != r.Total.Docs || r2.Total.Created != 0 {
		t.Fatalf("second import: %+v", r2)
	}

	drop := t.TempDir()
	src, err := os.ReadFile(filepath.Join(corpus, "plomino", "test_text_type.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// The export's (first) document, read from the file: the corpus stays in ../shared. Design
	// notes come before it in the file and are skipped by the importer.
	first := regexp.MustCompile(`(?s)<document\b[^>]*>\s*<noteinfo [^>]*unid='([0-9A-F]{32})' sequence='1'`).FindStringSubmatch(string(src))
	if first == nil {
		t.Fatal("test_text_type.xml: no document with sequence 1")
	}
	unid := first[1]
	inc := strings.Replace(string(src), "unid='"+unid+"' sequence='1'", "unid='"+unid+"' sequence='2'", 1)
	if err := os.WriteFile(filepath.Join(drop, "0001.dxl"), []byte(inc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"notes", "sync", "--drop", drop, "--once"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(drop, "done", "0001.dxl")); err != nil {
		t.Fatalf("applied file not moved to done: %v", err)
	}

	db, err := store.Open(ctx, dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seq int64
	if err := db.QueryRow(ctx, `SELECT sequence FROM notes_documents WHERE unid = $1`, unid).Scan(&seq); err != nil || seq != 2 {
		t.Fatalf("incremental export not applied: sequence %d, %v", seq, err)
	}

	if err := run(ctx, []string{"notes", "verify", "--report", reportFile}); err != nil {
		t.Fatal(err)
	}
	if r3 := read(); !r3.Passed || r3.Total.Verified != r.Total.Docs {
		t.Fatalf("verify: %+v", r3)
	}

	var ue usageError
	if err := run(ctx, []string{"notes", "sync"}); err == nil || !errors.As(err, &ue) {
		t.Fatalf("sync without a source: %v", err)
	}
	if err := run(ctx, []string{"notes", "import", filepath.Join(t.TempDir(), "missing.dxl")}); err == nil {
		t.Fatal("missing file accepted")
	}
}

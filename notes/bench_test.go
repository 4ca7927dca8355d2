package notes_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"infowork/internal/testenv"
	"infowork/notes"
	"infowork/unit"
)

// BenchmarkImport imports an export of b.N documents (4 KiB of text each) into a fresh database,
// verification included: go test -run '^$' -bench Import -benchtime 2000x ./notes/
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	db := testenv.DB(b)
	if _, err := unit.Upsert(ctx, db, unit.Unit{Code: "NOTES", Name: "Notes", Kind: unit.KindDirect}); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(b.TempDir(), "big.dxl")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := bigExport(f, b.N, true); err != nil {
		b.Fatal(err)
	}
	f.Close()
	dataDir := b.TempDir()
	if d := os.Getenv("NOTES_BENCH_DATA_DIR"); d != "" {
		dataDir = d
	}
	im, err := notes.NewImporter(notes.Options{DB: db, DataDir: dataDir, Logger: testenv.Logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	rep, err := im.Import(ctx, p)
	if err != nil || !rep.Passed || rep.Total.Verified != b.N {
		b.Fatalf("%v %+v", err, rep.Total)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "docs/s")
}

package notes_test

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"infowork/notes"
)

// bigExport writes a whole-database export of n documents (each with a 4 KiB text item) to w,
// without the DXL namespace on every other run to cover both forms.
func bigExport(w io.Writer, n int, ns bool) error {
	root := "<database replicaid='48257F0A001B2C3D'>\n"
	if ns {
		root = "<database xmlns='http://www.lotus.com/dxl' replicaid='48257F0A001B2C3D'>\n"
	}
	if _, err := io.WriteString(w, "<?xml version='1.0' encoding='utf-8'?>\n"+root+
		"<form name='F'><noteinfo unid='FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'/></form>\n"); err != nil {
		return err
	}
	filler := strings.Repeat("信息报送", 340)
	for i := 0; i < n; i++ {
		if _, err := fmt.Fprintf(w, "<document form='Report'><noteinfo unid='%032X' sequence='1'/>"+
			"<item name='Subject'><text>第 %d 篇</text></item><item name='Body'><text>%s</text></item></document>\n", i, i, filler); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "</database>\n")
	return err
}

// A large export streams through the parser with memory bounded by one document: 20,000
// documents (~80 MiB) must not raise the heap by more than a few MiB.
func TestParseStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large stream")
	}
	for _, ns := range []bool{true, false} {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(bigExport(pw, 20000, ns)) }()
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak uint64
		docs, design := 0, 0
		err := notes.Parse(pr, notes.Handler{
			Document: func(d *notes.Document) error {
				docs++
				if docs%2000 == 0 {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapInuse)
				}
				if it, ok := d.Item("Subject"); !ok || it.Texts()[0] != fmt.Sprintf("第 %d 篇", docs-1) {
					return fmt.Errorf("document %d: wrong subject", docs)
				}
				return nil
			},
			Design: func(string) error { design++; return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		if docs != 20000 || design != 1 {
			t.Fatalf("namespace %v: %d documents, %d design notes", ns, docs, design)
		}
		if grow := int64(peak) - int64(base.HeapInuse); grow > 16<<20 {
			t.Fatalf("heap grew by %d MiB while streaming", grow>>20)
		}
		t.Logf("namespace %v: heap in use at most %.1f MiB (start %.1f MiB)", ns, float64(peak)/(1<<20), float64(base.HeapInuse)/(1<<20))
	}
}

func TestNotDXL(t *testing.T) {
	err := notes.Parse(strings.NewReader("<html><body/></html>"), notes.Handler{})
	if err == nil || !strings.Contains(err.Error(), "not a DXL export") {
		t.Fatalf("got %v", err)
	}
	err = notes.Parse(strings.NewReader("<database><document><noteinfo unid='1'/>"), notes.Handler{})
	if err == nil || !strings.Contains(err.Error(), "not well-formed") {
		t.Fatalf("truncated: %v", err)
	}
}

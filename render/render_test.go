package render_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"infowork/render"
)

func sample() render.Issue {
	long := strings.Repeat("全市各级各部门认真贯彻落实市委市政府部署，扎实推进民生实事项目建设。", 12)
	items := []render.Item{}
	for i := 0; i < 6; i++ {
		items = append(items, render.Item{Kind: "submission", ID: int64(i + 1), Title: "城东区推进老旧小区改造第" + string(rune('一'+i)) + "批",
			Units: []string{"城东区委办", "市住建局"}, Paragraphs: []string{long}})
	}
	items[0].EditorNote = "此件反映的做法值得各区借鉴。"
	return render.Issue{IssueID: 7, Revision: 1, Periodical: "每日要情", PeriodicalCode: "mryq", MastheadOrg: "中共示范市委办公室",
		Year: 2026, YearNumber: 12, TotalNumber: 345, Date: "2026-11-25", Classification: 1, Marking: "内部",
		Sections:     []render.Section{{Name: "要情快报", Items: items[:3]}, {Name: "基层动态", Items: items[3:]}},
		Distribution: []string{"省委办公厅", "市委常委"}, FooterNote: "中共示范市委办公室秘书科"}
}

func TestHTMLLayout(t *testing.T) {
	h, err := render.HTML(sample())
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	for _, want := range []string{"每日要情", "2026年第12期（总第345期）", "中共示范市委办公室", "2026年11月25日", "【要情快报】",
		"编者按：", "（城东区委办、市住建局供稿）", "报：省委办公厅，市委常委", "2026年11月25日印发", ">内部<"} {
		if !strings.Contains(s, want) {
			t.Errorf("print view lacks %q", want)
		}
	}
	if strings.Contains(s, "http://") || strings.Contains(s, "https://") {
		t.Error("print view refers to an external resource")
	}
}

func TestDOCX(t *testing.T) {
	a, err := render.DOCX(sample())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := render.DOCX(sample())
	if !bytes.Equal(a, b) {
		t.Error("the same issue gave different DOCX bytes")
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]string{}
	for _, f := range zr.File {
		r, _ := f.Open()
		body, _ := io.ReadAll(r)
		parts[f.Name] = string(body)
	}
	doc := parts["word/document.xml"]
	for _, want := range []string{"每日要情", "2026年第12期（总第345期）", "【要情快报】", "编者按：此件反映", "报：省委办公厅，市委常委", "2026年11月25日印发", `w:headerReference`, `w:footerReference`} {
		if !strings.Contains(doc, want) {
			t.Errorf("document.xml lacks %q", want)
		}
	}
	if !strings.Contains(parts["word/header1.xml"], ">内部<") {
		t.Errorf("header lacks the marking: %s", parts["word/header1.xml"])
	}
	if !strings.Contains(parts["word/footer1.xml"], " PAGE ") {
		t.Error("footer lacks the page number field")
	}
	if !strings.Contains(parts["word/styles.xml"], render.Font) {
		t.Error("styles do not name the shipped font")
	}
}

// pdfText extracts the text of each page with poppler's pdftotext.
func pdfText(t *testing.T, pdf []byte) []string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext (poppler-utils) is required")
	}
	p := filepath.Join(t.TempDir(), "issue.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	pages := strings.Split(strings.TrimRight(string(out), "\f\n"), "\f")
	return pages
}

func TestPDF(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	pr := render.NewPrinter(render.PDFOptions{})
	pdf, err := pr.PDF(context.Background(), sample())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	pages := pdfText(t, pdf)
	if d := os.Getenv("RENDER_DUMP"); d != "" {
		_ = os.WriteFile(d, pdf, 0o600)
	}
	if len(pages) < 2 {
		t.Fatalf("want a multi-page issue, got %d page(s)", len(pages))
	}
	all := strings.Join(pages, "\n")
	for _, want := range []string{"每日要情", "2026年第12期（总第345期）", "【要情快报】", "编者按：", "报：省委办公厅，市委常委", "印发"} {
		if !strings.Contains(all, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	for i, p := range pages {
		if !strings.Contains(p, "内部") {
			t.Errorf("page %d lacks the classification marking", i+1)
		}
		if !strings.Contains(strings.ReplaceAll(p, " ", ""), "—"+itoa(i+1)+"—") {
			t.Errorf("page %d lacks its page number", i+1)
		}
	}
	// Regenerating gives the same text (the bytes differ in the creation time; see doc.go).
	again, err := pr.PDF(context.Background(), sample())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pdfText(t, again), "\f") != strings.Join(pages, "\f") {
		t.Error("a regenerated PDF has different text")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestPDFMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	pr := render.NewPrinter(render.PDFOptions{Chromium: "/nonexistent/chromium", Registerer: reg})
	if _, err := pr.PDF(context.Background(), sample()); !errors.Is(err, render.ErrNoBrowser) {
		t.Fatalf("want ErrNoBrowser, got %v", err)
	}
	render.NewPrinter(render.PDFOptions{Registerer: reg}) // a second printer shares the series
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "infowork_render_pdf_failures_total" {
			found = true
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 1 {
				t.Errorf("failures = %v, want 1", v)
			}
		}
	}
	if !found {
		t.Error("infowork_render_pdf_failures_total is not registered")
	}
}

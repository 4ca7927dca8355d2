package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Tools are the external programs the child runs; tests and packagers may point them elsewhere.
// PRLimit (util-linux) starts each tool under the child's memory limit.
var Tools = struct{ PDFToText, PDFInfo, PDFToPPM, Tesseract, PRLimit string }{
	PDFToText: "pdftotext", PDFInfo: "pdfinfo", PDFToPPM: "pdftoppm", Tesseract: "tesseract", PRLimit: "prlimit",
}

// minTextRunes is how many letters a PDF page's text layer needs on average before it is taken
// as text; below it the pages are rendered and read by OCR (scans saved as PDF).
const minTextRunes = 8

// run executes a tool and returns its standard output; a password or damage message from
// poppler becomes an unreadable error with the reason. In the child (toolMemory > 0) the tool
// runs under prlimit with RLIMIT_AS = toolMemory: prlimit sets the limit on itself and execs
// the tool, so the limit is in place before the tool's first instruction.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	prog, argv := name, args
	if toolMemory > 0 {
		path, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("extract: %s is not installed: %w", name, err)
		}
		prog = Tools.PRLimit
		if _, err := exec.LookPath(prog); err != nil {
			return nil, fmt.Errorf("extract: %s (util-linux) is not installed: %w", prog, err)
		}
		argv = append([]string{"--as=" + strconv.FormatInt(toolMemory, 10), "--", path}, args...)
	}
	cmd := exec.CommandContext(ctx, prog, argv...) // #nosec G204 -- fixed tool names; the arguments are our own temporary paths
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err == nil {
		return out.Bytes(), nil
	}
	msg := errb.String()
	switch {
	case ctx.Err() != nil:
		return nil, limited("处理超时")
	case strings.Contains(msg, "Incorrect password") || strings.Contains(msg, "password"):
		return nil, unreadable("PDF 受密码保护，无法读取文字，请去除密码后再上传")
	case strings.Contains(msg, "failed to map segment") || strings.Contains(msg, "annot allocate memory") ||
		strings.Contains(msg, "bad_alloc") || strings.Contains(msg, "out of memory"):
		return nil, limited("%s 超出内存限制", filepath.Base(name))
	case errors.Is(err, exec.ErrNotFound):
		return nil, fmt.Errorf("extract: %s is not installed: %w", name, err)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && !ee.Exited() {
		return nil, limited("%s 被终止（超出资源限制）", filepath.Base(name))
	}
	first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	if first == "" {
		first = err.Error()
	}
	return nil, unreadable("文件已损坏或格式不正确（%s：%s）", filepath.Base(name), clipRunes(first, 120))
}

func clipRunes(s string, n int) string {
	rs := []rune(s)
	if len(rs) > n {
		return string(rs[:n]) + "…"
	}
	return s
}

var pagesLine = regexp.MustCompile(`(?m)^Pages:\s+(\d+)`)

// PDFPages is the page count from pdfinfo.
func PDFPages(ctx context.Context, path string) (int, error) {
	out, err := run(ctx, Tools.PDFInfo, path)
	if err != nil {
		return 0, err
	}
	m := pagesLine.FindSubmatch(out)
	if m == nil {
		return 0, unreadable("PDF 页数无法读取")
	}
	n, _ := strconv.Atoi(string(m[1]))
	if n < 1 {
		return 0, unreadable("PDF 没有页面")
	}
	return n, nil
}

func pdfFile(ctx context.Context, path string, lim Limits) (Result, error) {
	pages, err := PDFPages(ctx, path)
	if err != nil {
		return Result{}, err
	}
	out, err := run(ctx, Tools.PDFToText, "-q", "-enc", "UTF-8", path, "-")
	if err != nil {
		return Result{}, err
	}
	text := cjkSpaces(strings.ReplaceAll(string(bytes.ToValidUTF8(out, nil)), "\f", "\n"))
	letters := 0
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			letters++
		}
	}
	if letters >= minTextRunes*pages || letters >= 2000 {
		return Result{Text: text, Pages: pages, Method: MethodText}, nil
	}
	// An image-only PDF (a scan): render the pages and read them.
	dir, err := os.MkdirTemp("", "infowork-ocr-*")
	if err != nil {
		return Result{}, fmt.Errorf("extract: %w", err)
	}
	defer os.RemoveAll(dir)
	n := min(pages, lim.MaxOCRPages)
	var b strings.Builder
	for p := 1; p <= n; p++ {
		png := filepath.Join(dir, "page.png")
		if err := RenderPDFPage(ctx, path, p, 0, lim.OCRResolution, png); err != nil {
			return Result{}, err
		}
		t, err := ocr(ctx, png, lim)
		if err != nil {
			return Result{}, err
		}
		b.WriteString(t)
		b.WriteByte('\n')
	}
	return Result{Text: b.String(), Pages: pages, Method: MethodOCR, OCRPages: n, Truncated: n < pages}, nil
}

// RenderPDFPage writes page (1-based) of a PDF as a grey or colour PNG to out: at width pixels
// when width > 0, else at dpi.
func RenderPDFPage(ctx context.Context, path string, page, width, dpi int, out string) error {
	p := strconv.Itoa(page)
	args := []string{"-q", "-f", p, "-l", p, "-png", "-singlefile"}
	if width > 0 {
		args = append(args, "-scale-to", strconv.Itoa(width))
	} else {
		args = append(args, "-r", strconv.Itoa(dpi), "-gray")
	}
	args = append(args, path, strings.TrimSuffix(out, ".png"))
	_, err := run(ctx, Tools.PDFToPPM, args...)
	return err
}

func imageFile(ctx context.Context, path string, lim Limits) (Result, error) {
	t, err := ocr(ctx, path, lim)
	if err != nil {
		return Result{}, err
	}
	return Result{Text: t, Pages: 1, Method: MethodOCR, OCRPages: 1}, nil
}

// ocr reads one page image with Tesseract (page segmentation 3: automatic layout). Tesseract's
// own threads are limited to one through OMP_THREAD_LIMIT, set by the child. The TSV output
// carries a confidence per word: a page whose mean confidence is below minOCRConfidence is a
// photograph or a drawing, not text, and yields no text rather than noise in the index.
func ocr(ctx context.Context, img string, lim Limits) (string, error) {
	out, err := run(ctx, Tools.Tesseract, img, "stdout", "-l", lim.OCRLanguages, "--psm", "3", "tsv")
	if err != nil {
		return "", err
	}
	return cjkSpaces(ocrText(string(bytes.ToValidUTF8(out, nil)))), nil
}

// minOCRConfidence is the mean word confidence (0–100) below which a page counts as no text.
const minOCRConfidence = 55

// ocrText rebuilds the text from Tesseract's TSV (level 5 rows are words; block, paragraph and
// line numbers give the line breaks).
func ocrText(tsv string) string {
	var (
		b        strings.Builder
		lastLine string
		sum      float64
		words    int
	)
	for i, row := range strings.Split(tsv, "\n") {
		f := strings.Split(row, "\t")
		if i == 0 || len(f) < 12 || f[0] != "5" {
			continue
		}
		text := strings.TrimSpace(f[11])
		conf, err := strconv.ParseFloat(f[10], 64)
		if text == "" || err != nil || conf < 0 {
			continue
		}
		sum += conf
		words++
		line := f[2] + "." + f[3] + "." + f[4]
		switch {
		case lastLine == "":
		case line != lastLine:
			b.WriteByte('\n')
		default:
			b.WriteByte(' ')
		}
		lastLine = line
		b.WriteString(text)
	}
	if words == 0 || sum/float64(words) < minOCRConfidence {
		return ""
	}
	return b.String()
}

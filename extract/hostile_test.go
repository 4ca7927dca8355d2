package extract_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"strings"
	"syscall"
	"testing"
	"time"

	"infowork/extract"
	"infowork/extract/extracttest"
)

// Hostile files end as ErrUnreadable or ErrLimit with a zh-CN reason, and the parent (this
// test process) is unaffected.
func TestHostileFiles(t *testing.T) {
	t.Parallel()
	r := runner(t, extract.RunnerOptions{Timeout: 20 * time.Second})
	docx := extracttest.DOCX(t, "正常的文档内容")
	cases := []struct {
		name, mime string
		data       []byte
		kind       error
		reason     string
	}{
		{"bomb.docx", extract.MIMEDOCX, extracttest.ZipBomb(t, 512<<20), extract.ErrUnreadable, "压缩炸弹"},
		{"truncated.docx", extract.MIMEDOCX, docx[:len(docx)/2], extract.ErrUnreadable, "损坏或不完整"},
		{"notxml.docx", extract.MIMEDOCX, extracttest.Zip(t, []string{"word/document.xml"}, map[string]string{"word/document.xml": "<w:document><w:p><w:t>半截"}), extract.ErrUnreadable, "XML"},
		{"wrong.xlsx", extract.MIMEXLSX, docx, extract.ErrUnreadable, "不是有效的 Excel"},
		{"truncated.pdf", extract.MIMEPDF, []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog"), extract.ErrUnreadable, "已损坏"},
		{"encrypted.pdf", extract.MIMEPDF, extracttest.EncryptedPDF(t, "secret"), extract.ErrUnreadable, "密码"},
		{"binary.txt", extract.MIMEText, []byte{0x81, 0x30, 0xFF, 0xFF, 0x00, 0x81}, extract.ErrUnreadable, "编码"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.Extract(context.Background(), write(t, c.name, c.data), c.mime)
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want %v", err, c.kind)
			}
			if !strings.Contains(extract.Reason(err), c.reason) {
				t.Errorf("reason %q lacks %q", extract.Reason(err), c.reason)
			}
		})
	}
}

// A password-protected PDF is unreadable every time, with its reason: the child's own runtime
// (the race detector's too, under go test -race) must never trip the memory limit meant for the
// tools — that once made it "处理进程超出内存限制" now and then (docs/documents.md, Sandbox).
func TestEncryptedPDFIsUnreadableEveryTime(t *testing.T) {
	needTools(t)
	t.Parallel()
	r := runner(t, extract.RunnerOptions{Timeout: 30 * time.Second})
	path := write(t, "加密.pdf", extracttest.EncryptedPDF(t, "secret"))
	for i := range 8 {
		_, err := r.Extract(context.Background(), path, extract.MIMEPDF)
		if !errors.Is(err, extract.ErrUnreadable) || !strings.Contains(extract.Reason(err), "密码") {
			t.Fatalf("run %d: err = %v (reason %q), want unreadable: password", i+1, err, extract.Reason(err))
		}
	}
}

// A file that keeps the child busy past the timeout is killed with its whole process group
// (the tesseract it started included).
//
// Not parallel: it counts every child of this test binary, so no other test may run meanwhile.
func TestTimeoutKillsTheGroup(t *testing.T) {
	needTools(t)
	r := runner(t, extract.RunnerOptions{Timeout: 150 * time.Millisecond})
	scan := extracttest.Scan(t, strings.Repeat("信息报送", 12), strings.Repeat("舆情监测", 12), strings.Repeat("防汛值班", 12))
	pdf := extracttest.ImagePDF(t, scan)
	start := time.Now()
	_, err := r.Extract(context.Background(), write(t, "slow.pdf", pdf), extract.MIMEPDF)
	if !errors.Is(err, extract.ErrLimit) || !strings.Contains(extract.Reason(err), "超时") {
		t.Fatalf("err = %v (%s), want a timeout", err, extract.Reason(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %s", d)
	}
	// No tesseract of ours survives: every process of this test binary's children is gone.
	if out, _ := execCommand("pgrep", "-P", itoa(syscall.Getpid())); strings.TrimSpace(out) != "" {
		t.Errorf("children left running: %s", out)
	}
}

// An image whose decoding needs more memory than the child may have fails inside the child.
func TestMemoryLimit(t *testing.T) {
	needTools(t)
	t.Parallel()
	img := image.NewGray(image.Rect(0, 0, 6000, 6000))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	r := runner(t, extract.RunnerOptions{MemoryBytes: 64 << 20, Timeout: 30 * time.Second})
	_, err := r.Extract(context.Background(), write(t, "huge.png", b.Bytes()), extract.MIMEPNG)
	if err == nil {
		t.Fatal("a 36-megapixel OCR fit in 64 MiB")
	}
	t.Logf("reason: %s", extract.Reason(err))
	// The tool hit the limit (it runs under prlimit --as), not the child's own Go runtime.
	if !errors.Is(err, extract.ErrLimit) || extract.Reason(err) != "tesseract 超出内存限制" {
		t.Errorf("err = %v, want tesseract's memory limit", err)
	}
	// The same runner with room reads a normal file afterwards.
	ok := runner(t, extract.RunnerOptions{})
	if _, err := ok.Extract(context.Background(), write(t, "ok.docx", extracttest.DOCX(t, "内容")), extract.MIMEDOCX); err != nil {
		t.Fatal(err)
	}
}

func TestRender(t *testing.T) {
	needTools(t)
	t.Parallel()
	r := runner(t, extract.RunnerOptions{})
	scan := extracttest.Scan(t, sentScan)
	for _, c := range []struct {
		name, mime string
		data       []byte
	}{{"scan.jpg", extract.MIMEJPEG, scan}, {"scan.pdf", extract.MIMEPDF, extracttest.ImagePDF(t, scan)}} {
		b, err := r.Render(context.Background(), write(t, c.name, c.data), c.mime, 1, 300)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != 300 {
			t.Errorf("%s: png %v width %d, want 300", c.name, err, cfg.Width)
		}
	}
	_, err := r.Render(context.Background(), write(t, "scan.pdf", extracttest.ImagePDF(t, scan)), extract.MIMEPDF, 2, 300)
	if !errors.Is(err, extract.ErrUnreadable) || !strings.Contains(extract.Reason(err), "没有第 2 页") {
		t.Errorf("page 2 of 1: %v", err)
	}
}

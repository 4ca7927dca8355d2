package extract_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"infowork/extract"
	"infowork/extract/extracttest"
)

func init() { extract.MaybeChild() }

// The sentences of the acceptance test: each appears in exactly one file.
const (
	sentDOCX = "东湖街道组织开展防汛应急演练"
	sentScan = "市民反映老旧小区加装电梯进展缓慢"
)

func write(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runner(t *testing.T, o extract.RunnerOptions) *extract.Runner {
	t.Helper()
	r, err := extract.NewRunner(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func needTools(t *testing.T) {
	t.Helper()
	extracttest.NeedTools(t)
}

func TestOfficeAndText(t *testing.T) {
	t.Parallel()
	r := runner(t, extract.RunnerOptions{})
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("区县信息报送工作要点：做好汛期值班。")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, mime string
		data       []byte
		want       []string
		pages      int
		encoding   string
		html       string
	}{
		{"report.docx", extract.MIMEDOCX, extracttest.DOCX(t, sentDOCX+"。", "参加人员 120 名。"), []string{sentDOCX, "参加人员 120 名。"}, 1, "", "<p>" + sentDOCX},
		{"stats.xlsx", extract.MIMEXLSX, extracttest.XLSX(t, "报送统计", []string{"单位", "条数"}, []string{"城关区", "37"}), []string{"报送统计", "城关区\t37"}, 1, "", "<td>城关区</td>"},
		{"slides.pptx", extract.MIMEPPTX, extracttest.PPTX(t, "第一季度舆情综述", "重点关注城市供水"), []string{"第一季度舆情综述", "重点关注城市供水"}, 2, "", "<h3>第 2 页</h3>"},
		{"gbk.txt", extract.MIMEText, []byte(gbk), []string{"区县信息报送工作要点：做好汛期值班。"}, 1, "GB18030", "<p>区县"},
		{"utf8.txt", extract.MIMEText, []byte("\xEF\xBB\xBF供暖投诉集中在北城"), []string{"供暖投诉集中在北城"}, 1, "UTF-8", ""},
		{"page.html", extract.MIMEHTML, []byte(`<html><head><style>p{}</style><script>alert("x")</script></head><body><h1>社区&amp;治理</h1><p>网格员走访 <b>300</b> 户</p></body></html>`),
			[]string{"社区&治理", "网格员走访 300 户"}, 1, "UTF-8", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := r.Extract(context.Background(), write(t, c.name, c.data), c.mime)
			if err != nil {
				t.Fatalf("extract: %v (%s)", err, extract.Reason(err))
			}
			for _, w := range c.want {
				if !strings.Contains(res.Text, w) {
					t.Errorf("text %q lacks %q", res.Text, w)
				}
			}
			if strings.Contains(res.Text, "alert") {
				t.Errorf("script text extracted: %q", res.Text)
			}
			if res.Pages != c.pages || res.Method != extract.MethodText {
				t.Errorf("pages %d method %s, want %d text", res.Pages, res.Method, c.pages)
			}
			if c.encoding != "" && res.Encoding != c.encoding {
				t.Errorf("encoding %q, want %q", res.Encoding, c.encoding)
			}
			if c.html != "" && !strings.Contains(res.HTML, c.html) {
				t.Errorf("preview HTML %q lacks %q", res.HTML, c.html)
			}
		})
	}
}

func TestOCR(t *testing.T) {
	needTools(t)
	t.Parallel()
	r := runner(t, extract.RunnerOptions{})
	scan := extracttest.Scan(t, sentScan+"。", "居民希望街道协调推进。")
	cases := []struct {
		name, mime string
		data       []byte
		method     string
	}{
		{"scan.jpg", extract.MIMEJPEG, scan, extract.MethodOCR},
		{"scan.pdf", extract.MIMEPDF, extracttest.ImagePDF(t, scan), extract.MethodOCR},
		{"layer.pdf", extract.MIMEPDF, extracttest.TextPDF(t, sentScan+"。"), extract.MethodText},
	}
	// A photograph (here: noise) is not text: OCR's confidence is low and no text is kept.
	noise := image.NewGray(image.Rect(0, 0, 400, 300))
	x := uint32(7)
	for i := range noise.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		noise.Pix[i] = byte(x)
	}
	var nb bytes.Buffer
	if err := png.Encode(&nb, noise); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Extract(context.Background(), write(t, "photo.png", nb.Bytes()), extract.MIMEPNG); err != nil || res.Text != "" {
		t.Errorf("photo: text %q, err %v; want no text", res.Text, err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			res, err := r.Extract(context.Background(), write(t, c.name, c.data), c.mime)
			if err != nil {
				t.Fatalf("extract: %v", err)
			}
			t.Logf("%s: %s in %s: %q", c.name, res.Method, time.Since(start), res.Text)
			if !strings.Contains(res.Text, sentScan) {
				t.Errorf("text %q lacks %q", res.Text, sentScan)
			}
			if res.Method != c.method {
				t.Errorf("method %s, want %s", res.Method, c.method)
			}
		})
	}
}

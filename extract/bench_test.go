package extract_test

import (
	"context"
	"strings"
	"testing"

	"infowork/extract"
	"infowork/extract/extracttest"
)

// A page of a typical report: 24 lines of about 30 characters.
func pageLines(n int) []string {
	base := []string{"东湖街道组织开展汛期应急演练，参加人员一百二十名，", "市民反映老旧小区加装电梯进展缓慢，希望街道协调推进，",
		"区长批示请住建部门牵头督办，并于本月底前报告进展情况，", "下一步将加强值班值守，确保信息报送及时准确完整无误，"}
	out := make([]string, n)
	for i := range out {
		out[i] = base[i%len(base)]
	}
	return out
}

// BenchmarkExtract measures extraction through the Runner, child process included, as the
// worker runs it. Results are recorded in BENCHMARKS.md ("Documents").
//
//	go test -run '^$' -bench Extract -benchtime 5x ./extract/
func BenchmarkExtract(b *testing.B) {
	r, err := extract.NewRunner(extract.RunnerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var paras []string
	for i := 0; i < 10; i++ { // ten pages of text
		paras = append(paras, pageLines(24)...)
	}
	page := pageLines(24)
	scan := extracttest.Scan(b, page...)
	cases := []struct {
		name, mime string
		data       []byte
		pages      int
	}{
		{"docx-10-pages", extract.MIMEDOCX, extracttest.DOCX(b, paras...), 10},
		{"xlsx-1000-cells", extract.MIMEXLSX, extracttest.XLSX(b, "表", func() [][]string {
			var rows [][]string
			for i := 0; i < 100; i++ {
				rows = append(rows, strings.Split("城关区 东湖街道 37 12 信息 报送 采用 加分 备注 完成", " "))
			}
			return rows
		}()...), 1},
		{"pdf-text-layer-1-page", extract.MIMEPDF, extracttest.TextPDF(b, page...), 1},
		{"ocr-jpeg-1-page", extract.MIMEJPEG, scan, 1},
		{"ocr-image-pdf-1-page", extract.MIMEPDF, extracttest.ImagePDF(b, scan), 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			path := write(b, c.name, c.data)
			b.SetBytes(int64(len(c.data)))
			var chars int
			for i := 0; i < b.N; i++ {
				res, err := r.Extract(context.Background(), path, c.mime)
				if err != nil {
					b.Fatal(err)
				}
				chars = len([]rune(res.Text))
			}
			b.ReportMetric(float64(chars), "chars")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(c.pages), "s/page")
		})
	}
}

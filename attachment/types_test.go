package attachment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"infowork/extract"
	"infowork/extract/extracttest"
)

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 120, 255})
		}
	}
	return img
}

func pngBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a small valid PNG whose header declares w×h (a decompression bomb's header).
func hugePNG(t testing.TB, w, h uint32) []byte {
	b := pngBytes(t)
	// IHDR data starts after the signature (8), length (4) and type (4).
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func check(t *testing.T, name string, data []byte) (Kind, Info, error) {
	t.Helper()
	return Check(bytes.NewReader(data), int64(len(data)), name, MaxPixels)
}

func TestChecks(t *testing.T) {
	p, j, g := pngBytes(t), jpegBytes(t), gifBytes(t)
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	cases := []struct {
		name    string
		file    string
		data    []byte
		want    error // nil: accepted
		mime    string
		contain string // in the reason
	}{
		{"png", "a.png", p, nil, "image/png", ""},
		{"jpeg", "a.JPG", j, nil, "image/jpeg", ""},
		{"jpeg as .jpeg", "a.jpeg", j, nil, "image/jpeg", ""},
		{"gif", "动图.gif", g, nil, "image/gif", ""},
		{"pdf", "文件.pdf", pdf, nil, "application/pdf", ""},
		{"no extension", "photo", p, nil, "image/png", ""},
		{"png renamed jpg", "a.jpg", p, ErrUnsupported, "", ".jpg"},
		{"jpeg renamed exe", "a.exe", j, ErrUnsupported, "", ".exe"},
		{"html named png", "a.png", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), ErrUnsupported, "", "网页"},
		{"svg", "a.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), ErrUnsupported, "", "扩展名"},
		{"text named png", "a.png", []byte("just text"), ErrUnsupported, "", "纯文本"},
		{"text", "说明.txt", []byte("情况说明"), nil, "text/plain", ""},
		{"html", "page.htm", []byte("<!DOCTYPE html><html><p>网页</p></html>"), nil, "text/html", ""},
		{"docx", "报告.docx", extracttest.DOCX(t, "正文"), nil, extract.MIMEDOCX, ""},
		{"xlsx", "统计.xlsx", extracttest.XLSX(t, "表", []string{"a"}), nil, extract.MIMEXLSX, ""},
		{"pptx", "汇报.pptx", extracttest.PPTX(t, "第一页"), nil, extract.MIMEPPTX, ""},
		{"docx named pdf", "报告.pdf", extracttest.DOCX(t, "正文"), ErrUnsupported, "", "Word"},
		{"xlsx named docx", "a.docx", extracttest.XLSX(t, "表", []string{"a"}), ErrUnsupported, "", "Excel"},
		{"broken zip", "a.docx", []byte("PK\x03\x04rest of a zip"), ErrMalformed, "", "不完整"},
		{"truncated docx", "a.docx", func() []byte { b := extracttest.DOCX(t, "正文"); return b[:len(b)-30] }(), ErrMalformed, "", "不完整"},
		{"zip bomb", "a.docx", extracttest.ZipBomb(t, 300<<20), ErrMalformed, "", "压缩炸弹"},
		{"plain zip", "a.docx", extracttest.Zip(t, []string{"x.txt"}, map[string]string{"x.txt": "x"}), ErrUnsupported, "", "不是 Word"},
		{"encrypted office", "a.docx", extracttest.EncryptedOffice(), ErrUnsupported, "", "密码"},
		{"truncated png", "a.png", p[:len(p)-20], ErrMalformed, "", "不完整"},
		{"png header only", "a.png", p[:40], ErrMalformed, "", ""},
		{"png with junk after IEND", "a.png", append(bytes.Clone(p), "<script>"...), ErrMalformed, "", "多余"},
		{"png bad crc", "a.png", func() []byte { b := bytes.Clone(p); b[len(b)-30] ^= 0xFF; return b }(), ErrMalformed, "", ""},
		{"truncated jpeg", "a.jpg", j[:len(j)/2], ErrMalformed, "", "不完整"},
		{"truncated gif", "a.gif", g[:len(g)-1], ErrMalformed, "", "不完整"},
		{"truncated pdf", "a.pdf", pdf[:20], ErrMalformed, "", "不完整"},
		{"decompression bomb", "a.png", hugePNG(t, 50000, 50000), ErrMalformed, "", "尺寸过大"},
		{"zero size png", "a.png", hugePNG(t, 0, 10), ErrMalformed, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, info, err := check(t, c.file, c.data)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if k.MIME != c.mime {
					t.Fatalf("kind %s, want %s", k.MIME, c.mime)
				}
				if k.Image && (info.Width != 40 || info.Height != 30) {
					t.Fatalf("info %+v", info)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if Reason(err) == "" || !strings.Contains(Reason(err), c.contain) {
				t.Fatalf("reason %q does not mention %q", Reason(err), c.contain)
			}
		})
	}
}

func TestCheckCaption(t *testing.T) {
	ok := []struct{ caption, file string }{
		{"东湖街道志愿者清理河道", "IMG_1234.jpg"},
		{"2024 年防汛演练现场", "a.png"},
		{"会议现场", ""},
		{"photo of the flood barrier", "IMG_1.jpg"},
	}
	for _, c := range ok {
		if err := CheckCaption(c.caption, c.file); err != nil {
			t.Errorf("CheckCaption(%q, %q) refused: %v", c.caption, c.file, err)
		}
	}
	bad := []struct{ caption, file, contain string }{
		{"", "a.jpg", "请填写"},
		{"   \t ", "a.jpg", "请填写"},
		{strings.Repeat("字", 201), "a.jpg", "最多 200"},
		{"IMG_1234.jpg", "IMG_1234.jpg", "文件名"},
		{"img_1234", "IMG_1234.JPG", "文件名"},
		{"东湖现场", `C:\fakepath\东湖现场.png`, "文件名"},
		{"IMG_5678.jpg", "a.png", "文件名"},
		{"DSC01234", "a.png", "文件名"},
		{"微信图片_20240301101112", "a.png", "文件名"},
		{"20240301_101112", "a.png", "文件名"},
		{"现场照片.JPEG", "a.png", "文件名"},
	}
	for _, c := range bad {
		err := CheckCaption(c.caption, c.file)
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Fields["caption"], c.contain) {
			t.Errorf("CheckCaption(%q, %q) = %v, want a caption error mentioning %q", c.caption, c.file, err, c.contain)
		}
	}
}

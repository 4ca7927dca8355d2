// Package extracttest builds documents for tests of extraction, search and previews: Office
// Open XML files written with archive/zip, scanned pages rendered from Chinese text with the
// WenQuanYi Micro Hei font, PDFs with and without a text layer, and hostile files (zip bombs,
// encrypted, truncated, mislabelled). Nothing here is a stand-in: every file is a real file of
// its type that the real tools read.
package extracttest

import (
	"archive/zip"
	"bytes"
	"crypto/md5" // #nosec G501 -- the PDF standard security handler (R2) is MD5 by definition; test files only
	"crypto/rc4" // #nosec G503 -- the PDF standard security handler (R2) is RC4 by definition; test files only
	"encoding/binary"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// FontPath is the CJK font the scans are rendered with (Debian fonts-wqy-microhei; .ci/run
// installs it).
const FontPath = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

// NeedTools skips the test when poppler-utils, Tesseract with the chi_sim model or the CJK font
// are missing — unless CI is set, where .ci/run installs them and a missing one fails the test
// (a skipped acceptance test must not pass CI silently).
func NeedTools(t testing.TB) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"pdftotext", "pdftoppm", "pdfinfo", "tesseract", "prlimit"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := os.Stat("/usr/share/tesseract-ocr/5/tessdata/chi_sim.traineddata"); err != nil {
		missing = append(missing, "tesseract-ocr-chi-sim")
	}
	if _, err := os.Stat(FontPath); err != nil {
		missing = append(missing, "fonts-wqy-microhei")
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s (.ci/run installs poppler-utils, tesseract-ocr, tesseract-ocr-chi-sim, fonts-wqy-microhei; prlimit is in util-linux)", strings.Join(missing, ", "))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Zip builds an archive from name → content, in the given order of names.
func Zip(t testing.TB, names []string, parts map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, n := range names {
		f, err := w.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(parts[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const contentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>%s</Types>`

// DOCX is a Word document with one paragraph per entry of paras.
func DOCX(t testing.TB, paras ...string) []byte {
	var body strings.Builder
	for _, p := range paras {
		body.WriteString(`<w:p><w:r><w:t xml:space="preserve">` + html.EscapeString(p) + `</w:t></w:r></w:p>`)
	}
	names := []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml"}
	return Zip(t, names, map[string]string{
		"[Content_Types].xml": fmt.Sprintf(contentTypes, `<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>`),
		"_rels/.rels":         `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
		"word/document.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			body.String() + `</w:body></w:document>`,
	})
}

// XLSX is a workbook with one sheet named sheet holding rows of shared-string cells.
func XLSX(t testing.TB, sheet string, rows ...[]string) []byte {
	var shared []string
	var data strings.Builder
	for _, r := range rows {
		data.WriteString("<row>")
		for _, c := range r {
			fmt.Fprintf(&data, `<c t="s"><v>%d</v></c>`, len(shared))
			shared = append(shared, c)
		}
		data.WriteString("</row>")
	}
	var sst strings.Builder
	for _, s := range shared {
		sst.WriteString("<si><t>" + html.EscapeString(s) + "</t></si>")
	}
	names := []string{"[Content_Types].xml", "xl/workbook.xml", "xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"}
	return Zip(t, names, map[string]string{
		"[Content_Types].xml":      fmt.Sprintf(contentTypes, `<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`),
		"xl/workbook.xml":          `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="` + html.EscapeString(sheet) + `" sheetId="1"/></sheets></workbook>`,
		"xl/sharedStrings.xml":     `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` + sst.String() + `</sst>`,
		"xl/worksheets/sheet1.xml": `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + data.String() + `</sheetData></worksheet>`,
	})
}

// PPTX is a presentation with one slide per entry of slides.
func PPTX(t testing.TB, slides ...string) []byte {
	names := []string{"[Content_Types].xml", "ppt/presentation.xml"}
	parts := map[string]string{
		"[Content_Types].xml":  fmt.Sprintf(contentTypes, `<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>`),
		"ppt/presentation.xml": `<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>`,
	}
	for i, s := range slides {
		n := fmt.Sprintf("ppt/slides/slide%d.xml", i+1)
		names = append(names, n)
		parts[n] = `<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>` +
			html.EscapeString(s) + `</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>`
	}
	return Zip(t, names, parts)
}

// ZipBomb is a DOCX whose document part inflates to size bytes of zeros (about 1000:1).
func ZipBomb(t testing.TB, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, n := range []string{"[Content_Types].xml", "word/document.xml"} {
		f, err := w.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if n == "word/document.xml" {
			zero := make([]byte, 1<<20)
			for i := 0; i < size>>20; i++ {
				if _, err := f.Write(zero); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		if _, err := f.Write([]byte(fmt.Sprintf(contentTypes, ""))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// EncryptedOffice is the start of what Office writes for a password-protected document: a
// Compound File Binary container holding an EncryptedPackage stream.
func EncryptedOffice() []byte {
	b := make([]byte, 4096)
	copy(b, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1})
	name := "EncryptedPackage"
	off := 1024
	for i := 0; i < len(name); i++ { // directory entry names are UTF-16LE (ASCII here)
		b[off+2*i] = name[i]
	}
	return b
}

// Scan renders lines of Chinese text black on white, as a page scanned at about 200 dpi, and
// encodes it as a JPEG.
func Scan(t testing.TB, lines ...string) []byte {
	t.Helper()
	img := Render(t, 40, lines...)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Render draws lines at size points (pixels) with the CJK font on a white page.
func Render(t testing.TB, size float64, lines ...string) *image.Gray {
	t.Helper()
	NeedTools(t)
	data, err := os.ReadFile(FontPath) // #nosec G304 -- a fixed system font path
	if err != nil {
		t.Fatal(err)
	}
	f, err := opentype.Parse(alignedFont(t, data))
	if err != nil {
		t.Fatal(err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	width := 0
	for _, l := range lines {
		width = max(width, font.MeasureString(face, l).Ceil())
	}
	lh := int(size * 1.6)
	img := image.NewGray(image.Rect(0, 0, width+2*int(size), lh*len(lines)+2*int(size)))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face}
	for i, l := range lines {
		d.Dot = fixed.P(int(size), int(size)+lh*i+int(size))
		d.DrawString(l)
	}
	return img
}

// alignedFont copies the first font of a TrueType collection into a single font file with
// every table on a four-byte boundary: WenQuanYi's collection has unaligned tables, which
// golang.org/x/image/font/sfnt refuses.
func alignedFont(t testing.TB, ttc []byte) []byte {
	t.Helper()
	u32 := func(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
	dir := ttc
	if string(ttc[:4]) == "ttcf" {
		dir = ttc[u32(ttc[12:16]):]
	}
	n := int(binary.BigEndian.Uint16(dir[4:6]))
	out := make([]byte, 12+16*n)
	copy(out, dir[:12])
	for i := 0; i < n; i++ {
		e := dir[12+16*i : 28+16*i]
		off, length := u32(e[8:12]), u32(e[12:16])
		if int(off)+int(length) > len(ttc) {
			t.Fatalf("font table %q out of range", e[:4])
		}
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		ne := out[12+16*i : 28+16*i]
		copy(ne, e[:8])
		binary.BigEndian.PutUint32(ne[8:12], uint32(len(out))) // #nosec G115 -- a font of a few MB
		binary.BigEndian.PutUint32(ne[12:16], length)
		out = append(out, ttc[off:off+length]...)
	}
	return out
}

// ImagePDF is a PDF of one page holding only the JPEG (a scan saved as PDF: no text layer).
func ImagePDF(t testing.TB, jpg []byte) []byte {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	if err != nil {
		t.Fatal(err)
	}
	// The page is the size of the paper the scan came from: 200 pixels per inch.
	w, h := cfg.Width, cfg.Height
	pw, ph := w*72/200, h*72/200
	content := fmt.Sprintf("q %d 0 0 %d 0 0 cm /Im0 Do Q", pw, ph)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>", pw, ph),
		fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream", w, h, len(jpg), jpg),
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// EncryptedPDF is a one-page PDF protected by a user password (standard security handler,
// revision 2, 40-bit RC4, as old scanners' "secure PDF" makes): no reader opens it without the
// password.
func EncryptedPDF(t testing.TB, userPassword string) []byte {
	t.Helper()
	padding := []byte("\x28\xBF\x4E\x5E\x4E\x75\x8A\x41\x64\x00\x4E\x56\xFF\xFA\x01\x08\x2E\x2E\x00\xB6\xD0\x68\x3E\x80\x2F\x0C\xA9\xFE\x64\x53\x69\x7A")
	pad := func(pw string) []byte { return append([]byte(pw), padding...)[:32] }
	rc4x := func(key, data []byte) []byte {
		c, err := rc4.NewCipher(key) // #nosec G405 -- the PDF standard security handler R2 is RC4 by definition
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, len(data))
		c.XORKeyStream(out, data)
		return out
	}
	ownerKey := md5.Sum(pad("owner-" + userPassword)) // #nosec G401 -- PDF algorithm 3 is MD5 by definition
	o := rc4x(ownerKey[:5], pad(userPassword))
	id := []byte("infowork-test-id")
	perms := int32(-4)
	h := md5.New() // #nosec G401 -- PDF algorithm 2 is MD5 by definition
	h.Write(pad(userPassword))
	h.Write(o)
	_ = binary.Write(h, binary.LittleEndian, perms)
	h.Write(id)
	key := h.Sum(nil)[:5]
	u := rc4x(key, padding)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
		fmt.Sprintf("<< /Filter /Standard /V 1 /R 2 /Length 40 /O <%x> /U <%x> /P %d >>", o, u, perms),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, ob := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, ob)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%x> <%x>] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, id, id, xref)
	return b.Bytes()
}

// TextPDF is a PDF with a text layer made by Tesseract from a rendered page: the page image with
// the recognized text laid over it, as scanners with OCR produce (tesseract's pdf renderer).
func TextPDF(t testing.TB, lines ...string) []byte {
	t.Helper()
	NeedTools(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "page.jpg")
	if err := os.WriteFile(in, Scan(t, lines...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tesseract", in, filepath.Join(dir, "out"), "-l", "chi_sim", "pdf") // #nosec G204 -- test helper
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tesseract pdf: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out.pdf")) // #nosec G304 -- the test's own temporary directory
	if err != nil {
		t.Fatal(err)
	}
	return b
}

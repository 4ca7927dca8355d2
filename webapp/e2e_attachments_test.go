package webapp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"infowork/attachment"
	"infowork/internal/testenv"
	"infowork/webapp"
)

// attachmentStack is the usual stack served by a replica with an attachment store in a
// temporary data directory.
func attachmentStack(t *testing.T) (*stack, string) {
	t.Helper()
	s := newStack(t, stackOptions{})
	dir := t.TempDir()
	svc, err := attachment.New(s.DB, attachment.Options{DataDir: dir, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	base := s.replica(t, func(o *webapp.Options) { o.Attachments = svc })
	return &stack{DB: s.DB, Base: base, Auth: s.Auth, Opts: s.Opts, tokens: map[string]string{}, totpSecrets: map[string]string{}}, dir
}

func sampleImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	return img
}

func encodeImage(t *testing.T, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, sampleImage())
	case "jpeg":
		err = jpeg.Encode(&b, sampleImage(), &jpeg.Options{Quality: 80})
	case "gif":
		err = gif.Encode(&b, sampleImage(), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// polyglotGIF is a valid GIF that also carries an HTML script (in a comment extension block):
// a browser that sniffed it as HTML would run the script.
func polyglotGIF(t *testing.T) []byte {
	g := encodeImage(t, "gif")
	script := "<html><script>alert(document.cookie)</script></html>"
	ext := append([]byte{0x21, 0xFE, byte(len(script))}, script...)
	ext = append(ext, 0x00)
	out := append(slices.Clone(g[:len(g)-1]), ext...)
	return append(out, 0x3B)
}

// hugeHeaderPNG declares a 20000×20000 canvas in an otherwise small valid PNG.
func hugeHeaderPNG(t *testing.T) []byte {
	b := encodeImage(t, "png")
	binary.BigEndian.PutUint32(b[16:], 20000)
	binary.BigEndian.PutUint32(b[20:], 20000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

type upload struct {
	filename string // "" with file nil: no file part
	file     []byte
	caption  *string
	csrf     string
}

func str(s string) *string { return &s }

func (u upload) body(t *testing.T) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if u.csrf != "" {
		if err := w.WriteField("_csrf", u.csrf); err != nil {
			t.Fatal(err)
		}
	}
	if u.file != nil {
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`,
			strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(u.filename)))
		h.Set("Content-Type", "image/png") // the client's claim, which the server ignores
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		p.Write(u.file)
	}
	if u.caption != nil {
		if err := w.WriteField("caption", *u.caption); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	return &b, w.FormDataContentType()
}

func (s *stack) upload(t *testing.T, username string, subID int64, u upload) resp {
	t.Helper()
	body, ct := u.body(t)
	r, err := call(apiClient, "POST", s.Base+"/api/v1/submissions/"+strconv.FormatInt(subID, 10)+"/attachments", body,
		map[string]string{"Authorization": "Bearer " + s.token(t, username), "Content-Type": ct})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	if err := filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *stack) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func wantError(t *testing.T, what string, r resp, status int, code, field string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: %s, want %d", what, r, status)
		return
	}
	e, _ := r.JSON(t)["error"].(map[string]any)
	if e == nil || e["code"] != code {
		t.Errorf("%s: error %v, want code %s", what, e, code)
		return
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("%s: no reason given", what)
	}
	if field != "" {
		fields, _ := e["fields"].(map[string]any)
		if fields[field] == nil || fields[field] == "" {
			t.Errorf("%s: no message for field %s in %v", what, field, e)
		}
	}
}

// checkDownload fetches an attachment and checks the body and the download headers exactly.
func checkDownload(t *testing.T, r resp, data []byte, contentType, name string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("download: %s", r)
	}
	if !bytes.Equal(r.Body, data) {
		t.Errorf("download %s: %d bytes differ from the %d uploaded", name, len(r.Body), len(data))
	}
	want := map[string]string{
		"Content-Type":           contentType,
		"Content-Disposition":    "attachment; filename*=UTF-8''" + attachment.EncodeRFC5987(name),
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "private, no-store",
	}
	for k, v := range want {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("download %s: %s = %q, want exactly %q", name, k, got, v)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("download %s: CSP %q", name, csp)
	}
}

func TestAttachmentsAPI(t *testing.T) {
	t.Parallel()
	s, dir := attachmentStack(t)
	s.token(t, "rep_a")
	sub, err := s.createAPI("rep_a", created{Title: "防汛演练附件", Body: "东湖街道组织防汛演练。", Classification: "internal"})
	if err != nil {
		t.Fatal(err)
	}
	png1, jpg1, gif1 := encodeImage(t, "png"), encodeImage(t, "jpeg"), encodeImage(t, "gif")

	// Refusals first: nothing may be stored by any of them.
	before := blobFiles(t, dir)
	big := append(slices.Clone(png1), bytes.Repeat([]byte{0}, attachment.DefaultMaxBytes)...)
	for _, c := range []struct {
		what   string
		u      upload
		status int
		code   string
		field  string
	}{
		{"PNG renamed .jpg", upload{filename: "河道.jpg", file: png1, caption: str("河道清理")}, 415, "unsupported_media_type", "file"},
		{"HTML named .png", upload{filename: "photo.png", file: []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"), caption: str("现场照片")}, 415, "unsupported_media_type", "file"},
		{"truncated PNG", upload{filename: "a.png", file: png1[:len(png1)-30], caption: str("现场照片")}, 422, "malformed_file", "file"},
		{"decompression bomb header", upload{filename: "a.png", file: hugeHeaderPNG(t), caption: str("现场照片")}, 422, "malformed_file", "file"},
		{"oversized", upload{filename: "big.png", file: big, caption: str("很大的照片")}, 413, "payload_too_large", ""},
		{"missing caption", upload{filename: "a.png", file: png1}, 422, "validation_failed", "caption"},
		{"blank caption", upload{filename: "a.png", file: png1, caption: str("  ")}, 422, "validation_failed", "caption"},
		{"caption is the filename", upload{filename: "IMG_1234.png", file: png1, caption: str("IMG_1234.png")}, 422, "validation_failed", "caption"},
		{"caption is the stem", upload{filename: "IMG_1234.png", file: png1, caption: str("IMG_1234")}, 422, "validation_failed", "caption"},
		{"caption looks like a filename", upload{filename: "a.png", file: png1, caption: str("DSC_0042.JPG")}, 422, "validation_failed", "caption"},
		{"no file", upload{caption: str("现场照片")}, 422, "validation_failed", "file"},
	} {
		wantError(t, c.what, s.upload(t, "rep_a", sub.ID, c.u), c.status, c.code, c.field)
	}
	r, err := call(apiClient, "POST", s.Base+"/api/v1/submissions/"+strconv.FormatInt(sub.ID, 10)+"/attachments",
		strings.NewReader(`{"caption":"x"}`), map[string]string{"Authorization": "Bearer " + s.token(t, "rep_a"), "Content-Type": "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, "JSON body", r, 415, "unsupported_media_type", "")
	// A body beyond BodyLimit is cut off before it is read: 413, or the connection is closed.
	huge, ct := upload{filename: "huge.png", file: bytes.Repeat([]byte{0x89}, attachment.DefaultMaxDocumentBytes+1<<20), caption: str("超大")}.body(t)
	if r, err := call(apiClient, "POST", s.Base+"/api/v1/submissions/"+strconv.FormatInt(sub.ID, 10)+"/attachments", huge,
		map[string]string{"Authorization": "Bearer " + s.token(t, "rep_a"), "Content-Type": ct}); err == nil && r.Status != 413 {
		t.Errorf("body beyond BodyLimit: %s, want 413", r)
	}
	if n := s.count(t, `SELECT (SELECT count(*) FROM attachments) + (SELECT count(*) FROM blobs)`); n != 0 {
		t.Fatalf("refused uploads stored %d rows", n)
	}
	if got := blobFiles(t, dir); !slices.Equal(got, before) {
		t.Fatalf("refused uploads changed the blob store: %v", got)
	}

	// Good files.
	type stored struct {
		id         string
		data       []byte
		ct, name   string
		previewOK  bool
		apiPayload map[string]any
	}
	var ok []stored
	for _, c := range []struct {
		filename, caption, ct, name string
		data                        []byte
	}{
		{`C:\fakepath\东湖河道 清理.PNG`, "东湖街道志愿者清理河道", "image/png", "东湖河道 清理.PNG", png1},
		{"site.jpg", "防汛物资仓库", "image/jpeg", "site.jpg", jpg1},
		{"动图.gif", "演练过程动图", "image/gif", "动图.gif", gif1},
		{"poly.gif", "含脚本的 GIF 图片", "image/gif", "poly.gif", polyglotGIF(t)},
		{"noext", "没有扩展名的图片", "image/png", "noext.png", png1},
		{"方案.pdf", "防汛演练方案", "application/pdf", "方案.pdf", []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")},
	} {
		r := s.upload(t, "rep_a", sub.ID, upload{filename: c.filename, file: c.data, caption: str(c.caption)})
		if r.Status != http.StatusCreated {
			t.Fatalf("upload %s: %s", c.filename, r)
		}
		m := r.JSON(t)
		if m["content_type"] != c.ct || m["caption"] != c.caption || m["size"] != float64(len(c.data)) {
			t.Errorf("upload %s: %v", c.filename, m)
		}
		id := strconv.FormatFloat(m["id"].(float64), 'f', -1, 64)
		if r.Header.Get("Location") != "/api/v1/attachments/"+id {
			t.Errorf("Location %q", r.Header.Get("Location"))
		}
		ok = append(ok, stored{id: id, data: c.data, ct: c.ct, name: c.name, previewOK: strings.HasPrefix(c.ct, "image/"), apiPayload: m})
	}

	// The documented schema matches the response.
	keys, _ := readYAMLKeys(t, "../docs/openapi.yaml")
	var got []string
	for k := range ok[0].apiPayload {
		got = append(got, k)
	}
	sort.Strings(got)
	if want := keys.children("components/schemas/Attachment/properties"); !slices.Equal(got, want) {
		t.Errorf("schema Attachment documents %v; the response has %v", want, got)
	}

	// Downloads, API and page, and the researcher reading every unit.
	b := s.browser(t)
	b.login("rep_a")
	for _, a := range ok {
		checkDownload(t, s.api(t, "GET", "/api/v1/attachments/"+a.id, s.token(t, "rep_a"), nil), a.data, a.ct, a.name)
		checkDownload(t, b.get("/attachments/"+a.id), a.data, a.ct, a.name)
		checkDownload(t, s.api(t, "GET", "/api/v1/attachments/"+a.id, s.token(t, "res_secret"), nil), a.data, a.ct, a.name)
		p := b.get("/attachments/" + a.id + "/preview")
		if !a.previewOK {
			must(t, p.Status == http.StatusNotFound, "preview of %s: %s, want 404", a.ct, p)
			continue
		}
		must(t, p.Status == http.StatusOK && bytes.Equal(p.Body, a.data), "preview %s: %s", a.name, p)
		must(t, p.Header.Get("Content-Type") == a.ct && p.Header.Get("X-Content-Type-Options") == "nosniff" &&
			p.Header.Get("Content-Disposition") == "inline; filename*=UTF-8''"+attachment.EncodeRFC5987(a.name) &&
			p.Header.Get("Content-Security-Policy") == "default-src 'none'; img-src 'self'; sandbox" &&
			p.Header.Get("Cache-Control") == "private, no-store", "preview %s headers: %v", a.name, p.Header)
	}
	// The polyglot is only ever an image/gif attachment that must not be sniffed.
	poly := s.api(t, "GET", "/api/v1/attachments/"+ok[3].id, s.token(t, "rep_a"), nil)
	must(t, bytes.Contains(poly.Body, []byte("<script>")), "the polyglot lost its script: the test proves nothing")
	must(t, poly.Header.Get("Content-Type") == "image/gif" && strings.HasPrefix(poly.Header.Get("Content-Disposition"), "attachment;") &&
		poly.Header.Get("X-Content-Type-Options") == "nosniff", "polyglot headers: %v", poly.Header)

	// The other unit: the submission does not exist for it, nor do its attachments.
	for _, a := range ok {
		r := s.api(t, "GET", "/api/v1/attachments/"+a.id, s.token(t, "rep_b"), nil)
		wantError(t, "other unit's API download", r, 404, "not_found", "")
		must(t, !bytes.Contains(r.Body, a.data[:8]), "404 carries the file")
	}
	ob := s.browser(t)
	ob.login("rep_b")
	must(t, ob.get("/attachments/"+ok[0].id).Status == http.StatusNotFound, "other unit's page download is not 404")
	must(t, ob.get("/attachments/"+ok[0].id+"/preview").Status == http.StatusNotFound, "other unit's preview is not 404")
	// Below the submission's label (internal): 404 as well.
	wantError(t, "public-clearance download", s.api(t, "GET", "/api/v1/attachments/"+ok[0].id, s.token(t, "res_public"), nil), 404, "not_found", "")
	// Uploads: the other unit gets 404, a reader outside the unit 403, and nothing is stored.
	n0 := s.count(t, `SELECT count(*) FROM attachments`)
	wantError(t, "other unit's upload", s.upload(t, "rep_b", sub.ID, upload{filename: "b.png", file: png1, caption: str("别的单位的照片")}), 404, "not_found", "")
	wantError(t, "researcher's upload", s.upload(t, "res_secret", sub.ID, upload{filename: "r.png", file: png1, caption: str("研究人员的照片")}), 403, "forbidden", "")
	must(t, s.count(t, `SELECT count(*) FROM attachments`) == n0, "a refused upload stored a row")
	wantError(t, "other unit's list", s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d/attachments", sub.ID), s.token(t, "rep_b"), nil), 404, "not_found", "")

	// Same content twice: one blob (row and file), one attachment row per upload.
	if n := s.count(t, `SELECT count(*) FROM attachments WHERE blob_sha256 = (SELECT blob_sha256 FROM attachments WHERE id = $1)`, ok[0].id); n != 2 {
		t.Errorf("%d attachment rows for the PNG uploaded twice, want 2", n)
	}
	if n := s.count(t, `SELECT count(*) FROM blobs`); n != len(ok)-1 {
		t.Errorf("%d blobs for %d uploads with one repeat", n, len(ok))
	}
	if n := len(blobFiles(t, dir)); n != len(ok)-1 {
		t.Errorf("%d blob files for %d uploads with one repeat", n, len(ok))
	}

	// List.
	list := s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d/attachments", sub.ID), s.token(t, "res_secret"), nil)
	var l struct {
		Items []map[string]any `json:"items"`
	}
	list.Decode(t, &l)
	must(t, len(l.Items) == len(ok), "list: %s", list)

	// Audit: every upload and every download, with the submission's label.
	must(t, s.auditCount(t, `action = 'attachment.upload' AND outcome = 'success' AND label = 1`) == len(ok), "upload audit rows")
	must(t, s.auditCount(t, `action = 'attachment.download' AND username = 'res_secret' AND object = $1`, "attachment:"+ok[0].id) == 1,
		"download audit row of the researcher")
	must(t, s.auditCount(t, `action = 'attachment.download' AND label = 1`) == 3*len(ok)+1, "download audit rows: %d",
		s.auditCount(t, `action = 'attachment.download'`))
}

func TestAttachmentsPage(t *testing.T) {
	t.Parallel()
	s, dir := attachmentStack(t)
	s.token(t, "rep_a")
	sub, err := s.createAPI("rep_a", created{Title: "页面上传附件", Body: "页面上传附件的正文。", Classification: "public"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/submissions/" + strconv.FormatInt(sub.ID, 10)
	b := s.browser(t)
	b.login("rep_a")
	pg := b.get(path)
	must(t, pg.Status == http.StatusOK && bytes.Contains(pg.Body, []byte(`enctype="multipart/form-data"`)), "no upload form: %s", pg)
	tok := csrfOf(t, pg)
	post := func(u upload) resp {
		t.Helper()
		body, ct := u.body(t)
		r, err := call(b.hc, "POST", s.Base+path+"/attachments", body, map[string]string{"Content-Type": ct})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	png1 := encodeImage(t, "png")
	before := blobFiles(t, dir)

	// Without the CSRF token: refused, nothing stored.
	r := post(upload{filename: "a.png", file: png1, caption: str("没有令牌的上传")})
	must(t, r.Status == http.StatusForbidden, "upload without _csrf: %s", r)
	// Refusals are shown on the page with the reason, and store nothing.
	r = post(upload{filename: "IMG_2024.png", file: png1, caption: str("IMG_2024"), csrf: tok})
	must(t, r.Status == http.StatusUnprocessableEntity && bytes.Contains(r.Body, []byte("文件名")), "caption = stem: %s", r)
	r = post(upload{filename: "big.png", file: append(slices.Clone(png1), make([]byte, attachment.DefaultMaxBytes)...), caption: str("很大的照片"), csrf: tok})
	must(t, r.Status == http.StatusRequestEntityTooLarge && bytes.Contains(r.Body, []byte("1 MB")), "oversized: %s", r)
	r = post(upload{filename: "x.png", file: []byte("<html><script>alert(1)</script></html>"), caption: str("网页"), csrf: tok})
	must(t, r.Status == http.StatusUnsupportedMediaType && bytes.Contains(r.Body, []byte("网页")), "HTML: %s", r)
	must(t, s.count(t, `SELECT count(*) FROM attachments`) == 0, "a refused page upload stored a row")
	must(t, slices.Equal(blobFiles(t, dir), before), "a refused page upload changed the blob store")

	r = post(upload{filename: "河道.png", file: png1, caption: str("东湖街道志愿者清理河道"), csrf: tok})
	must(t, r.Status == http.StatusSeeOther && strings.Contains(r.Header.Get("Location"), "flash=attached"), "page upload: %s", r)
	pg = b.get(path)
	var id int64
	if err := s.DB.QueryRow(context.Background(), `SELECT id FROM attachments WHERE submission_id = $1`, sub.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"东湖街道志愿者清理河道", "河道.png", "PNG 图片", fmt.Sprintf(`href="/attachments/%d"`, id),
		fmt.Sprintf(`src="/attachments/%d/thumbnail"`, id), fmt.Sprintf(`href="/documents/%d"`, id)} {
		must(t, bytes.Contains(pg.Body, []byte(want)), "page lacks %q", want)
	}

	// Another unit's reporter sees neither the page nor the file; a researcher sees both but no form.
	ob := s.browser(t)
	ob.login("rep_b")
	must(t, ob.get(path).Status == http.StatusNotFound, "other unit sees the submission")
	must(t, ob.get(fmt.Sprintf("/attachments/%d", id)).Status == http.StatusNotFound, "other unit downloads the attachment")
	rb := s.browser(t)
	rb.login("res_secret")
	rp := rb.get(path)
	must(t, rp.Status == http.StatusOK && bytes.Contains(rp.Body, []byte("东湖街道志愿者清理河道")) &&
		!bytes.Contains(rp.Body, []byte(`enctype="multipart/form-data"`)), "researcher's page: %s", rp)
}

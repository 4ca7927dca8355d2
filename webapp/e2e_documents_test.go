package webapp_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"infowork/attachment"
	"infowork/extract"
	"infowork/extract/extracttest"
	"infowork/internal/browsertest"
	"infowork/internal/testenv"
	"infowork/webapp"
)

// Extraction runs in a child process: in tests the test binary itself, dispatched here.
func init() { extract.MaybeChild() }

// The three sentences of the acceptance test, one per file; none is in the report itself.
const (
	docSentence  = "东湖街道组织开展汛期应急演练"
	pdfSentence  = "市民反映老旧小区加装电梯进展缓慢"
	scanSentence = "区长批示请住建部门牵头督办"
)

// documentStack is a replica with an attachment store, a real extractor (child processes of
// this test binary) and the extraction worker running.
func documentStack(t *testing.T) (*stack, string) {
	t.Helper()
	extracttest.NeedTools(t)
	s := newStack(t, stackOptions{})
	dir := t.TempDir()
	runner, err := extract.NewRunner(extract.RunnerOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := attachment.New(s.DB, attachment.Options{DataDir: dir, Extractor: runner, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := attachment.NewWorker(svc, attachment.WorkerOptions{PollInterval: 200 * time.Millisecond, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	base := s.replica(t, func(o *webapp.Options) { o.Attachments = svc })
	return &stack{DB: s.DB, Base: base, Auth: s.Auth, Opts: s.Opts, tokens: map[string]string{}, totpSecrets: map[string]string{}}, dir
}

type docHit struct {
	ID         string `json:"id"`
	Attachment *struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Snippet string `json:"snippet"`
		URL     string `json:"url"`
	} `json:"attachment"`
}

func (s *stack) docSearch(t *testing.T, username, q string) []docHit {
	t.Helper()
	r := s.api(t, "GET", "/api/v1/search?"+url.Values{"q": {q}}.Encode(), s.token(t, username), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("search %q: %s", q, r)
	}
	var out struct {
		Hits []docHit `json:"hits"`
	}
	r.Decode(t, &out)
	return out.Hits
}

// TestDocumentsFoundBySentence is the acceptance test: a report with a DOCX, a PDF and
// a scanned JPEG of Chinese text is found by a sentence from each (the scan through OCR), the
// hit names the file and shows the passage, the report's label applies, previews are served,
// and hostile files are refused or marked unreadable without affecting anything else.
func TestDocumentsFoundBySentence(t *testing.T) {
	t.Parallel()
	s, dir := documentStack(t)
	s.token(t, "rep_a")
	sub, err := s.createAPI("rep_a", created{Title: "汛期工作情况", Body: "本周情况见附件。", Classification: "internal"})
	if err != nil {
		t.Fatal(err)
	}
	docx := extracttest.DOCX(t, "一、"+docSentence+"，参加人员一百二十名。", "二、下一步加强值守。")
	pdf := extracttest.TextPDF(t, pdfSentence+"。")
	scan := extracttest.Scan(t, scanSentence+"。", "请于本月底前报告进展。")
	ids := map[string]int64{}
	for _, f := range []struct {
		name, caption string
		data          []byte
	}{
		{"汛期演练.docx", "汛期演练情况报告", docx},
		{"群众来信.pdf", "群众来信摘录", pdf},
		{"领导批示扫描件.jpg", "区长对加装电梯问题的批示", scan},
	} {
		r := s.upload(t, "rep_a", sub.ID, upload{filename: f.name, file: f.data, caption: str(f.caption)})
		if r.Status != http.StatusCreated {
			t.Fatalf("upload %s: %s", f.name, r)
		}
		ids[f.name] = int64(r.JSON(t)["id"].(float64))
	}

	for _, c := range []struct{ sentence, file string }{
		{docSentence, "汛期演练.docx"}, {pdfSentence, "群众来信.pdf"}, {scanSentence, "领导批示扫描件.jpg"},
	} {
		var hits []docHit
		waitFor(t, 90*time.Second, "report found by "+c.sentence, func() (bool, string) {
			hits = s.docSearch(t, "res_secret", `"`+c.sentence+`"`)
			return len(hits) == 1, strconv.Itoa(len(hits)) + " hits"
		})
		h := hits[0]
		if h.ID != strconv.FormatInt(sub.ID, 10) || h.Attachment == nil || h.Attachment.Name != c.file ||
			h.Attachment.ID != strconv.FormatInt(ids[c.file], 10) {
			t.Fatalf("%s: hit %+v, want the report with attachment %s", c.sentence, h, c.file)
		}
		if !strings.Contains(strings.NewReplacer("<mark>", "", "</mark>", "").Replace(h.Attachment.Snippet), c.sentence) ||
			!strings.Contains(h.Attachment.Snippet, "<mark>") {
			t.Errorf("%s: passage %q", c.sentence, h.Attachment.Snippet)
		}
		// The report is internal: a researcher cleared for public records does not find it,
		// by its text or its attachments.
		if hits := s.docSearch(t, "res_public", `"`+c.sentence+`"`); len(hits) != 0 {
			t.Errorf("%s: public researcher found %+v", c.sentence, hits)
		}
	}

	// The search page says which file matched and shows the passage.
	b := s.browser(t)
	b.login("res_secret")
	page := b.get("/search?q=" + url.QueryEscape(scanSentence))
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "领导批示扫描件.jpg") || !strings.Contains(string(page.Body), "/documents/"+strconv.FormatInt(ids["领导批示扫描件.jpg"], 10)) {
		t.Errorf("search page does not name the attachment: %s", page)
	}

	// Previews: page images of the PDF and the scan, the DOCX as HTML, thumbnails.
	for _, name := range []string{"群众来信.pdf", "领导批示扫描件.jpg"} {
		id := strconv.FormatInt(ids[name], 10)
		for _, path := range []string{"/attachments/" + id + "/pages/1", "/attachments/" + id + "/thumbnail"} {
			r := b.get(path)
			if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/png" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("%s %s: %s", name, path, r)
			}
			if _, err := png.DecodeConfig(bytes.NewReader(r.Body)); err != nil {
				t.Errorf("%s %s: not a PNG: %v", name, path, err)
			}
		}
		if r := b.get("/attachments/" + id + "/pages/2"); r.Status != http.StatusNotFound {
			t.Errorf("%s page 2 of 1: %s", name, r)
		}
	}
	docPage := b.get("/documents/" + strconv.FormatInt(ids["汛期演练.docx"], 10))
	if docPage.Status != http.StatusOK || !strings.Contains(string(docPage.Body), `<div class="office-preview"><p>一、`+docSentence) ||
		!strings.Contains(string(docPage.Body), "已提取") {
		t.Errorf("DOCX document page: %s", docPage)
	}
	// Another unit's reporter sees none of it.
	other := s.browser(t)
	other.login("rep_b")
	for _, path := range []string{"/documents/" + strconv.FormatInt(ids["汛期演练.docx"], 10), "/attachments/" + strconv.FormatInt(ids["群众来信.pdf"], 10) + "/pages/1"} {
		if r := other.get(path); r.Status != http.StatusNotFound {
			t.Errorf("rep_b %s: %s", path, r)
		}
	}

	// Hostile files: refused with the reason, nothing stored.
	before := blobFiles(t, dir)
	for _, c := range []struct {
		what   string
		u      upload
		status int
		code   string
	}{
		{"zip bomb", upload{filename: "炸弹.docx", file: extracttest.ZipBomb(t, 400<<20), caption: str("压缩炸弹")}, 422, "malformed_file"},
		{"encrypted Word file", upload{filename: "加密.docx", file: extracttest.EncryptedOffice(), caption: str("加密文件")}, 415, "unsupported_media_type"},
		{"truncated DOCX", upload{filename: "截断.docx", file: docx[:len(docx)/2], caption: str("截断文件")}, 422, "malformed_file"},
		{"DOCX named .pdf", upload{filename: "伪装.pdf", file: docx, caption: str("扩展名不符")}, 415, "unsupported_media_type"},
		{"JPEG named .docx", upload{filename: "伪装.docx", file: scan, caption: str("扩展名不符")}, 415, "unsupported_media_type"},
	} {
		wantError(t, c.what, s.upload(t, "rep_a", sub.ID, c.u), c.status, c.code, "file")
	}
	if after := blobFiles(t, dir); len(after) != len(before) {
		t.Errorf("refused uploads stored files: %d → %d", len(before), len(after))
	}
	// Accepted but unreadable inside: marked with the reason, visible on the page and in the API.
	for _, c := range []struct {
		name, caption, reason string
		data                  []byte
	}{
		{"损坏.pdf", "损坏的扫描件", "已损坏", []byte("%PDF-1.4\nthis is not a PDF body\n%%EOF\n")},
		{"加密.pdf", "设了打开密码的文件", "密码", extracttest.EncryptedPDF(t, "secret")},
	} {
		r := s.upload(t, "rep_a", sub.ID, upload{filename: c.name, file: c.data, caption: str(c.caption)})
		if r.Status != http.StatusCreated {
			t.Fatalf("%s: %s", c.name, r)
		}
		badID := strconv.FormatInt(int64(r.JSON(t)["id"].(float64)), 10)
		waitFor(t, 30*time.Second, c.name+" marked unreadable", func() (bool, string) {
			d := s.api(t, "GET", "/api/v1/attachments/"+badID+"/document", s.token(t, "rep_a"), nil).JSON(t)
			x, _ := d["extraction"].(map[string]any)
			reason, _ := x["reason"].(string)
			return x["state"] == "unreadable" && strings.Contains(reason, c.reason), fmt.Sprint(x)
		})
		if p := b.get("/documents/" + badID); !strings.Contains(string(p.Body), "无法读取") || !strings.Contains(string(p.Body), "原因：") {
			t.Errorf("%s: the page does not show the reason: %s", c.name, p)
		}
	}
	// The system administrator's operations page counts them and lists them with the reason.
	createAccounts(t, s, admins...)
	ops := adminLogin(t, s, "sys1").get("/admin/system")
	if body := string(ops.Body); ops.Status != http.StatusOK || !strings.Contains(body, "附件文字提取") ||
		!strings.Contains(body, `<dt>无法读取</dt><dd><span class="bad">2</span>`) || !strings.Contains(body, "PDF 受密码保护") {
		t.Errorf("operations page: %s", ops)
	}
	// Nothing else was affected: the other documents are still found.
	if hits := s.docSearch(t, "res_secret", `"`+docSentence+`"`); len(hits) != 1 {
		t.Errorf("after hostile files: %d hits", len(hits))
	}

	// A new version replaces the text; the old version stays downloadable.
	docxID := strconv.FormatInt(ids["汛期演练.docx"], 10)
	body, ct := upload{filename: "汛期演练（修订）.docx", file: extracttest.DOCX(t, "修订稿：演练改在北湖公园举行。")}.body(t)
	vr, err := call(apiClient, "POST", s.Base+"/api/v1/attachments/"+docxID+"/versions", body,
		map[string]string{"Authorization": "Bearer " + s.token(t, "rep_a"), "Content-Type": ct})
	if err != nil || vr.Status != http.StatusCreated {
		t.Fatalf("new version: %v %s", err, vr)
	}
	waitFor(t, 30*time.Second, "new version searchable", func() (bool, string) {
		hits := s.docSearch(t, "res_secret", `"演练改在北湖公园举行"`)
		return len(hits) == 1, strconv.Itoa(len(hits))
	})
	if hits := s.docSearch(t, "res_secret", `"`+docSentence+`"`); len(hits) != 0 {
		t.Errorf("old version's text still found: %+v", hits)
	}
	vs := s.api(t, "GET", "/api/v1/attachments/"+docxID+"/versions", s.token(t, "res_secret"), nil).JSON(t)["items"].([]any)
	if len(vs) != 2 {
		t.Fatalf("versions: %v", vs)
	}
	old := s.api(t, "GET", "/api/v1/attachments/"+docxID+"/versions/1", s.token(t, "res_secret"), nil)
	checkDownload(t, old, docx, extract.MIMEDOCX, "汛期演练.docx")
}

// TestDocumentPreviewInBrowser opens the document pages in headless Chromium: the PDF's page
// image and the scan are decoded by the browser, the DOCX preview shows its text, and the
// submission page shows thumbnails.
func TestDocumentPreviewInBrowser(t *testing.T) {
	t.Parallel()
	s, _ := documentStack(t)
	s.token(t, "rep_a")
	sub, err := s.createAPI("rep_a", created{Title: "预览测试", Body: "见附件。", Classification: "internal"})
	if err != nil {
		t.Fatal(err)
	}
	scan := extracttest.Scan(t, scanSentence)
	ids := map[string]string{}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"情况.docx", extracttest.DOCX(t, docSentence)},
		{"扫描.pdf", extracttest.ImagePDF(t, scan)},
		{"批示.jpg", scan},
	} {
		r := s.upload(t, "rep_a", sub.ID, upload{filename: f.name, file: f.data, caption: str("预览用的" + f.name[:3])})
		if r.Status != http.StatusCreated {
			t.Fatalf("upload %s: %s", f.name, r)
		}
		ids[f.name] = strconv.FormatInt(int64(r.JSON(t)["id"].(float64)), 10)
	}
	waitFor(t, 60*time.Second, "extractions done", func() (bool, string) {
		n := s.count(t, `SELECT count(*) FROM extractions WHERE state = 'done'`)
		return n == 3, strconv.Itoa(n) + " done"
	})

	br := browsertest.Start(t, 2*time.Minute)
	br.Login(s.Base, "res_secret", password)
	loaded := func(sel string) int {
		return browsertest.Get(br, chromedp.Evaluate[int](`Array.from(document.querySelectorAll(`+strconv.Quote(sel)+`)).filter(i => i.complete && i.naturalWidth > 0).length`))
	}
	for _, name := range []string{"扫描.pdf", "批示.jpg"} {
		br.Do(chromedp.Navigate(s.Base+"/documents/"+ids[name]), chromedp.WaitVisible(chromedp.CSS(`.page-images img`)))
		var n int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if n = loaded(`.page-images img`); n >= 1 {
				break
			}
		}
		if n != 1 {
			t.Errorf("%s: %d page images shown by the browser, want 1", name, n)
		}
		if w := browsertest.Get(br, chromedp.Evaluate[int](`document.querySelector(".page-images img").naturalWidth`)); w != attachment.PageWidth && name == "扫描.pdf" {
			t.Errorf("%s: page image %d px wide", name, w)
		}
		if got := br.Text(`#extract-state`); !strings.Contains(got, "已提取") || !strings.Contains(got, "OCR") {
			t.Errorf("%s: state %q", name, got)
		}
	}
	br.Do(chromedp.Navigate(s.Base+"/documents/"+ids["情况.docx"]), chromedp.WaitVisible(chromedp.CSS(`.office-preview`)))
	if got := br.Text(`.office-preview`); !strings.Contains(got, docSentence) {
		t.Errorf("DOCX preview shows %q", got)
	}
	br.Do(chromedp.Navigate(s.Base+"/submissions/"+strconv.FormatInt(sub.ID, 10)), chromedp.WaitVisible(chromedp.CSS(`.attachment-list`)))
	var n int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n = loaded(`.attachment-list img.thumb`); n >= 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("%d thumbnails shown, want 2 (the PDF and the scan)", n)
	}
}

package attachment_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"infowork/attachment"
	"infowork/extract"
	"infowork/extract/extracttest"
	"infowork/store"
	"infowork/submission"
)

func init() { extract.MaybeChild() }

func worker(t *testing.T, e *env, o extract.RunnerOptions) (*attachment.Worker, *prometheus.Registry) {
	t.Helper()
	r, err := extract.NewRunner(o)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	w, err := attachment.NewWorker(e.svc, attachment.WorkerOptions{Extractor: r, Registerer: reg, Logger: e.svc.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	return w, reg
}

func (e *env) version(t *testing.T) int {
	return e.count(t, `SELECT version::int FROM submissions WHERE id = $1`, e.subID)
}

// A document is extracted once per content by the worker; the submission gets a new version
// and an outbox row so the indexer picks the text up; every version is kept and downloadable.
func TestDocumentVersionsAndExtraction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	w, reg := worker(t, e, extract.RunnerOptions{})
	v1 := extracttest.DOCX(t, "第一稿：东湖街道组织开展防汛应急演练。")
	a, err := e.upload(e.repA, "演练报告.docx", "防汛演练报告", v1)
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentType != extract.MIMEDOCX || a.ExtractState != attachment.ExtractPending {
		t.Fatalf("uploaded %s state %s", a.ContentType, a.ExtractState)
	}
	// The same bytes uploaded again: one blob, one extraction job.
	if _, err := e.upload(e.repA, "副本.docx", "同一份报告", v1); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, `SELECT count(*) FROM extractions`); n != 1 {
		t.Fatalf("%d extraction jobs for one content", n)
	}
	before := e.version(t)
	outboxBefore := e.count(t, `SELECT count(*) FROM outbox WHERE entity_id = $1`, e.subID)
	if n, err := w.Drain(e.ctx); err != nil || n != 1 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	if e.version(t) != before+1 || e.count(t, `SELECT count(*) FROM outbox WHERE entity_id = $1`, e.subID) != outboxBefore+1 {
		t.Errorf("extraction did not queue the submission for indexing")
	}
	_, x, err := e.svc.Extraction(e.ctx, e.repA, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if x.State != attachment.ExtractDone || !strings.Contains(x.Text, "东湖街道组织开展防汛应急演练") || !strings.Contains(x.HTML, "<p>第一稿") {
		t.Fatalf("extraction %+v", x)
	}
	// The indexer's document of the report carries the text, once per current attachment.
	docs, err := submission.Documents(e.ctx, e.db, []int64{e.subID})
	if err != nil {
		t.Fatal(err)
	}
	if d := docs[e.subID]; len(d.Attachments) != 2 || d.Attachments[0].Name != "演练报告.docx" || !strings.Contains(d.Attachments[0].Text, "防汛应急演练") {
		t.Errorf("search document attachments: %+v", d.Attachments)
	}
	if got := gatherValue(t, reg, "infowork_extraction_jobs_total", "done"); got != 1 {
		t.Errorf("jobs_total{done} = %v", got)
	}

	// A new version; the old one stays.
	st, err := e.svc.Stage(bytes.NewReader(extracttest.DOCX(t, "第二稿：演练覆盖三个社区。")))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := e.svc.NewVersion(e.ctx, e.repA, a.ID, "演练报告（修订）.docx", st, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if a2.Version != 2 || a2.Filename != "演练报告（修订）.docx" || a2.ExtractState != attachment.ExtractPending {
		t.Fatalf("new version %+v", a2)
	}
	// Another unit's reporter may not add a version; a researcher may read but not write.
	for _, sub := range []struct {
		name string
		want error
	}{{"rep_b", store.ErrNotFound}} {
		st, _ := e.svc.Stage(bytes.NewReader(extracttest.DOCX(t, "别人的稿")))
		if _, err := e.svc.NewVersion(e.ctx, e.repB, a.ID, "x.docx", st, "127.0.0.1"); !errors.Is(err, sub.want) {
			t.Errorf("%s: %v", sub.name, err)
		}
	}
	vs, err := e.svc.Versions(e.ctx, e.res, a.ID)
	if err != nil || len(vs) != 2 || vs[0].Version != 2 || !vs[0].Current || vs[1].Filename != "演练报告.docx" {
		t.Fatalf("versions %+v, %v", vs, err)
	}
	_, v, f, err := e.svc.OpenVersion(e.ctx, e.res, a.ID, 1, "10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	_ = f.Close()
	if !bytes.Equal(got, v1) || v.Version != 1 {
		t.Errorf("version 1 bytes differ")
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'attachment.download' AND detail LIKE '%version=1%' AND client_ip = '10.0.0.9'`); n != 1 {
		t.Errorf("%d audit rows for the version download", n)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'attachment.version'`); n != 1 {
		t.Errorf("%d audit rows for the new version", n)
	}
	if _, err := e.db.Exec(e.ctx, `DELETE FROM attachment_versions`); err == nil {
		t.Error("versions could be deleted")
	}
	if _, err := w.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	_, x, _ = e.svc.Extraction(e.ctx, e.repA, a.ID)
	if !strings.Contains(x.Text, "演练覆盖三个社区") {
		t.Errorf("current version's text %q", x.Text)
	}
}

// gatherValue is the value of the metric name with a label equal to label.
func gatherValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// Files that cannot be read are marked with the reason, others are unaffected; a job that hits
// the time limit is marked failed; both are counted in the metrics.
func TestUnreadableAndFailedAreRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	good, err := e.upload(e.repA, "正常.docx", "正常文档", extracttest.DOCX(t, "正常文档的内容"))
	if err != nil {
		t.Fatal(err)
	}
	// Accepted at upload (it ends with %%EOF) but damaged inside.
	bad, err := e.upload(e.repA, "损坏.pdf", "损坏的文件", []byte("%PDF-1.4\ngarbage that is not a PDF body\n%%EOF\n"))
	if err != nil {
		t.Fatal(err)
	}
	gbk, err := e.upload(e.repA, "乱码.txt", "编码错误的文本", []byte{0x81, 0x30, 0xFF, 0xFE, 0x41, 0x81})
	if err != nil {
		t.Fatal(err)
	}
	w, reg := worker(t, e, extract.RunnerOptions{})
	if _, err := w.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id     int64
		state  string
		reason string
	}{{good.ID, attachment.ExtractDone, ""}, {bad.ID, attachment.ExtractUnreadable, "已损坏"}, {gbk.ID, attachment.ExtractUnreadable, "编码"}} {
		a, err := e.svc.Get(e.ctx, e.repA, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if a.ExtractState != c.state || !strings.Contains(a.ExtractReason, c.reason) {
			t.Errorf("%s: %s %q, want %s %q", a.Filename, a.ExtractState, a.ExtractReason, c.state, c.reason)
		}
	}
	if got := gatherValue(t, reg, "infowork_extraction_jobs_total", "unreadable"); got != 2 {
		t.Errorf("jobs_total{unreadable} = %v", got)
	}
	if got := gatherValue(t, reg, "infowork_extraction_queue", "unreadable"); got != 2 {
		t.Errorf("extraction_queue{unreadable} = %v", got)
	}

	// A scan whose OCR outlasts a 100 ms limit.
	extracttest.NeedTools(t)
	slow, err := e.upload(e.repA, "扫描.jpg", "扫描件", extracttest.Scan(t, strings.Repeat("信息工作", 10), strings.Repeat("情况反映", 10)))
	if err != nil {
		t.Fatal(err)
	}
	w2, reg2 := worker(t, e, extract.RunnerOptions{Timeout: 100 * time.Millisecond})
	if _, err := w2.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := e.svc.Get(e.ctx, e.repA, slow.ID)
	if a.ExtractState != attachment.ExtractFailed || !strings.Contains(a.ExtractReason, "超时") {
		t.Errorf("slow scan: %s %q", a.ExtractState, a.ExtractReason)
	}
	if got := gatherValue(t, reg2, "infowork_extraction_jobs_total", "failed"); got != 1 {
		t.Errorf("jobs_total{failed} = %v", got)
	}
	// An operator's retry with the normal limit reads it.
	if err := e.svc.Requeue(e.ctx, e.repA, slow.ID, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	w3, _ := worker(t, e, extract.RunnerOptions{})
	if _, err := w3.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	a, _ = e.svc.Get(e.ctx, e.repA, slow.ID)
	if a.ExtractState != attachment.ExtractDone || a.Method != extract.MethodOCR {
		t.Errorf("after retry: %s %s %q", a.ExtractState, a.Method, a.ExtractReason)
	}
}

func TestPageImagesAreCached(t *testing.T) {
	extracttest.NeedTools(t)
	t.Parallel()
	e := newEnv(t, 0)
	pdf, err := e.upload(e.repA, "扫描.pdf", "扫描的情况说明", extracttest.ImagePDF(t, extracttest.Scan(t, "情况说明")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := extract.NewRunner(extract.RunnerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc := func(x attachment.Extractor) *attachment.Service {
		s, err := attachment.New(e.db, attachment.Options{DataDir: e.dir, Extractor: x})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, b, err := svc(r).PageImage(e.ctx, e.res, pdf.ID, 1, attachment.ThumbWidth, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(b)); err != nil || cfg.Width != attachment.ThumbWidth {
		t.Fatalf("thumbnail: %v %d", err, cfg.Width)
	}
	if n := len(filesUnder(t, e.dir, "previews")); n != 1 {
		t.Errorf("%d cached previews", n)
	}
	// Cached: served again without a renderer.
	if _, _, err := svc(failingRenderer{}).PageImage(e.ctx, e.res, pdf.ID, 1, attachment.ThumbWidth, "127.0.0.1"); err != nil {
		t.Errorf("cached page: %v", err)
	}
	if _, _, err := svc(r).PageImage(e.ctx, e.repB, pdf.ID, 1, attachment.ThumbWidth, "127.0.0.1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other unit's reporter: %v", err)
	}
	if _, _, err := svc(r).PageImage(e.ctx, e.res, pdf.ID, 1, 333, "127.0.0.1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("odd width: %v", err)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'attachment.preview'`); n != 2 {
		t.Errorf("%d preview audit rows, want 2", n)
	}
}

type failingRenderer struct{}

func (failingRenderer) Extract(context.Context, string, string) (extract.Result, error) {
	return extract.Result{}, errors.New("not used")
}
func (failingRenderer) Render(context.Context, string, string, int, int) ([]byte, error) {
	return nil, errors.New("rendered again instead of using the cache")
}

func filesUnder(t *testing.T, root, sub string) []string {
	var out []string
	for _, f := range files(t, root) {
		if strings.Contains(f, "/"+sub+"/") {
			out = append(out, f)
		}
	}
	return out
}

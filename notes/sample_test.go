package notes_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"infowork/access"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/notes"
	"infowork/store"
	"infowork/submission"
)

const (
	mainUNID     = "48257F0A001B2C3D48257F0A00000001"
	responseUNID = "48257F0A001B2C3D48257F0A00000002"
	conflictUNID = "48257F0A001B2C3D48257F0A00000003"
	readersUNID  = "48257F0A001B2C3D48257F0A00000004"
	memoUNID     = "48257F0A001B2C3D48257F0A00000005"
)

func testMapping(t *testing.T) *notes.Mapping {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mapping.json")
	err := os.WriteFile(p, []byte(`{
		"default_unit": "NOTES",
		"default_classification": "public",
		"forms": {"*": {"title": ["Subject"], "body": ["Body"], "unit": ["Unit"], "reported_at": ["PostedDate"],
			"writer": ["Author"], "urgency": ["Urgency"], "classification": ["Classification"]}},
		"urgencies": {"特急": "very_urgent"},
		"classifications": {"内部": "internal"},
		"names": {"CN=Zhang San/O=City": "user:zhangsan", "Li Si/City": "user:lisi", "CN=Wang Wu/O=City": "user:wangwu",
			"CN=Zhao Liu/O=City": "user:zhaoliu", "XXB Office": "unit:B001"}
	}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	m, err := notes.LoadMapping(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) record(t *testing.T, unid string) (submission.Submission, []string) {
	t.Helper()
	var id int64
	var readers []string
	if err := e.db.QueryRow(e.ctx, `SELECT id, readers FROM submissions WHERE source = 'notes' AND source_ref = $1`, unid).Scan(&id, &readers); err != nil {
		t.Fatalf("%s: %v", unid, err)
	}
	office := access.Subject{Username: "zhangsan", Roles: []string{access.RoleEditor}, Clearance: label.Confidential}
	s, err := submission.New(e.db).Get(e.ctx, office, id, "127.0.0.1")
	if err != nil {
		t.Fatalf("%s: %v", unid, err)
	}
	return s, readers
}

func TestSampleExportKeepsEverything(t *testing.T) {
	e := newEnv(t, testMapping(t))
	rep, err := e.im.Import(e.ctx, "testdata/sample.dxl")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	t.Log("\n" + buf.String())
	if !rep.Passed || rep.Total.Docs != 5 || rep.Total.Verified != 5 {
		t.Fatalf("report: %+v %+v", rep.Total, rep.Mismatches)
	}
	if rep.Design["form"] != 1 || rep.Design["view"] != 1 {
		t.Fatalf("design notes: %v", rep.Design)
	}

	// Mapped fields.
	s, _ := e.record(t, mainUNID)
	if s.Title != "关于汛期安全生产的报告" || s.UnitCode != "B001" || s.Urgency != "very_urgent" ||
		s.Classification != label.Internal || s.WriterName != "Li Si/City" {
		t.Fatalf("mapped record: %+v", s)
	}
	if got := s.ReportedAt.UTC().Format("2006-01-02T15:04:05.00Z07:00"); got != "2024-03-15T01:15:00.12Z" {
		t.Fatalf("reported_at %s", got)
	}
	// Rich text: paragraphs, emphasis, links, tables, the picture and the attachment link.
	for _, want := range []string{"<strong>一、基本情况</strong>", "<em>120</em>", "<br", `href="https://www.example.gov.cn/report?id=1&amp;x=2"`,
		"<table>", "<td><p>东城区</p>", `<img src="/attachments/`, `/preview"`, `<a href="/attachments/`, ">附件一.txt</a>", "结束。"} {
		if !strings.Contains(s.BodyHTML, want) {
			t.Errorf("body lacks %q:\n%s", want, s.BodyHTML)
		}
	}
	if strings.Contains(s.BodyHTML, "@Now") || strings.Contains(s.BodyHTML, "notes-") {
		t.Errorf("design markup or placeholder in body:\n%s", s.BodyHTML)
	}

	// Items: every one, with flags, types, order and zones.
	var items []notes.Item
	if err := e.db.QueryRow(e.ctx, `SELECT items FROM notes_documents WHERE unid = $1`, mainUNID).Scan(&items); err != nil {
		t.Fatal(err)
	}
	byName := map[string]notes.Item{}
	var names []string
	for _, it := range items {
		names = append(names, it.Name)
		if _, ok := byName[it.Name]; !ok {
			byName[it.Name] = it
		}
	}
	wantNames := []string{"Subject", "Unit", "Urgency", "Classification", "Author", "PostedDate", "ReviewDates", "Scores", "Tags",
		"Period", "Body", "$FILE", "$FILE", "SecretStuff"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("items %v", names)
	}
	if got := byName["ReviewDates"].Texts(); !slices.Equal(got, []string{"20240316T080000,00+08", "20240601T120000,00-04", "20240101"}) ||
		byName["ReviewDates"].Values[1].A["dst"] != "true" || byName["ReviewDates"].Type != "datetimelist" {
		t.Fatalf("datetime list: %+v", byName["ReviewDates"])
	}
	if got := byName["Scores"].Texts(); !slices.Equal(got, []string{"3", "1.25", "-0.5"}) {
		t.Fatalf("numbers %v", got)
	}
	if got := byName["Tags"].Texts(); !slices.Equal(got, []string{"防汛", "安全生产", "防汛"}) {
		t.Fatalf("text list (order, duplicates) %v", got)
	}
	if !byName["Author"].Flag("names") || !byName["SecretStuff"].Flag("protected") || byName["SecretStuff"].Type != "rawitemdata" ||
		byName["SecretStuff"].Values[0].A["type"] != "1" {
		t.Fatalf("flags: %+v %+v", byName["Author"], byName["SecretStuff"])
	}
	if byName["Period"].Values[0].T != "datetimepair" || len(byName["Period"].Values[0].L) != 2 {
		t.Fatalf("pair %+v", byName["Period"])
	}

	// Attachments byte-exact with SHA-256, in the blob store, listed on the record.
	want := []byte("政务信息附件内容\n第二行\n")
	sum := sha256.Sum256(want)
	var stored string
	var size int64
	if err := e.db.QueryRow(e.ctx, `SELECT sha256, size FROM notes_files WHERE unid = $1 AND name = '附件一.txt'`, mainUNID).Scan(&stored, &size); err != nil {
		t.Fatal(err)
	}
	if stored != hex.EncodeToString(sum[:]) || size != int64(len(want)) {
		t.Fatalf("file hash %s size %d", stored, size)
	}
	got, err := os.ReadFile(filepath.Join(e.dir, "blobs", stored[:2], stored[2:4], stored))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("blob: %v %q", err, got)
	}
	if n := e.count(t, `SELECT count(*) FROM attachments a JOIN submissions s ON s.id = a.submission_id WHERE s.source_ref = $1 AND a.archived_at IS NULL`, mainUNID); n != 2 {
		t.Fatalf("%d attachments on the record (want the file and the picture; the empty file has no blob)", n)
	}
	if n := e.count(t, `SELECT count(*) FROM notes_files WHERE unid = $1 AND name = 'empty.txt' AND size = 0`, mainUNID); n != 1 {
		t.Fatal("empty file not recorded")
	}
	// The original DXL is kept and is the document's own text.
	var dxlSHA string
	if err := e.db.QueryRow(e.ctx, `SELECT dxl_sha256 FROM notes_documents WHERE unid = $1`, mainUNID).Scan(&dxlSHA); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(e.dir, "blobs", dxlSHA[:2], dxlSHA[2:4], dxlSHA))
	if err != nil || !bytes.HasPrefix(raw, []byte("<document form='Report'>")) || !bytes.HasSuffix(raw, []byte("</document>")) {
		t.Fatalf("original DXL: %v %.60q", err, raw)
	}
	src, _ := os.ReadFile("testdata/sample.dxl")
	if !bytes.Contains(src, raw) {
		t.Fatal("kept DXL is not a verbatim slice of the export")
	}

	// Response and conflict documents keep their links; the conflict is flagged for review.
	var parent string
	var conflict, review bool
	if err := e.db.QueryRow(e.ctx, `SELECT parent_unid, conflict, review_needed FROM notes_documents WHERE unid = $1`, responseUNID).Scan(&parent, &conflict, &review); err != nil {
		t.Fatal(err)
	}
	if parent != mainUNID || conflict || review {
		t.Fatalf("response: parent %s conflict %v review %v", parent, conflict, review)
	}
	if err := e.db.QueryRow(e.ctx, `SELECT parent_unid, conflict, review_needed FROM notes_documents WHERE unid = $1`, conflictUNID).Scan(&parent, &conflict, &review); err != nil {
		t.Fatal(err)
	}
	if parent != mainUNID || !conflict || !review {
		t.Fatalf("conflict: parent %s conflict %v review %v", parent, conflict, review)
	}
	if s, _ := e.record(t, conflictUNID); !strings.HasPrefix(s.Title, "【复制冲突】") {
		t.Fatalf("conflict title %q", s.Title)
	}
	// A plain-text body keeps its paragraphs.
	if s, _ := e.record(t, memoUNID); s.BodyHTML != "<p>第一段</p>\n<p>第二段</p>\n" {
		t.Fatalf("memo body %q", s.BodyHTML)
	}
}

// The readers of each record are what Notes granted: the database's -Default- is No Access, so a
// document without Readers fields is readable by the ACL entries with Reader or above; a
// document with Readers fields by the listed names (Authors too) that the ACL lets read, never
// the No Access entry.
func TestSampleAccessRules(t *testing.T) {
	e := newEnv(t, testMapping(t))
	rep, err := e.im.Import(e.ctx, "testdata/sample.dxl")
	if err != nil {
		t.Fatal(err)
	}
	// The group XXB Office has Reader access, but Zhao Liu's own No Access entry must win for
	// him even if he is in the group, and group membership is not in the export: the group is
	// left out (narrower than Notes, never wider) and the report says so.
	_, readers := e.record(t, mainUNID)
	if want := []string{"user:lisi", "user:wangwu", "user:zhangsan"}; !slices.Equal(readers, want) {
		t.Fatalf("main readers %v, want %v", readers, want)
	}
	explained := false
	for _, x := range rep.Explained {
		explained = explained || (x.UNID == mainUNID && strings.Contains(x.Reason, "XXB Office"))
	}
	if !explained {
		t.Fatalf("narrowing not explained: %+v", rep.Explained)
	}
	_, readers = e.record(t, readersUNID)
	// Readers: Wang Wu, [Editors] (Zhang San holds it), Zhao Liu (No Access: never); Authors: Li Si.
	if want := []string{"user:lisi", "user:wangwu", "user:zhangsan"}; !slices.Equal(readers, want) {
		t.Fatalf("restricted readers %v, want %v", readers, want)
	}
	var id int64
	if err := e.db.QueryRow(e.ctx, `SELECT id FROM submissions WHERE source_ref = $1`, readersUNID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	svc := submission.New(e.db)
	for _, c := range []struct {
		user string
		ok   bool
	}{{"wangwu", true}, {"lisi", true}, {"zhangsan", true}, {"zhaoliu", false}, {"someone", false}} {
		sub := access.Subject{Username: c.user, Roles: []string{access.RoleEditor}, Clearance: label.Confidential}
		_, err := svc.Get(e.ctx, sub, id, "127.0.0.1")
		if c.ok && err != nil {
			t.Errorf("%s cannot read: %v", c.user, err)
		}
		if !c.ok && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s reads a record Notes hid from them (%v)", c.user, err)
		}
	}
}

func TestSequenceIsTheVersion(t *testing.T) {
	e := newEnv(t, testMapping(t))
	if _, err := e.im.Import(e.ctx, "testdata/sample.dxl"); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/sample.dxl")
	if err != nil {
		t.Fatal(err)
	}
	variant := func(seq, subject string) string {
		s := strings.Replace(string(src), "unid='"+mainUNID+"' sequence='3'", "unid='"+mainUNID+"' sequence='"+seq+"'", 1)
		s = strings.Replace(s, "<text>关于汛期安全生产的报告</text>", "<text>"+subject+"</text>", 1)
		p := filepath.Join(t.TempDir(), "v.dxl")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	before, _ := e.record(t, mainUNID)

	rep, err := e.im.Import(e.ctx, variant("2", "旧版本标题"))
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := e.record(t, mainUNID); after.Title != before.Title || after.Version != before.Version || rep.Total.Stale != 1 || !rep.Passed {
		t.Fatalf("older sequence overwrote: %q v%d, %+v", after.Title, after.Version, rep.Total)
	}

	rep, err = e.im.Import(e.ctx, variant("4", "新版本标题"))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := e.record(t, mainUNID)
	if after.Title != "新版本标题" || after.Version != before.Version+1 || rep.Total.Updated != 1 || !rep.Passed {
		t.Fatalf("newer sequence: %q v%d, %+v %+v", after.Title, after.Version, rep.Total, rep.Mismatches)
	}
	// The unchanged attachments are the same rows, not new copies.
	if n := e.count(t, `SELECT count(*) FROM attachments a JOIN submissions s ON s.id = a.submission_id WHERE s.source_ref = $1`, mainUNID); n != 2 {
		t.Fatalf("%d attachment rows after an update", n)
	}

	rep, err = e.im.Import(e.ctx, variant("4", "同一版本不同内容"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.record(t, mainUNID); got.Title != "新版本标题" || rep.Total.Conflicts != 1 {
		t.Fatalf("same sequence, other content: %q %+v", got.Title, rep.Total)
	}
	if n := e.count(t, `SELECT count(*) FROM notes_conflicts WHERE unid = $1 AND kind = 'same_sequence_differs'`, mainUNID); n != 1 {
		t.Fatal("conflict not listed")
	}
}

// fingerprint is what an import leaves behind, independent of row ids.
func (e *env) fingerprint(t *testing.T) string {
	t.Helper()
	rows, err := e.db.Query(e.ctx, `SELECT n.unid || ' ' || n.sequence || ' ' || n.canonical_hash || ' ' || s.title || ' ' ||
			s.version || ' ' || array_to_string(s.readers, ',') || ' ' || s.body_html || ' ' ||
			(SELECT count(*) FROM attachments a WHERE a.submission_id = s.id AND a.archived_at IS NULL)
		FROM notes_documents n JOIN submissions s ON s.id = n.submission_id ORDER BY n.unid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := regexp.MustCompile(`/attachments/[0-9]+`)
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(ids.ReplaceAllString(line, "/attachments/N") + "\n")
	}
	return b.String()
}

func TestCrashMidImportResumesToTheSameResult(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/sample.dxl")
	if err := os.WriteFile(filepath.Join(dir, "a.dxl"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	if c := corpusDirOrEmpty(); c != "" { // more files, read at test time (never copied into the repository)
		files, _ := filepath.Glob(filepath.Join(c, "*", "*.xml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	clean := newEnv(t, testMapping(t))
	rep, err := clean.im.Import(clean.ctx, dir)
	if err != nil || !rep.Passed {
		t.Fatalf("clean run: %v %+v", err, rep.Mismatches)
	}
	want := clean.fingerprint(t)

	crash := errors.New("simulated crash")
	n := 0
	e := newEnv(t, testMapping(t), func(o *notes.Options) {
		o.AfterDocument = func(string) error {
			if n++; n == 3 {
				return crash
			}
			return nil
		}
	})
	if _, err := e.im.Import(context.Background(), dir); !errors.Is(err, crash) {
		t.Fatalf("want the crash, got %v", err)
	}
	if got := e.count(t, `SELECT count(*) FROM notes_documents`); got != 3 {
		t.Fatalf("%d documents committed before the crash", got)
	}
	rep, err = e.im.Import(e.ctx, dir)
	if err != nil || !rep.Passed {
		t.Fatalf("resumed run: %v %+v", err, rep.Mismatches)
	}
	if rep.Total.Unchanged != 3 || rep.Total.Created != rep.Total.Docs-3 {
		t.Fatalf("resumed run: %+v", rep.Total)
	}
	if got := e.fingerprint(t); got != want {
		t.Fatalf("resumed import differs from a clean one:\n%s\nwant\n%s", got, want)
	}
}

func corpusDirOrEmpty() string {
	root := os.Getenv("INFOWORK_CORPUS")
	if root == "" {
		root = filepath.Join("..", "..", "shared", "corpus") // from the package directory
	}
	dir := filepath.Join(root, "dxl")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

func TestGB18030ExportAndInvalidBytes(t *testing.T) {
	e := newEnv(t, testMapping(t))
	doc := func(unid, subject string) string {
		return "<document form='Report'><noteinfo unid='" + unid + "' sequence='1'/><item name='Subject'><text>" + subject +
			"</text></item><item name='Body'><text>正文：𠮷字与「全角」标点</text></item></document>\n"
	}
	utf8 := "<?xml version='1.0' encoding='GBK'?>\n<database xmlns='http://www.lotus.com/dxl' replicaid='48257F0A001B2C3E'>\n" +
		doc("11111111111111111111111111111111", "关于镕基础设施的报告") + "@@BAD@@" + doc("22222222222222222222222222222222", "第二篇@@BAD2@@") + "</database>\n"
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(utf8)
	if err != nil {
		t.Fatal(err)
	}
	// An invalid GBK sequence (0x81 0x20) inside the second document only.
	gb = strings.Replace(gb, "@@BAD@@", "", 1)
	gb = strings.Replace(gb, "@@BAD2@@", "\x81\x20", 1)
	p := filepath.Join(t.TempDir(), "gbk.dxl")
	if err := os.WriteFile(p, []byte(gb), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := e.im.Import(e.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Docs != 2 || rep.Total.Verified != 1 || rep.Total.Skipped != 1 || !rep.Passed {
		t.Fatalf("report %+v", rep.Total)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].UNID != "22222222222222222222222222222222" || !strings.Contains(rep.Skipped[0].Reason, "无法按声明编码解码") {
		t.Fatalf("skipped %+v", rep.Skipped)
	}
	s, _ := e.record(t, "11111111111111111111111111111111")
	if s.Title != "关于镕基础设施的报告" || !strings.Contains(s.BodyHTML, "𠮷字与「全角」标点") {
		t.Fatalf("decoded %q %q", s.Title, s.BodyHTML)
	}
	if n := e.count(t, `SELECT count(*) FROM submissions WHERE source_ref = '22222222222222222222222222222222'`); n != 0 {
		t.Fatal("document with invalid bytes was imported")
	}
}

func TestMappingFileErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"forms": {}}`, "default_unit is required"},
		{`{"default_unit": "X", "urgencies": {"急": "fast"}}`, "urgencies"},
		{`{"default_unit": "X", "names": {"CN=A": "alice"}}`, "user:NAME"},
		{`{"default_unit": "X", "colour": "red"}`, "unknown field"},
	} {
		p := filepath.Join(t.TempDir(), "m.json")
		if err := os.WriteFile(p, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := notes.LoadMapping(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error about %s", c.body, err, c.want)
		}
	}
}

// A document encrypted without the key in the export is imported with its sealed data kept raw
// and the report says so (never silently dropped).
func TestEncryptedDocumentIsReported(t *testing.T) {
	e := newEnv(t, nil)
	p := filepath.Join(t.TempDir(), "sealed.dxl")
	err := os.WriteFile(p, []byte(`<?xml version='1.0'?>
<document xmlns='http://www.lotus.com/dxl' form='Secret'><noteinfo unid='5EA1ED0000000000000000000000ABCD' sequence='2'/>
<item name='Subject'><text>加密文档</text></item>
<item name='$Seal'><rawitemdata type='4'>AQAi2AcesshID+FtTwCviCWF</rawitemdata></item>
<item name='$SealData'><rawitemdata type='1'>aW5mb3dvcmsgc2VhbGVkIGl0ZW0gZml4</rawitemdata></item>
</document>`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.im.Import(e.ctx, p)
	if err != nil || !rep.Passed || rep.Total.Verified != 1 {
		t.Fatalf("%v %+v", err, rep.Total)
	}
	found := false
	for _, x := range rep.Explained {
		found = found || strings.Contains(x.Reason, "加密")
	}
	if !found {
		t.Fatalf("encryption not reported: %+v", rep.Explained)
	}
	var n int
	if err := e.db.QueryRow(e.ctx, `SELECT count(*) FROM notes_documents, jsonb_array_elements(items) it
		WHERE unid = '5EA1ED0000000000000000000000ABCD' AND it->>'name' IN ('$Seal', '$SealData')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("sealed items kept: %d, %v", n, err)
	}
}

func TestReviewAndOriginal(t *testing.T) {
	e := newEnv(t, testMapping(t))
	if _, err := e.im.Import(e.ctx, "testdata/sample.dxl"); err != nil {
		t.Fatal(err)
	}
	raw, err := e.im.Original(e.ctx, responseUNID, "auditor")
	if err != nil || !bytes.Contains(raw, []byte("领导批示：请抓好落实")) {
		t.Fatalf("original: %v %q", err, raw)
	}
	if _, err := e.im.Original(e.ctx, "00000000000000000000000000000000", "auditor"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown UNID: %v", err)
	}
	if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'notes.original' AND object = $1`, "notes:"+responseUNID); n != 1 {
		t.Fatalf("%d audit rows for reading the original", n)
	}
	items, err := e.im.Review(e.ctx)
	if err != nil || len(items) != 1 || items[0].UNID != conflictUNID || items[0].Parent != mainUNID {
		t.Fatalf("review list: %+v %v", items, err)
	}
	if err := e.im.Resolve(e.ctx, conflictUNID, "editor"); err != nil {
		t.Fatal(err)
	}
	if items, _ := e.im.Review(e.ctx); len(items) != 0 {
		t.Fatalf("still listed after resolving: %+v", items)
	}
	if err := e.im.Resolve(e.ctx, conflictUNID, "editor"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("resolving twice: %v", err)
	}
}

// Verification catches what it claims to: an item changed in the database, an attachment
// damaged in the blob store and a record that drifted from its mapping each fail the report.
func TestVerificationFindsDifferences(t *testing.T) {
	e := newEnv(t, testMapping(t))
	if rep, err := e.im.Import(e.ctx, "testdata/sample.dxl"); err != nil || !rep.Passed {
		t.Fatalf("%v", err)
	}
	if _, err := e.db.Exec(e.ctx, `UPDATE notes_documents SET items = jsonb_set(items, '{0,values,0,v}', '"改过"') WHERE unid = $1`, memoUNID); err != nil {
		t.Fatal(err)
	}
	var sha string
	if err := e.db.QueryRow(e.ctx, `SELECT sha256 FROM notes_files WHERE unid = $1 AND name = '附件一.txt'`, mainUNID).Scan(&sha); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(e.dir, "blobs", sha[:2], sha[2:4], sha)
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	data[3] ^= 0x01 // one flipped bit, same size
	if err := os.WriteFile(blob, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(e.ctx, `UPDATE submissions SET title = '被改动的标题' WHERE source_ref = $1`, responseUNID); err != nil {
		t.Fatal(err)
	}
	rep, err := e.im.Import(e.ctx, "testdata/sample.dxl")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	if rep.Passed || !strings.Contains(buf.String(), "结论：未通过") {
		t.Fatalf("tampering passed:\n%s", buf.String())
	}
	got := map[string]string{}
	for _, m := range rep.Mismatches {
		got[m.UNID] = m.Reason
	}
	if len(got) != 3 || !strings.Contains(got[memoUNID], "哈希") || !strings.Contains(got[mainUNID], "附件一.txt") ||
		!strings.Contains(got[responseUNID], "标题") {
		t.Fatalf("mismatches %+v", rep.Mismatches)
	}
}

// A newer export whose ACL changed (documents unchanged) updates the readers of the records, and
// verification checks the readers against the Notes rules.
func TestACLChangeUpdatesReaders(t *testing.T) {
	e := newEnv(t, testMapping(t))
	if _, err := e.im.Import(e.ctx, "testdata/sample.dxl"); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/sample.dxl")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), "<aclentry name='CN=Wang Wu/O=City' level='reader'/>", "<aclentry name='CN=Wang Wu/O=City' level='depositor'/>", 1)
	if changed == string(src) {
		t.Fatal("test export not changed")
	}
	p := filepath.Join(t.TempDir(), "acl.dxl")
	if err := os.WriteFile(p, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := e.record(t, readersUNID)
	rep, err := e.im.Import(e.ctx, p)
	if err != nil || !rep.Passed {
		t.Fatalf("%v %+v", err, rep.Mismatches)
	}
	after, readers := e.record(t, readersUNID)
	if slices.Contains(readers, "user:wangwu") || after.Version != before.Version+1 || rep.Total.Updated < 2 {
		t.Fatalf("readers %v, version %d → %d, %+v", readers, before.Version, after.Version, rep.Total)
	}
	if _, readers := e.record(t, memoUNID); slices.Contains(readers, "user:wangwu") {
		t.Fatalf("memo readers %v", readers)
	}
	// The cut-over check verifies every stored record; an opened readers list fails it.
	all, err := e.im.VerifyAll(e.ctx)
	if err != nil || !all.Passed || all.Total.Docs != 5 || all.Total.Verified != 5 {
		t.Fatalf("verify all: %v %+v %+v", err, all.Total, all.Mismatches)
	}
	if _, err := e.db.Exec(e.ctx, `UPDATE submissions SET readers = '{}' WHERE source_ref = $1`, readersUNID); err != nil {
		t.Fatal(err)
	}
	all, err = e.im.VerifyAll(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all.Passed || len(all.Mismatches) != 1 || !strings.Contains(all.Mismatches[0].Reason, "读者名单") {
		t.Fatalf("opened readers list not caught: %+v", all.Mismatches)
	}
	// Changed in infowork since the import (a later edit): a re-import leaves the record alone
	// and verification checks the Notes data only, saying so.
	if _, err := e.db.Exec(e.ctx, `UPDATE submissions SET readers = '{user:wangwu}', version = version + 1 WHERE source_ref = $1`, readersUNID); err != nil {
		t.Fatal(err)
	}
	rep, err = e.im.Import(e.ctx, p)
	if err != nil || rep.Total.Unchanged != 5 || !rep.Passed {
		t.Fatalf("%v %+v %+v", err, rep.Total, rep.Mismatches)
	}
	if n := e.count(t, `SELECT count(*) FROM submissions WHERE source_ref = $1 AND readers = '{user:wangwu}'`, readersUNID); n != 1 {
		t.Fatal("infowork's edit overwritten")
	}
	// A changed mapping re-derives the records whose documents did not change.
	m := testMapping(t)
	m.Urgencies["特急"] = "urgent"
	im2, err := notes.NewImporter(notes.Options{DB: e.db, DataDir: e.dir, Mapping: m, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = im2.Import(e.ctx, p)
	if err != nil || !rep.Passed || rep.Total.Updated != 1 {
		t.Fatalf("%v %+v %+v", err, rep.Total, rep.Mismatches)
	}
	if s, _ := e.record(t, mainUNID); s.Urgency != "urgent" {
		t.Fatalf("urgency %s", s.Urgency)
	}
}

func TestMissingDefaultUnitIsAClearError(t *testing.T) {
	m := testMapping(t)
	m.DefaultUnit = "NOSUCH"
	e := newEnv(t, m)
	_, err := e.im.Import(e.ctx, "testdata/sample.dxl")
	if err == nil || !strings.Contains(err.Error(), `default unit "NOSUCH" does not exist`) {
		t.Fatalf("got %v", err)
	}
	if n := e.count(t, `SELECT count(*) FROM submissions`); n != 0 {
		t.Fatalf("%d records written before the check", n)
	}
}

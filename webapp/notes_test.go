package webapp_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"infowork/access"
	"infowork/internal/testenv"
	"infowork/label"
	"infowork/notes"
	"infowork/unit"
)

// TestNotesConflictReview: the system administrator lists what the Notes import flagged, sees
// both versions of a replication-conflict document and of a change made on both sides, resolves
// them (audited, with the note), and a second resolve is refused; other roles get 403; versions
// above the administrator's clearance are not shown.
func TestNotesConflictReview(t *testing.T) {
	s, dir := attachmentStack(t)
	ctx := context.Background()
	if _, err := unit.Upsert(ctx, s.DB, unit.Unit{Code: "NOTES", Name: "Notes 迁移", Kind: unit.KindDirect}); err != nil {
		t.Fatal(err)
	}
	im, err := notes.NewImporter(notes.Options{DB: s.DB, DataDir: dir, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.Import(ctx, "../notes/testdata/sample.dxl"); err != nil {
		t.Fatal(err)
	}
	// Changed on both sides: infowork edits the record, then Notes sends sequence 4 of it.
	const unid = "48257F0A001B2C3D48257F0A00000001"
	if _, err := s.DB.Exec(ctx, `UPDATE submissions SET title = '编辑部改过的汛期报告', version = version + 1 WHERE source_ref = $1`, unid); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../notes/testdata/sample.dxl")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(raw), "unid='"+unid+"' sequence='3'", "unid='"+unid+"' sequence='4'", 1)
	changed = strings.Replace(changed, "<text>关于汛期安全生产的报告</text>", "<text>Notes 中改过的汛期报告</text>", 1)
	if changed == string(raw) {
		t.Fatal("the sample did not change")
	}
	second := filepath.Join(t.TempDir(), "increment.dxl")
	if err := os.WriteFile(second, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Import(ctx, second); err != nil {
		t.Fatal(err)
	}
	var conflictID int64
	if err := s.DB.QueryRow(ctx, `SELECT id FROM notes_conflicts WHERE unid = $1 AND kind = 'both_changed' AND resolved_at IS NULL`, unid).Scan(&conflictID); err != nil {
		t.Fatalf("no both_changed conflict: %v", err)
	}
	var conflictDoc string
	if err := s.DB.QueryRow(ctx, `SELECT unid FROM notes_documents WHERE conflict AND review_needed`).Scan(&conflictDoc); err != nil {
		t.Fatalf("no replication conflict document: %v", err)
	}

	createAccounts(t, s, account{"sysn", []string{access.RoleSysAdmin}, "", label.Internal},
		account{"secn", []string{access.RoleSecAdmin}, "", label.Internal})
	b := adminLogin(t, s, "sysn")
	list := b.get("/admin/notes/conflicts")
	body := html.UnescapeString(string(list.Body))
	if list.Status != http.StatusOK || !strings.Contains(body, "两边都有修改") || !strings.Contains(body, "复制/保存冲突文档") ||
		!strings.Contains(body, conflictDoc) || strings.Contains(body, "incoming sha256") {
		t.Fatalf("conflict list: %s", list)
	}

	// Both versions of the change made on both sides.
	page := b.get(fmt.Sprintf("/admin/notes/conflicts/%d", conflictID))
	body = html.UnescapeString(string(page.Body))
	if page.Status != http.StatusOK || !strings.Contains(body, "infowork 当前记录") || !strings.Contains(body, "编辑部改过的汛期报告") ||
		!strings.Contains(body, "Notes 版本（序号 4）") || !strings.Contains(body, "Notes 中改过的汛期报告") {
		t.Fatalf("side by side: %s", page)
	}
	left, right := strings.Index(body, "编辑部改过的汛期报告"), strings.Index(body, "Notes 中改过的汛期报告")
	if left > right {
		t.Errorf("the infowork version should be on the left")
	}
	// The replication conflict document beside its parent.
	page = b.get("/admin/notes/conflicts/" + conflictDoc)
	body = html.UnescapeString(string(page.Body))
	if page.Status != http.StatusOK || !strings.Contains(body, "主文档") || !strings.Contains(body, "冲突文档（Notes 另存的版本）") {
		t.Fatalf("replication conflict page: %s", page)
	}
	if r := b.get("/admin/notes/conflicts/99999999"); r.Status != http.StatusNotFound {
		t.Errorf("unknown conflict: %s", r)
	}
	if r := b.get("/admin/notes/conflicts/x%27%20OR%201=1"); r.Status != http.StatusNotFound {
		t.Errorf("malformed ref: %s", r)
	}

	// Resolve with a note; the list no longer shows it; a second resolve is refused (409).
	ref := fmt.Sprint(conflictID)
	tooLong := strings.Repeat("长", 501)
	if r := b.form("/admin/notes/conflicts/"+ref, "/admin/notes/conflicts/"+ref+"/resolve", url.Values{"note": {tooLong}}); r.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.Body), "处理说明最多 500 个字") {
		t.Errorf("over-long note: %s", r)
	}
	if r := b.form("/admin/notes/conflicts/"+ref, "/admin/notes/conflicts/"+ref+"/resolve", url.Values{"note": {"保留 infowork 版本，已通知单位"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("resolve: %s", r)
	}
	if r := b.form("/admin/notes/conflicts/"+ref, "/admin/notes/conflicts/"+ref+"/resolve", url.Values{}); r.Status != http.StatusConflict ||
		!strings.Contains(string(r.Body), "这项冲突已经处理过了") {
		t.Errorf("second resolve: %s", r)
	}
	if r := b.form("/admin/notes/conflicts/"+conflictDoc, "/admin/notes/conflicts/"+conflictDoc+"/resolve", url.Values{"note": {"两版内容一致，保留主文档"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("resolve the conflict document: %s", r)
	}
	items, err := im.Review(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.ConflictID == conflictID || it.UNID == conflictDoc && it.ConflictID == 0 {
			t.Errorf("still listed after resolving: %+v", it)
		}
	}
	var n int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'notes.resolve' AND username = 'sysn' AND client_ip <> ''
		AND detail IN ('保留 infowork 版本，已通知单位', '两版内容一致，保留主文档')`).Scan(&n); err != nil || n != 2 {
		t.Errorf("audited resolves: %d %v", n, err)
	}
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'notes.conflict.view' AND username = 'sysn'`).Scan(&n); err != nil || n < 2 {
		t.Errorf("audited views: %d %v", n, err)
	}

	// Clearance: a version above the administrator's is not shown.
	if _, err := s.DB.Exec(ctx, `UPDATE submissions SET classification = 2 WHERE source_ref = $1`, unid); err != nil {
		t.Fatal(err)
	}
	page = b.get(fmt.Sprintf("/admin/notes/conflicts/%d", conflictID))
	if body := html.UnescapeString(string(page.Body)); strings.Contains(body, "编辑部改过的汛期报告") || !strings.Contains(body, "高于本人，内容不显示") {
		t.Errorf("a secret version shown to an internal-cleared administrator: %s", page)
	}

	// Other roles: 403.
	sec := adminLogin(t, s, "secn")
	if r := sec.get("/admin/notes/conflicts"); r.Status != http.StatusForbidden {
		t.Errorf("security administrator: %s", r)
	}
	ed := s.browser(t)
	ed.login("editor1")
	if r := ed.get("/admin/notes/conflicts/" + ref); r.Status != http.StatusForbidden {
		t.Errorf("editor: %s", r)
	}
}

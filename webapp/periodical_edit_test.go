package webapp_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"infowork/label"
	"infowork/periodical"
)

// TestPeriodicalEditDefinition: an editor edits a periodical through the pages — name, level,
// masthead, distribution, sections (add, rename, reorder, retire), numbering — and bad input is
// refused with a zh-CN message and nothing written; every edit is in the audit log and on the page.
func TestPeriodicalEditDefinition(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	editor := subjectOf(t, s, "editor1")
	svc := periodical.New(s.DB, periodical.Options{})
	p, err := svc.CreatePeriodical(ctx, editor, periodical.PeriodicalInput{Code: "jbxx", Name: "简报信息", Classification: label.Internal,
		Sections: []string{"要情", "动态", "专报"}, MastheadOrg: "中共示范市委办公室", FooterNote: "示范市委办公室秘书科",
		Distribution: []string{"省委办公厅"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	// A draft issue with an item in 动态.
	s.token(t, "rep_a")
	rec, err := s.createAPI("rep_a", created{Title: "城东区防汛准备情况", Body: "各街道已完成排查。"})
	if err != nil {
		t.Fatal(err)
	}
	is, err := svc.CreateIssue(ctx, editor, p.ID, periodical.IssueInput{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddItems(ctx, editor, is.ID, []periodical.Ref{{Kind: periodical.KindSubmission, ID: rec.ID}}, "动态", ""); err != nil {
		t.Fatal(err)
	}

	ed := s.browser(t)
	ed.login("editor1")
	edit := fmt.Sprintf("/periodicals/%d/edit", p.ID)
	action := fmt.Sprintf("/periodicals/%d", p.ID)
	page := ed.get(edit)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `value="中共示范市委办公室"`) || !strings.Contains(string(page.Body), "修改记录") {
		t.Fatalf("edit page: %s", page)
	}
	version := regexp.MustCompile(`name="version" value="([^"]+)"`).FindStringSubmatch(string(page.Body))
	if version == nil {
		t.Fatal("no version on the edit form")
	}
	form := func() url.Values {
		return url.Values{"_csrf": {csrfOf(t, page)}, "version": {version[1]}, "name": {"简报信息（内部）"}, "level": {"province"},
			"frequency": {"weekly"}, "classification": {"internal"}, "masthead_org": {"中共示范市委办公室"},
			"footer_note": {"示范市委办公室秘书科 2026年印发"}, "distribution": {"省委办公厅\n市委各部委"}, "signer": {""},
			"next_total": {"2"},
			// Rows: 要情 → 要情速递 (order 2), 动态 stays (order 3), 专报 retired, a new 调研 first.
			"from_0": {"要情"}, "to_0": {"要情速递"}, "order_0": {"2"},
			"from_1": {"动态"}, "to_1": {"动态"}, "order_1": {"3"},
			"from_2": {"专报"}, "to_2": {"专报"}, "order_2": {"4"}, "retire_2": {"1"},
			"to_3": {"调研"}, "order_3": {"1"},
			"to_4": {""}, "order_4": {"5"}}
	}
	current := func() periodical.Periodical {
		t.Helper()
		q, err := svc.Periodical(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	refused := func(name string, f url.Values, status int, msg string) {
		t.Helper()
		r := ed.post(action, f)
		body := html.UnescapeString(string(r.Body))
		if r.Status != status || !strings.Contains(body, msg) || !strings.Contains(body, `role="alert"`) {
			t.Errorf("%s: want %d with %q, got %s", name, status, msg, r)
		}
		if q := current(); q.Name != "简报信息" || !slices.Equal(q.Sections, []string{"要情", "动态", "专报"}) {
			t.Errorf("%s: the refused edit changed the definition: %+v", name, q)
		}
	}
	// Bad input, each refused with a message and nothing written.
	f := form()
	f.Set("name", "")
	refused("empty name", f, http.StatusUnprocessableEntity, "刊物名称须为 1–50 个字")
	f = form()
	f.Set("retire_1", "1")
	refused("retire a section a draft issue uses", f, http.StatusUnprocessableEntity, "栏目「动态」在 1 个编辑中的期次里还有 1 条稿件，不能停用")
	f = form()
	f.Set("to_3", "动态")
	refused("duplicate section", f, http.StatusUnprocessableEntity, "栏目名称「动态」重复")
	f = form()
	f.Set("next_total", "1")
	refused("numbering backwards", f, http.StatusUnprocessableEntity, "下一期总期号不能小于 2")
	f = form()
	f.Set("distribution", "")
	refused("no distribution", f, http.StatusUnprocessableEntity, "分送范围（版记“报”）至少一个")
	f = form()
	f.Set("classification", "confidential")
	refused("classification above the editor's clearance", f, http.StatusUnprocessableEntity, "不能设置高于本人密级的刊物密级")
	f = form()
	f.Del("from_2")
	f.Del("to_2")
	f.Del("retire_2")
	f.Del("order_2")
	refused("a section row missing", f, http.StatusUnprocessableEntity, "栏目「专报」未提交")

	// The edit itself, then the draft issue follows the rename (动态 → 基层动态 in a second edit).
	if r := ed.post(action, form()); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: %s", r)
	}
	q := current()
	if q.Name != "简报信息（内部）" || q.Level != "province" || q.Frequency != "weekly" || q.FooterNote != "示范市委办公室秘书科 2026年印发" ||
		!slices.Equal(q.Sections, []string{"调研", "要情速递", "动态"}) || !slices.Equal(q.Distribution, []string{"省委办公厅", "市委各部委"}) || q.LastTotal != 1 {
		t.Fatalf("after the edit: %+v", q)
	}
	// The old form is stale now: a second save from it is refused, not merged silently.
	refusedStale := ed.post(action, form())
	if refusedStale.Status != http.StatusConflict || !strings.Contains(string(refusedStale.Body), "刊物定义已被他人修改") {
		t.Errorf("stale form: %s", refusedStale)
	}
	page = ed.get(edit)
	version = regexp.MustCompile(`name="version" value="([^"]+)"`).FindStringSubmatch(string(page.Body))
	f = url.Values{"_csrf": {csrfOf(t, page)}, "version": {version[1]}, "name": {q.Name}, "level": {q.Level}, "frequency": {q.Frequency},
		"classification": {"internal"}, "masthead_org": {q.MastheadOrg}, "footer_note": {q.FooterNote}, "distribution": {"省委办公厅\n市委各部委"},
		"next_total": {"120"},
		"from_0":     {"调研"}, "to_0": {"调研"}, "order_0": {"1"},
		"from_1": {"要情速递"}, "to_1": {"要情速递"}, "order_1": {"2"},
		"from_2": {"动态"}, "to_2": {"基层动态"}, "order_2": {"3"}}
	if r := ed.post(action, f); r.Status != http.StatusSeeOther {
		t.Fatalf("rename: %s", r)
	}
	got, err := svc.Issue(ctx, editor, is.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 1 || got.Items[0].Section != "基层动态" {
		t.Errorf("the draft issue's item did not follow the rename: %+v", got.Items)
	}
	next, err := svc.CreateIssue(ctx, editor, p.ID, periodical.IssueInput{}, "")
	if err != nil || next.TotalNumber != 120 {
		t.Errorf("next issue after setting the running number to 120: 总第%d期 %v", next.TotalNumber, err)
	}

	// The history on the page and in the audit log.
	page = ed.get(edit)
	body := html.UnescapeString(string(page.Body))
	for _, want := range []string{"「动态」改名为「基层动态」", "「要情」改名为「要情速递」", "停用「专报」", "新增「调研」", "级别：市级 → 省级",
		"下一期总期号：2 → 120"} {
		if !strings.Contains(body, want) {
			t.Errorf("edit page history lacks %q", want)
		}
	}
	// 专报 was never used by an issue: it is simply gone, not listed as retired.
	if strings.Contains(body, "已停用（以往各期仍在用）") {
		t.Errorf("an unused section is listed as retired")
	}
	var n int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'periodical.update' AND object = $1 AND username = 'editor1'`,
		fmt.Sprintf("periodical:%d", p.ID)).Scan(&n); err != nil || n != 2 {
		t.Errorf("audit rows for the two edits: %d %v", n, err)
	}
	// Nobody else: a reporter gets 403 for the page and the post.
	rep := s.browser(t)
	rep.login("rep_a")
	if r := rep.get(edit); r.Status != http.StatusForbidden {
		t.Errorf("reporter edit page: %s", r)
	}
	home := rep.get("/search")
	if r := rep.post(action, url.Values{"_csrf": {csrfOf(t, home)}, "name": {"x"}}); r.Status != http.StatusForbidden {
		t.Errorf("reporter edit post: %s", r)
	}
}

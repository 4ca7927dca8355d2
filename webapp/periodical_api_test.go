package webapp_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"infowork/access"
	"infowork/auth"
	"infowork/label"
	"infowork/periodical"
)

// TestPeriodicalAPI drives an issue through the JSON API as the pages do — create, compile,
// order, sign, distribute, endorse, answer and review the follow-up task, archive — checking
// the refusals (status, code, zh-CN message) and that every response has the fields
// docs/openapi.yaml documents for it.
func TestPeriodicalAPI(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	if _, err := s.Auth.CreateUser(ctx, auth.NewUser{Username: "signer1", Password: password, DisplayName: "王签发",
		Roles: []string{access.RoleSigner}, Clearance: label.Secret}); err != nil {
		t.Fatal(err)
	}
	svc := periodical.New(s.DB, periodical.Options{})
	p, err := svc.CreatePeriodical(ctx, subjectOf(t, s, "editor1"), periodical.PeriodicalInput{Code: "mryq", Name: "每日要情",
		Classification: label.Internal, Sections: []string{"要情快报", "基层动态"}, MastheadOrg: "中共示范市委办公室",
		Distribution: []string{"省委办公厅", "市委常委"}, SignerUsername: "signer1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	s.token(t, "rep_a")
	r1, err := s.createAPI("rep_a", created{Title: "城东区完成老旧小区改造", Body: "改造涉及十二个小区。"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.createAPI("rep_a", created{Title: "城东区开展防汛演练", Body: "演练覆盖全部街道。"})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := readYAMLKeys(t, "../docs/openapi.yaml")
	schema := func(name string, obj map[string]any, optional ...string) {
		t.Helper()
		want := keys.children("components/schemas/" + name + "/properties")
		if len(want) == 0 {
			t.Fatalf("docs/openapi.yaml has no schema %s", name)
		}
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		sort.Strings(got)
		want = slices.DeleteFunc(want, func(p string) bool { return slices.Contains(optional, p) && !slices.Contains(got, p) })
		if !slices.Equal(got, want) {
			t.Errorf("schema %s documents %v; the response has %v", name, want, got)
		}
	}
	ed, sg, rep := s.token(t, "editor1"), s.token(t, "signer1"), s.token(t, "rep_a")
	refusal := func(what string, r resp, status int, code, msg string) {
		t.Helper()
		if r.Status != status {
			t.Errorf("%s: want %d, got %s", what, status, r)
			return
		}
		e, _ := r.JSON(t)["error"].(map[string]any)
		if e["code"] != code || !strings.Contains(fmt.Sprint(e["message"]), msg) {
			t.Errorf("%s: want %s with %q, got %s", what, code, msg, r)
		}
	}

	// Create.
	refusal("bad date", s.api(t, "POST", fmt.Sprintf("/api/v1/periodicals/%d/issues", p.ID), ed, map[string]string{"date": "25/11/2026"}),
		http.StatusUnprocessableEntity, "validation_failed", "日期格式应为 YYYY-MM-DD")
	refusal("a reporter creating an issue", s.api(t, "POST", fmt.Sprintf("/api/v1/periodicals/%d/issues", p.ID), rep, map[string]string{}),
		http.StatusForbidden, "forbidden", "无权")
	r := s.api(t, "POST", fmt.Sprintf("/api/v1/periodicals/%d/issues", p.ID), ed, map[string]string{"date": "2026-11-25"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create issue: %s", r)
	}
	is := r.JSON(t)
	schema("Issue", is)
	if is["state"] != "draft" || is["year"] != float64(2026) || is["year_number"] != float64(1) || is["total_number"] != float64(1) {
		t.Errorf("new issue: %v", is)
	}
	base := fmt.Sprintf("/api/v1/issues/%v", is["id"])

	// Compile.
	refusal("malformed ref", s.api(t, "POST", base+"/items", ed, map[string]any{"refs": []string{"submission:x"}}),
		http.StatusUnprocessableEntity, "validation_failed", "条目引用 submission:x 无效")
	refusal("nothing to compile", s.api(t, "POST", base+"/items", ed, map[string]any{"refs": []string{}}),
		http.StatusUnprocessableEntity, "validation_failed", "请选择要编入的条目")
	refusal("unknown section", s.api(t, "POST", base+"/items", ed, map[string]any{"refs": []string{fmt.Sprintf("submission:%d", r1.ID)}, "section": "不存在"}),
		http.StatusUnprocessableEntity, "validation_failed", "栏目“不存在”不属于《每日要情》")
	r = s.api(t, "POST", base+"/items", ed, map[string]any{"refs": []string{fmt.Sprintf("submission:%d", r1.ID), fmt.Sprintf("submission:%d", r2.ID)}, "section": "基层动态"})
	if r.Status != http.StatusOK {
		t.Fatalf("add items: %s", r)
	}
	items, _ := r.JSON(t)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("items after compiling: %s", r)
	}
	first, second := items[0].(map[string]any), items[1].(map[string]any)
	schema("IssueItem", first)
	if first["title"] != "城东区完成老旧小区改造" || first["section"] != "基层动态" {
		t.Errorf("first item: %v", first)
	}

	// Order: the second record first, under 要情快报.
	refusal("order missing an item", s.api(t, "PUT", base+"/order", ed, map[string]any{"items": []map[string]any{{"id": first["id"], "section": "基层动态"}}}),
		http.StatusUnprocessableEntity, "validation_failed", "顺序与本期现有条目不一致")
	r = s.api(t, "PUT", base+"/order", ed, map[string]any{"items": []map[string]any{
		{"id": second["id"], "section": "要情快报"}, {"id": first["id"], "section": "基层动态"}}})
	if r.Status != http.StatusOK {
		t.Fatalf("order: %s", r)
	}
	items, _ = r.JSON(t)["items"].([]any)
	if got := items[0].(map[string]any); got["title"] != "城东区开展防汛演练" || got["section"] != "要情快报" {
		t.Errorf("after ordering, first item: %v", got)
	}

	// Sign: not the editor; the signer once; then the issue is frozen.
	refusal("an editor signing", s.api(t, "POST", base+"/sign", ed, nil), http.StatusForbidden, "forbidden", "无权")
	r = s.api(t, "POST", base+"/sign", sg, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("sign: %s", r)
	}
	signed := r.JSON(t)
	revs, _ := signed["revisions"].([]any)
	if signed["state"] != "signed" || len(revs) != 1 {
		t.Fatalf("signed issue: %v", signed)
	}
	schema("IssueRevision", revs[0].(map[string]any))
	refusal("signing twice", s.api(t, "POST", base+"/sign", sg, nil), http.StatusConflict, "state_conflict", "")
	refusal("compiling into a signed issue", s.api(t, "POST", base+"/items", ed, map[string]any{"refs": []string{fmt.Sprintf("submission:%d", r1.ID)}}),
		http.StatusConflict, "state_conflict", "")

	// Distribution to the periodical's list.
	refusal("unknown channel", s.api(t, "POST", base+"/distributions", ed, map[string]any{"channel": "pigeon"}),
		http.StatusUnprocessableEntity, "validation_failed", "分送方式只能是")
	r = s.api(t, "POST", base+"/distributions", ed, map[string]any{"channel": "electronic"})
	if d := r.JSON(t); r.Status != http.StatusOK || d["recorded"] != float64(2) || d["issue"].(map[string]any)["state"] != "sent" {
		t.Fatalf("distribute: %s", r)
	}
	if d := s.api(t, "POST", base+"/distributions", ed, map[string]any{"channel": "electronic"}).JSON(t); d["recorded"] != float64(0) {
		t.Errorf("distributing again recorded %v recipients twice", d["recorded"])
	}

	// Endorsement on the 老旧小区 item, tasking its unit (Z101); the reporter answers, the editor reviews.
	endorse := fmt.Sprintf("%s/items/%v/endorsements", base, first["id"])
	refusal("endorsement without a text", s.api(t, "POST", endorse, ed, map[string]any{"leader": "张书记", "level": "city", "date": "2026-11-26"}),
		http.StatusUnprocessableEntity, "validation_failed", "")
	refusal("endorsement with a bad deadline", s.api(t, "POST", endorse, ed, map[string]any{"leader": "张书记", "level": "city", "text": "请抓好落实",
		"date": "2026-11-26", "deadline": "next week"}), http.StatusUnprocessableEntity, "validation_failed", "日期格式应为 YYYY-MM-DD")
	r = s.api(t, "POST", endorse, ed, map[string]any{"leader": "张书记", "level": "city", "text": "请抓好落实，按期反馈。",
		"date": "2026-11-26", "deadline": "2026-12-05"})
	if r.Status != http.StatusCreated {
		t.Fatalf("endorse: %s", r)
	}
	e := r.JSON(t)
	schema("Endorsement", e)
	tasks, _ := e["tasks"].([]any)
	if len(tasks) != 1 {
		t.Fatalf("tasks: %v", e)
	}
	task := tasks[0].(map[string]any)
	schema("EndorsementTask", task, "feedback_at", "reviewed_at")
	if task["unit"] != "Z101" || task["state"] != "open" || task["deadline"] != "2026-12-05" {
		t.Errorf("task: %v", task)
	}
	taskURL := fmt.Sprintf("/api/v1/endorsement-tasks/%v", task["id"])
	refusal("another unit answering", s.api(t, "POST", taskURL+"/feedback", s.token(t, "rep_b"), map[string]string{"feedback": "不是我们的"}),
		http.StatusForbidden, "forbidden", "")
	refusal("empty feedback", s.api(t, "POST", taskURL+"/feedback", rep, map[string]string{"feedback": " "}),
		http.StatusUnprocessableEntity, "validation_failed", "反馈内容须为 1–5000 个字")
	r = s.api(t, "POST", taskURL+"/feedback", rep, map[string]string{"feedback": "已完成十二个小区的改造验收。"})
	if r.Status != http.StatusOK {
		t.Fatalf("feedback: %s", r)
	}
	task = r.JSON(t)["tasks"].([]any)[0].(map[string]any)
	schema("EndorsementTask", task, "reviewed_at")
	if task["state"] != "answered" || task["feedback"] != "已完成十二个小区的改造验收。" {
		t.Errorf("answered task: %v", task)
	}
	r = s.api(t, "POST", taskURL+"/review", ed, map[string]string{"review": "同意办结"})
	if r.Status != http.StatusOK || r.JSON(t)["tasks"].([]any)[0].(map[string]any)["state"] != "closed" {
		t.Fatalf("review: %s", r)
	}

	// Archive; a reporter cannot.
	refusal("a reporter archiving", s.api(t, "POST", base+"/archive", rep, nil), http.StatusForbidden, "forbidden", "")
	r = s.api(t, "POST", base+"/archive", ed, nil)
	if r.Status != http.StatusOK || r.JSON(t)["state"] != "archived" {
		t.Fatalf("archive: %s", r)
	}
	// Every action is in the audit log, as from the pages.
	var actions []string
	rows, err := s.DB.Query(ctx, `SELECT DISTINCT action FROM audit_log WHERE action LIKE 'periodical.%' OR action LIKE 'endorsement%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	rows.Close()
	if len(actions) < 6 {
		t.Errorf("audit actions of the API run: %v", actions)
	}
	t.Logf("audited actions: %v", actions)
}

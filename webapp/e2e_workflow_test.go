package webapp_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"infowork/access"
	"infowork/auth"
	"infowork/submission"
	"infowork/workflow"
)

// TestWorkflowAPI walks the default path through the JSON API: a reporter's draft is submitted
// for unit approval, the unit approver signs it off, an editor reviews and returns it with a
// reason the unit then reads in the history, the reporter resubmits, and the editor adopts it.
// Refusals answer with the reason (422/403), a stale version with 409 and the current version,
// and the documented schemas match the live responses.
func TestWorkflowAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	for _, u := range []auth.NewUser{
		{Username: "appr_a", Password: password, DisplayName: "测试appr_a", Roles: []string{access.RoleUnitApprover}, UnitCode: "Z101"},
		{Username: "wf_admin", Password: password, Roles: []string{access.RoleSysAdmin}},
	} {
		if _, err := s.Auth.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	rep, appr, ed, other := s.token(t, "rep_a"), s.token(t, "appr_a"), s.token(t, "editor1"), s.token(t, "rep_b")
	var repID int64
	if err := s.DB.QueryRow(ctx, `SELECT id FROM users WHERE username = 'rep_a'`).Scan(&repID); err != nil {
		t.Fatal(err)
	}
	u, err := s.Auth.UserByID(ctx, repID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := submission.New(s.DB).Create(ctx, u.Subject(), submission.Input{Title: "流转接口测试", Body: "正文",
		WriterName: "张三", WriterPhone: "0731-84001234", Draft: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/submissions/" + strconv.FormatInt(c.ID, 10)

	keys, _ := readYAMLKeys(t, "../docs/openapi.yaml")
	check := func(schema string, obj map[string]any) {
		t.Helper()
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		sort.Strings(got)
		if want := keys.children("components/schemas/" + schema + "/properties"); !slices.Equal(got, want) {
			t.Errorf("schema %s documents %v; the response has %v", schema, want, got)
		}
	}
	type options struct {
		State       string `json:"state"`
		Version     int64  `json:"version"`
		Transitions []struct {
			Code string `json:"code"`
		} `json:"transitions"`
	}
	available := func(tok string) options {
		t.Helper()
		r := s.api(t, "GET", base+"/transitions", tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("transitions: %s", r)
		}
		var o options
		r.Decode(t, &o)
		return o
	}
	take := func(tok, code string, extra map[string]any) resp {
		t.Helper()
		body := map[string]any{"transition": code, "version": available(tok).Version}
		for k, v := range extra {
			body[k] = v
		}
		return s.api(t, "POST", base+"/transitions", tok, body)
	}
	ok := func(r resp, state string) {
		t.Helper()
		if r.Status != http.StatusOK || r.JSON(t)["state"] != state {
			t.Fatalf("want state %s: %s", state, r)
		}
	}

	o := s.api(t, "GET", base+"/transitions", rep, nil)
	check("TransitionOptions", o.JSON(t))
	check("TransitionChoice", o.JSON(t)["transitions"].([]any)[0].(map[string]any))
	check("WorkflowReason", o.JSON(t)["reasons"].([]any)[0].(map[string]any))
	if got := available(rep); got.State != "draft" || len(got.Transitions) != 2 || got.Transitions[0].Code != "submit" || got.Transitions[1].Code != "discard" {
		t.Fatalf("reporter on a draft: %+v", got)
	}
	if r := s.api(t, "GET", base+"/transitions", other, nil); r.Status != http.StatusNotFound {
		t.Errorf("another unit's reporter: %s, want 404", r)
	}

	// Invalid: adopting a draft (422 naming the state and what is allowed); an editor taking the
	// unit's submit (403 naming the roles).
	r := take(rep, "adopt", nil)
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(r.JSON(t)["error"].(map[string]any)["message"].(string), "「草稿」") &&
		strings.Contains(string(r.Body), "提交审签"), "reporter adopts a draft: %s", r)
	r = take(ed, "submit", nil)
	must(t, r.Status == http.StatusForbidden && strings.Contains(string(r.Body), "transition_forbidden"), "editor submits: %s", r)
	r = s.api(t, "POST", base+"/transitions", rep, map[string]any{"transition": "submit"})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), `"version"`), "no version: %s", r)

	res := take(rep, "submit", map[string]any{"comment": "请审签"})
	ok(res, "unit_approval")
	check("TransitionResult", res.JSON(t))
	// A stale version: 409 with the current one.
	r = s.api(t, "POST", base+"/transitions", appr, map[string]any{"transition": "approve", "version": 1})
	if r.Status != http.StatusConflict {
		t.Fatalf("stale version: %s, want 409", r)
	}
	if f := r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any); f["version"] != "2" || f["state"] != "unit_approval" {
		t.Errorf("conflict fields %v", f)
	}
	ok(take(appr, "approve", nil), "submitted")
	ok(take(ed, "review", nil), "in_review")
	r = take(ed, "return", map[string]any{"comment": "没有原因"})
	must(t, r.Status == http.StatusUnprocessableEntity && r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)["reason"] != nil, "return without reason: %s", r)
	ok(take(ed, "return", map[string]any{"reason": "facts_incomplete", "comment": "请补充时间、地点和涉及户数"}), "returned")

	// The unit reads the structured reason in the history.
	h := s.api(t, "GET", base+"/history", rep, nil)
	if h.Status != http.StatusOK {
		t.Fatal(h)
	}
	check("History", h.JSON(t))
	var hist struct {
		Items []map[string]any `json:"items"`
	}
	h.Decode(t, &hist)
	check("HistoryEvent", hist.Items[0])
	last := hist.Items[len(hist.Items)-1]
	must(t, len(hist.Items) == 4 && last["to_name"] == "退回" && last["reason_name"] == "要素不全" && last["comment"] == "请补充时间、地点和涉及户数",
		"history as the unit sees it: %v", hist.Items)
	if r := s.api(t, "GET", base+"/history", other, nil); r.Status != http.StatusNotFound {
		t.Errorf("another unit reads the history: %s", r)
	}

	ok(take(rep, "resubmit", map[string]any{"comment": "已补充"}), "unit_approval")
	ok(take(appr, "approve", nil), "submitted")
	ok(take(ed, "review", nil), "in_review")

	// Two editors race: one wins, the other gets 409.
	v := available(ed).Version
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, code := range []string{"adopt", "merge"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.tryAPI("POST", base+"/transitions", ed, map[string]any{"transition": code, "version": v})
			if err == nil {
				statuses[i] = r.Status
			}
		}()
	}
	wg.Wait()
	slices.Sort(statuses)
	must(t, slices.Equal(statuses, []int{http.StatusOK, http.StatusConflict}), "racing editors: %v, want one 200 and one 409", statuses)

	// The record shows the final state; every transition was audited.
	got := s.api(t, "GET", base, rep, nil)
	state := got.JSON(t)["state"]
	must(t, state == "adopted" || state == "merged", "record state %v", state)
	var n int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action LIKE 'workflow.%' AND object = $1`, "submission:"+strconv.FormatInt(c.ID, 10)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	must(t, n == 8, "%d workflow audit rows, want 8 (submit, approve, review, return, resubmit, approve, review, adopt or merge)", n)

	// Definitions: everyone lists them; only the system administrator publishes.
	wl := s.api(t, "GET", "/api/v1/workflows", rep, nil)
	check("WorkflowList", wl.JSON(t))
	check("StoredWorkflow", wl.JSON(t)["items"].([]any)[0].(map[string]any))
	d := workflow.Default()
	d.Title = "第三版"
	if r := s.api(t, "POST", "/api/v1/workflows", ed, d); r.Status != http.StatusForbidden {
		t.Errorf("editor publishes: %s, want 403", r)
	}
	admin := s.token(t, "wf_admin")
	bad := workflow.Default()
	bad.Transitions[0].Roles = []string{"janitor"}
	if r := s.api(t, "POST", "/api/v1/workflows", admin, bad); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "janitor") {
		t.Errorf("invalid definition: %s, want 422 naming the role", r)
	}
	pub := s.api(t, "POST", "/api/v1/workflows", admin, d)
	if pub.Status != http.StatusCreated || pub.JSON(t)["version"] != float64(3) {
		t.Fatalf("publish: %s", pub)
	}
	check("StoredWorkflow", pub.JSON(t))
}

var (
	versionField = regexp.MustCompile(`name="version" value="(\d+)"`)
	recordPath   = regexp.MustCompile(`^/submissions/(\d+)\?`)
)

// TestWorkflowPages walks the same path in the browser: a reporter saves a draft from the form
// and submits it from the record page, the unit approver signs it off, an editor reviews it and
// returns it with a reason the reporter then reads in the timeline. A stale form answers 409
// with the current state, a refused transition 422 with the reason, and another unit's reporter
// 404.
func TestWorkflowPages(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	if _, err := s.Auth.CreateUser(context.Background(), auth.NewUser{Username: "appr_p", Password: password, DisplayName: "测试审签人",
		Roles: []string{access.RoleUnitApprover}, UnitCode: "Z101"}); err != nil {
		t.Fatal(err)
	}
	rep, appr, ed, other := s.browser(t), s.browser(t), s.browser(t), s.browser(t)
	rep.login("rep_a")
	appr.login("appr_p")
	ed.login("editor1")
	other.login("rep_b")

	// The form's second button saves a draft.
	form := rep.get("/submissions/new")
	must(t, strings.Contains(string(form.Body), `name="draft" value="1"`) && strings.Contains(string(form.Body), "保存草稿"), "the form has no 保存草稿 button")
	r := rep.post("/submissions", url.Values{"_csrf": {csrfOf(t, form)}, "title": {"流转页面测试"}, "body": {"某街道开展入户走访。"},
		"writer_name": {"张三"}, "writer_phone": {"0731-84001234"}, "draft": {"1"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("save draft: %s", r)
	}
	m := recordPath.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		t.Fatalf("save draft redirected to %q", r.Header.Get("Location"))
	}
	path := "/submissions/" + m[1]
	pg := rep.get(r.Header.Get("Location"))
	body := string(pg.Body)
	must(t, pg.Status == http.StatusOK && strings.Contains(body, "草稿已保存") && strings.Contains(body, `<strong class="state-badge">草稿</strong>`) &&
		strings.Contains(body, `value="submit"`) && strings.Contains(body, ">提交审签</button>"), "the draft's page: %s", pg)

	// take posts a transition form as it is on the page the browser sees now.
	take := func(b *browser, code string, extra url.Values) resp {
		t.Helper()
		page := b.get(path)
		if page.Status != http.StatusOK {
			t.Fatalf("GET %s: %s", path, page)
		}
		v := versionField.FindSubmatch(page.Body)
		if v == nil {
			t.Fatalf("no transition form on %s: %s", path, string(page.Body[strings.Index(string(page.Body), "<main"):]))
		}
		form := url.Values{"_csrf": {csrfOf(t, page)}, "version": {string(v[1])}, "transition": {code}}
		for k, vs := range extra {
			form[k] = vs
		}
		return b.post(path+"/transitions", form)
	}
	moved := func(r resp, state string) {
		t.Helper()
		if r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "flash=transitioned") {
			t.Fatalf("want a redirect after moving to %s: %s (Location %q)", state, r, r.Header.Get("Location"))
		}
		var now string
		if err := s.DB.QueryRow(context.Background(), `SELECT state FROM submissions WHERE id = $1`, m[1]).Scan(&now); err != nil || now != state {
			t.Fatalf("state after the move: %q (%v), want %s", now, err, state)
		}
	}

	moved(take(rep, "submit", nil), "unit_approval")
	pg = rep.get(path + "?flash=transitioned")
	must(t, strings.Contains(string(pg.Body), "操作已完成") && strings.Contains(string(pg.Body), "草稿 → 单位审签"),
		"after submit: %s", pg)

	// Another unit's reporter neither sees nor moves it.
	op := other.get("/submissions")
	r = other.post(path+"/transitions", url.Values{"_csrf": {csrfOf(t, op)}, "version": {"2"}, "transition": {"approve"}})
	must(t, r.Status == http.StatusNotFound, "another unit's reporter posts a transition: %s, want 404", r)

	moved(take(appr, "approve", nil), "submitted")
	moved(take(ed, "review", nil), "in_review")
	pg = ed.get(path)
	must(t, strings.Contains(string(pg.Body), `<select name="reason" required>`) && strings.Contains(string(pg.Body), "要素不全"),
		"the editor's return form lists no reasons: %s", pg)

	// A return without a reason is refused with the reason, the comment kept.
	r = take(ed, "return", url.Values{"comment": {"请补充"}})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), "必须选择原因") && strings.Contains(string(r.Body), ">请补充</textarea>"),
		"return without a reason: %s", r)
	moved(take(ed, "return", url.Values{"reason": {"facts_incomplete"}, "comment": {"请补充时间、地点和涉及户数"}}), "returned")

	// The reporter reads the structured reason in the timeline.
	pg = rep.get(path)
	body = string(pg.Body)
	must(t, strings.Contains(body, "流转记录") && strings.Contains(body, "编辑审核 → 退回") && strings.Contains(body, "原因：<strong>要素不全</strong>") &&
		strings.Contains(body, "请补充时间、地点和涉及户数") && strings.Contains(body, "测试审签人"), "the reporter's timeline: %s", pg)

	// A stale form: 409 with the conflict and the current state.
	r = rep.post(path+"/transitions", url.Values{"_csrf": {csrfOf(t, pg)}, "version": {"1"}, "transition": {"resubmit"}, "comment": {"已补充"}})
	body = string(r.Body)
	must(t, r.Status == http.StatusConflict && strings.Contains(body, "已被他人修改") && strings.Contains(body, `<strong class="state-badge">退回</strong>`) &&
		strings.Contains(body, "状态「退回」"), "stale version: %s, want 409 naming the current state", r)
	// A role that may not take it: 403 with the reason.
	r = take(rep, "adopt", nil)
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), "不能执行操作"), "reporter adopts: %s", r)
	r = ed.post(path+"/transitions", url.Values{"_csrf": {csrfOf(t, ed.get(path))}, "version": {"5"}, "transition": {"resubmit"}})
	must(t, r.Status == http.StatusForbidden && strings.Contains(string(r.Body), "只能由"), "editor resubmits: %s", r)

	// The API creates drafts too.
	d := s.api(t, "POST", "/api/v1/submissions", s.token(t, "rep_a"), map[string]any{"title": "接口草稿", "body": "正文", "draft": true})
	must(t, d.Status == http.StatusCreated && d.JSON(t)["state"] == "draft", "API draft: %s", d)
}

package webapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"infowork/access"
	"infowork/auth"
	"infowork/label"
	"infowork/submission"
	"infowork/workflow"
)

// checkSchema compares a response object's fields with the schema's documented properties.
func checkSchema(t *testing.T, schema string, obj map[string]any) {
	t.Helper()
	keys, _ := readYAMLKeys(t, "../docs/openapi.yaml")
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	sort.Strings(got)
	if want := keys.children("components/schemas/" + schema + "/properties"); !slices.Equal(got, want) {
		t.Errorf("schema %s documents %v; the response has %v", schema, want, got)
	}
}

// deskUsers adds a second editor and a signer (the privileged unlock) to a stack.
func deskUsers(t *testing.T, s *stack) {
	t.Helper()
	for _, u := range []auth.NewUser{
		{Username: "editor2", Password: password, DisplayName: "测试editor2", Roles: []string{access.RoleEditor}, Clearance: label.Secret},
		{Username: "chief", Password: password, DisplayName: "测试总编", Roles: []string{access.RoleSigner}, Clearance: label.Secret},
	} {
		if _, err := s.Auth.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
}

// directReport stores a report of rep_a as reported directly (state submitted).
func directReport(t *testing.T, s *stack, title string, draft bool) int64 {
	t.Helper()
	return directReportText(t, s, title, "正文。", draft)
}

// directReportText is directReport with a body of the caller's.
func directReportText(t *testing.T, s *stack, title, body string, draft bool) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	if err := s.DB.QueryRow(ctx, `SELECT id FROM users WHERE username = 'rep_a'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	u, err := s.Auth.UserByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	in := submission.Input{Title: title, Body: body, Draft: draft}
	if !draft {
		in.WriterName, in.WriterPhone = "张三", "13812345678"
	}
	c, err := submission.New(s.DB).Create(ctx, u.Subject(), in, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestDeskAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	deskUsers(t, s)
	ctx := context.Background()
	id := directReport(t, s, "编辑台接口测试", false)
	base := "/api/v1/submissions/" + strconv.FormatInt(id, 10)
	ed1, ed2, chief, rep, other := s.token(t, "editor1"), s.token(t, "editor2"), s.token(t, "chief"), s.token(t, "rep_a"), s.token(t, "rep_b")

	d := s.api(t, "GET", "/api/v1/desk?state=submitted", ed1, nil).JSON(t)
	items, _ := d["items"].([]any)
	must(t, d["total"] == float64(1) && len(items) == 1, "desk: %v", d)
	checkSchema(t, "Desk", d)
	checkSchema(t, "DeskQueue", d["queues"].([]any)[0].(map[string]any))
	if len(items) == 1 {
		it := items[0].(map[string]any)
		checkSchema(t, "DeskItem", it)
		must(t, it["id"] == float64(id) && it["state_name"] == "已报送" && it["age_level"] == "fresh" && it["overdue"] == false && it["lock"] == nil, "item %v", it)
	}
	if r := s.api(t, "GET", "/api/v1/desk", other, nil); r.JSON(t)["total"] != float64(0) {
		t.Errorf("another unit's desk: %s", r)
	}
	if r := s.api(t, "GET", "/api/v1/desk?state=nowhere", ed1, nil); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("unknown queue: %s", r)
	}

	// Soft lock: editor1 takes it; editor2 is refused with the holder named, in the desk API and
	// in the workflow; editor2 may not unlock; the signer may, audited.
	r := s.api(t, "POST", base+"/lock", ed1, nil)
	must(t, r.Status == http.StatusOK && r.JSON(t)["holder"] == "editor1", "lock: %s", r)
	r = s.api(t, "POST", base+"/lock", ed2, nil)
	must(t, r.Status == http.StatusConflict && strings.Contains(string(r.Body), `"locked"`) && strings.Contains(string(r.Body), "测试editor1"), "second lock: %s", r)
	r = s.api(t, "POST", base+"/transitions", ed2, map[string]any{"transition": "review", "version": 1})
	must(t, r.Status == http.StatusConflict && strings.Contains(string(r.Body), "测试editor1"), "transition under lock: %s", r)
	card := s.api(t, "GET", base+"/desk", ed2, nil).JSON(t)
	lock, _ := card["lock"].(map[string]any)
	must(t, lock != nil && lock["holder"] == "测试editor1", "card lock: %v", card)
	checkSchema(t, "DeskCard", card)
	checkSchema(t, "DeskLock", lock)
	r = s.api(t, "DELETE", base+"/lock", ed2, nil)
	must(t, r.Status == http.StatusForbidden, "editor2 unlocks: %s", r)
	r = s.api(t, "DELETE", base+"/lock", chief, nil)
	must(t, r.Status == http.StatusNoContent, "signer unlocks: %s", r)
	var n int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'desk.unlock' AND username = 'chief' AND object = $1`,
		"submission:"+strconv.FormatInt(id, 10)).Scan(&n); err != nil || n != 1 {
		t.Errorf("privileged unlock audited %d times (%v)", n, err)
	}

	// Assignment notifies; the inbox shows it with an unread count; marking reads it.
	r = s.api(t, "PUT", base+"/assignee", ed1, map[string]string{"username": "editor2"})
	must(t, r.Status == http.StatusOK && r.JSON(t)["assignee"] == "测试editor2", "assign: %s", r)
	checkSchema(t, "DeskAssignment", r.JSON(t))
	r = s.api(t, "PUT", base+"/assignee", rep, map[string]string{"username": "editor2"})
	must(t, r.Status == http.StatusForbidden, "reporter assigns: %s", r)
	r = s.api(t, "PUT", base+"/assignee", ed1, map[string]string{"username": "rep_a"})
	must(t, r.Status == http.StatusUnprocessableEntity, "assign to a reporter: %s", r)
	inbox := s.api(t, "GET", "/api/v1/notifications", ed2, nil).JSON(t)
	list, _ := inbox["items"].([]any)
	must(t, inbox["unread"] == float64(1) && len(list) == 1, "inbox: %v", inbox)
	checkSchema(t, "Inbox", inbox)
	if len(list) == 1 {
		checkSchema(t, "Notification", list[0].(map[string]any))
	}
	if r := s.api(t, "GET", "/api/v1/desk?mine=1", ed2, nil).JSON(t); r["total"] != float64(1) {
		t.Errorf("mine: %v", r)
	}

	// Comments with @mentions notify readers only.
	r = s.api(t, "POST", base+"/comments", ed2, map[string]string{"body": "@editor1 数据待核实；@rep_b 不应收到"})
	must(t, r.Status == http.StatusCreated, "comment: %s", r)
	cm := r.JSON(t)
	checkSchema(t, "CommentCreated", cm)
	must(t, strings.Contains(string(r.Body), `"notified":["editor1"]`) && strings.Contains(string(r.Body), `"not_notified":["rep_b"]`), "mentions: %v", cm)
	// editor1 was told of the signer's unlock and of the mention.
	if r := s.api(t, "GET", "/api/v1/notifications?unread=1", ed1, nil).JSON(t); r["unread"] != float64(2) || !strings.Contains(r["items"].([]any)[0].(map[string]any)["message"].(string), "提到了您") {
		t.Errorf("editor1 unread %v", r)
	}
	if r := s.api(t, "GET", "/api/v1/notifications", other, nil).JSON(t); r["unread"] != float64(0) {
		t.Errorf("rep_b unread %v", r)
	}
	if r := s.api(t, "GET", base+"/comments", rep, nil).JSON(t); len(r["items"].([]any)) != 1 {
		t.Errorf("the unit reads the comments: %v", r)
	} else {
		checkSchema(t, "CommentList", r)
		checkSchema(t, "Comment", r["items"].([]any)[0].(map[string]any))
	}
	if r := s.api(t, "GET", base+"/comments", other, nil); r.Status != http.StatusNotFound {
		t.Errorf("another unit reads comments: %s", r)
	}
	r = s.api(t, "POST", base+"/comments", ed1, map[string]string{"body": " "})
	must(t, r.Status == http.StatusUnprocessableEntity, "empty comment: %s", r)
	r = s.api(t, "POST", "/api/v1/notifications/read", ed1, map[string]any{"ids": []int64{}})
	must(t, r.Status == http.StatusOK && r.JSON(t)["marked"] == float64(2), "mark read: %s", r)

	// Due dates: a past one makes the item overdue on the desk.
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	r = s.api(t, "PUT", base+"/due", ed1, map[string]any{"due_at": past})
	must(t, r.Status == http.StatusOK, "due: %s", r)
	checkSchema(t, "DeskDue", r.JSON(t))
	r = s.api(t, "PUT", base+"/due", ed1, map[string]any{"due_at": "明天"})
	must(t, r.Status == http.StatusUnprocessableEntity, "bad due: %s", r)
	od := s.api(t, "GET", "/api/v1/desk?overdue=1", ed1, nil).JSON(t)
	must(t, od["total"] == float64(1), "overdue: %v", od)
	qs, _ := od["queues"].([]any)
	for _, q := range qs {
		if q := q.(map[string]any); q["state"] == "submitted" {
			must(t, q["overdue"] == float64(1) && q["count"] == float64(1), "queue %v", q)
		}
	}

	// Every state change is audited and reaches the index.
	r = s.api(t, "POST", base+"/transitions", ed2, map[string]any{"transition": "review", "version": 1})
	must(t, r.Status == http.StatusOK, "review: %s", r)
	waitFor(t, 10*time.Second, "the index carries the new state", func() (bool, string) {
		var res struct {
			Hits []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"hits"`
		}
		s.api(t, "GET", "/api/v1/search?q="+url.QueryEscape("编辑台接口测试"), ed1, nil).Decode(t, &res)
		for _, h := range res.Hits {
			if h.ID == strconv.FormatInt(id, 10) {
				return h.State == "in_review", h.State
			}
		}
		return false, "no hit"
	})
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'workflow.review' AND object = $1`,
		"submission:"+strconv.FormatInt(id, 10)).Scan(&n); err != nil || n != 1 {
		t.Errorf("review audited %d times (%v)", n, err)
	}

	// Invalid transitions: 422 with the reason; a guard names the missing fields.
	r = s.api(t, "POST", base+"/transitions", ed2, map[string]any{"transition": "approve", "version": 2})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), "「编辑审核」"), "invalid transition: %s", r)
	draft := directReport(t, s, "无执笔人草稿", true)
	r = s.api(t, "POST", "/api/v1/submissions/"+strconv.FormatInt(draft, 10)+"/transitions", rep, map[string]any{"transition": "submit", "version": 1})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), `"writer_name"`) && strings.Contains(string(r.Body), "必须填写执笔人"), "guard: %s", r)
}

func TestWorkflowValidateAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	if _, err := s.Auth.CreateUser(context.Background(), auth.NewUser{Username: "wf_admin2", Password: password, Roles: []string{access.RoleSysAdmin}}); err != nil {
		t.Fatal(err)
	}
	admin := s.token(t, "wf_admin2")
	d := workflow.Default()
	d.States = append(d.States, workflow.State{Code: "orphan", Name: "孤立", Terminal: true})
	d.Transitions[0].Roles = []string{"janitor"}
	r := s.api(t, "POST", "/api/v1/workflows/validate", admin, d)
	must(t, r.Status == http.StatusOK && r.JSON(t)["valid"] == false && strings.Contains(string(r.Body), "无法到达") &&
		strings.Contains(string(r.Body), "janitor"), "invalid: %s", r)
	checkSchema(t, "WorkflowValidation", r.JSON(t))
	ok := workflow.Default()
	ok.Title = "新标题"
	r = s.api(t, "POST", "/api/v1/workflows/validate", admin, ok)
	must(t, r.Status == http.StatusOK && r.JSON(t)["valid"] == true && strings.Contains(string(r.Body), `"key":"title"`), "valid: %s", r)
	checkSchema(t, "WorkflowChange", r.JSON(t)["changes"].([]any)[0].(map[string]any))
	if r := s.api(t, "POST", "/api/v1/workflows/validate", s.token(t, "editor1"), ok); r.Status != http.StatusForbidden {
		t.Errorf("editor validates: %s", r)
	}
}

func TestDeskPages(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	deskUsers(t, s)
	id := directReport(t, s, "编辑台页面测试", false)
	path := "/submissions/" + strconv.FormatInt(id, 10)
	ed1, ed2, chief, rep := s.browser(t), s.browser(t), s.browser(t), s.browser(t)
	ed1.login("editor1")
	ed2.login("editor2")
	chief.login("chief")
	rep.login("rep_a")

	pg := ed1.get("/desk")
	body := string(pg.Body)
	must(t, pg.Status == http.StatusOK && strings.Contains(body, "编辑台页面测试") && strings.Contains(body, `class="age-badge age-fresh"`) &&
		strings.Contains(body, `data-state="submitted"`), "desk page: %s", pg)

	// Two units' reports of the same event carry a near-duplicate badge linking to the record's
	// similar panel; an unrelated report (and the first one) carries none.
	dupA := directReportText(t, s, "城东路口水管爆裂致交通拥堵", "今天上午八时许，城东路与建设大街交叉口地下供水管道爆裂，路面积水约三十厘米，"+
		"早高峰车辆排队超过一公里，自来水公司抢修队已到场处置，预计下午恢复供水。", false)
	dupB := directReportText(t, s, "城东路口供水管道爆裂", "今天上午八时许，城东路与建设大街交叉口地下供水管道爆裂，路面积水约三十厘米，"+
		"早高峰车辆排队超过一公里，自来水公司抢修队已到场处置，预计今天下午恢复供水。", false)
	other := directReportText(t, s, "市图书馆举办少儿阅读周", "市图书馆本周举办少儿阅读周活动，安排绘本共读、作家见面会和亲子手工课，"+
		"全市二十余所小学的学生报名参加，活动持续到周日。", false)
	pg = ed1.get("/desk")
	body = string(pg.Body)
	row := func(id int64) string {
		t.Helper()
		m := regexp.MustCompile(`(?s)<tr[^>]*data-id="` + strconv.FormatInt(id, 10) + `">.*?</tr>`).FindString(body)
		if m == "" {
			t.Fatalf("no desk row for %d: %s", id, pg)
		}
		return m
	}
	for _, c := range [][2]int64{{dupA, dupB}, {dupB, dupA}} {
		r := row(c[0])
		must(t, strings.Contains(r, `class="badge dup-badge" href="/submissions/`+strconv.FormatInt(c[0], 10)+`#similar"`) &&
			strings.Contains(r, "疑似重复 1") && strings.Contains(r, "#"+strconv.FormatInt(c[1], 10)+" "), "row of %d has no near-duplicate badge: %s", c[0], r)
	}
	for _, id := range []int64{other, id} {
		must(t, !strings.Contains(row(id), "dup-badge"), "unrelated report %d has a near-duplicate badge: %s", id, row(id))
	}
	pg = ed1.get("/submissions/" + strconv.FormatInt(dupA, 10))
	must(t, strings.Contains(string(pg.Body), `id="similar"`) && strings.Contains(string(pg.Body), `<a href="/submissions/`+strconv.FormatInt(dupB, 10)+`">`),
		"the badge's target lists the other report: %s", pg)

	// editor1 locks from the record page; editor2 sees the holder and no lock button, and is
	// refused with 409 when it posts the lock anyway.
	r := ed1.form(path, path+"/lock", url.Values{})
	must(t, r.Status == http.StatusSeeOther && strings.Contains(r.Header.Get("Location"), "desk=locked"), "lock: %s", r)
	pg = ed2.get(path)
	body = string(pg.Body)
	must(t, strings.Contains(body, "测试editor1 正在处理</span>") && !strings.Contains(body, `id="take-lock"`) && !strings.Contains(body, `id="force-unlock"`),
		"editor2's view of the lock: %s", pg)
	r = ed2.form(path, path+"/lock", url.Values{})
	must(t, r.Status == http.StatusConflict && strings.Contains(string(r.Body), "此信息正由测试editor1处理"), "second lock: %s", r)
	r = ed2.form(path, path+"/unlock", url.Values{})
	must(t, r.Status == http.StatusForbidden, "editor2 unlocks: %s", r)
	// A transition form posted by editor2 is refused while the lock holds.
	pg = ed2.get(path)
	v := versionField.FindSubmatch(pg.Body)
	if v == nil {
		t.Fatalf("no transition form: %s", pg)
	}
	r = ed2.post(path+"/transitions", url.Values{"_csrf": {csrfOf(t, pg)}, "version": {string(v[1])}, "transition": {"review"}})
	must(t, r.Status == http.StatusConflict && strings.Contains(string(r.Body), "此信息正由测试editor1处理"), "transition under lock: %s", r)

	// The signer sees the privileged unlock and uses it.
	pg = chief.get(path)
	must(t, strings.Contains(string(pg.Body), `id="force-unlock"`), "signer has no unlock button: %s", pg)
	r = chief.form(path, path+"/unlock", url.Values{})
	must(t, r.Status == http.StatusSeeOther, "signer unlocks: %s", r)
	pg = ed2.get(path)
	must(t, strings.Contains(string(pg.Body), `id="take-lock"`) && strings.Contains(string(pg.Body), "未锁定"), "after unlock: %s", pg)
	// editor1 is told in the header badge and the inbox.
	pg = ed1.get("/notifications")
	must(t, strings.Contains(string(pg.Body), `class="unread-badge"`) && strings.Contains(string(pg.Body), "您的锁定已被测试总编解除"), "inbox: %s", pg)

	// Assign to a colleague, comment with a mention, set a due date.
	r = ed1.form(path, path+"/assign", url.Values{"assignee": {"editor2"}})
	must(t, r.Status == http.StatusSeeOther, "assign: %s", r)
	r = ed1.form(path, path+"/comments", url.Values{"body": {"@editor2 请今天处理"}})
	must(t, r.Status == http.StatusSeeOther, "comment: %s", r)
	r = ed1.form(path, path+"/due", url.Values{"due_at": {"2020-01-01T09:00"}})
	must(t, r.Status == http.StatusSeeOther, "due: %s", r)
	r = ed1.form(path, path+"/due", url.Values{"due_at": {"下周"}})
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), "截止时间格式不正确"), "bad due: %s", r)
	pg = rep.get(path)
	body = string(pg.Body)
	must(t, strings.Contains(body, "@editor2 请今天处理") && strings.Contains(body, "测试editor2") && strings.Contains(body, "已超期") &&
		!strings.Contains(body, `action="`+path+`/assign"`), "the unit's view: %s", pg)
	r = rep.form(path, path+"/assign", url.Values{"assignee": {"editor1"}})
	must(t, r.Status == http.StatusForbidden, "reporter assigns: %s", r)
	pg = ed2.get("/notifications")
	body = string(pg.Body)
	must(t, strings.Contains(body, "将其分派给您") && strings.Contains(body, "在评论中提到了您") && strings.Contains(body, `aria-label="2 条未读"`), "editor2 inbox: %s", pg)
	r = ed2.form("/notifications", "/notifications/read", url.Values{})
	must(t, r.Status == http.StatusSeeOther, "mark all read: %s", r)
	pg = ed2.get("/desk?overdue=1")
	must(t, strings.Contains(string(pg.Body), "编辑台页面测试") && !strings.Contains(string(pg.Body), `class="unread-badge"`), "overdue queue: %s", pg)
}

func TestWorkflowEditorPage(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	createAccounts(t, s, account{Username: "wf_sys", Roles: []string{access.RoleSysAdmin}}, account{Username: "wf_sec", Roles: []string{access.RoleSecAdmin}})
	sys := adminLogin(t, s, "wf_sys")
	sec := adminLogin(t, s, "wf_sec")
	if r := sec.get("/admin/workflows"); r.Status != http.StatusForbidden {
		t.Errorf("security administrator opens the workflow editor: %s", r)
	}
	pg := sys.get("/admin/workflows")
	must(t, pg.Status == http.StatusOK && strings.Contains(string(pg.Body), "第 2 版") && strings.Contains(string(pg.Body), "生效中") &&
		strings.Contains(string(pg.Body), "新增「已撤销」"), "versions with diff: %s", pg)
	edit := sys.get("/admin/workflows/edit")
	must(t, edit.Status == http.StatusOK && strings.Contains(string(edit.Body), `&#34;initial&#34;: &#34;draft&#34;`), "editor: %s", edit)

	// The role matrix: take every role from the first transition (refused: no role), then let
	// the signer start reviews too (valid, the difference is shown).
	def := workflow.Default()
	raw, _ := json.Marshal(def)
	matrix := url.Values{"definition": {string(raw)}, "matrix": {"1"}, "action": {"validate"}}
	for i, tr := range def.Transitions {
		if i == 0 {
			continue
		}
		matrix["roles_"+strconv.Itoa(i)] = tr.Roles
	}
	must(t, strings.Contains(string(edit.Body), `name="roles_0" value="reporter"`), "no role matrix: %s", edit)
	r := sys.form("/admin/workflows/edit", "/admin/workflows/edit", matrix)
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(string(r.Body), "至少要允许一个角色"), "matrix without a role: %s", r)
	for i, tr := range def.Transitions {
		roles := tr.Roles
		if tr.Code == "review" {
			roles = []string{"editor", "signer"}
		}
		matrix["roles_"+strconv.Itoa(i)] = roles
	}
	r = sys.form("/admin/workflows/edit", "/admin/workflows/edit", matrix)
	must(t, r.Status == http.StatusOK && strings.Contains(string(r.Body), "校验通过") && strings.Contains(string(r.Body), "submitted/review") &&
		strings.Contains(string(r.Body), `[&#34;editor&#34;,&#34;signer&#34;]`), "matrix change: %s", r)

	var d workflow.Definition
	d = workflow.Default()
	d.Transitions = append(d.Transitions, workflow.Transition{Code: "x", From: "draft", To: "limbo", Label: "去向不明", Roles: []string{"boss"}})
	bad, _ := json.Marshal(d)
	r = sys.form("/admin/workflows/edit", "/admin/workflows/edit", url.Values{"definition": {string(bad)}, "action": {"publish"}})
	body := string(r.Body)
	must(t, r.Status == http.StatusUnprocessableEntity && strings.Contains(body, "未通过校验") && strings.Contains(body, `目标状态 &#34;limbo&#34; 未定义`) &&
		strings.Contains(body, `未知角色 &#34;boss&#34;`), "invalid publish: %s", r)

	d = workflow.Default()
	d.States = append(d.States, workflow.State{Code: "hold", Name: "暂缓", OnEnter: []workflow.Action{{Type: "notify", To: "assignee"}}})
	d.Transitions = append(d.Transitions,
		workflow.Transition{Code: "hold", From: "in_review", To: "hold", Label: "暂缓", Roles: []string{"editor"}},
		workflow.Transition{Code: "resume", From: "hold", To: "in_review", Label: "恢复审核", Roles: []string{"editor"}})
	good, _ := json.Marshal(d)
	r = sys.form("/admin/workflows/edit", "/admin/workflows/edit", url.Values{"definition": {string(good)}, "action": {"validate"}})
	must(t, r.Status == http.StatusOK && strings.Contains(string(r.Body), "校验通过") && strings.Contains(string(r.Body), "新增「暂缓」"), "validate: %s", r)
	r = sys.form("/admin/workflows/edit", "/admin/workflows/edit", url.Values{"definition": {string(good)}, "action": {"publish"}})
	must(t, r.Status == http.StatusSeeOther, "publish: %s", r)
	pg = sys.get("/admin/workflows")
	must(t, strings.Contains(string(pg.Body), "第 3 版") && strings.Contains(string(pg.Body), "新增「恢复审核：hold → in_review」"), "after publish: %s", pg)
	if rows := auditRows(t, s, "workflow.publish"); len(rows) != 1 {
		t.Errorf("publish audited %d times", len(rows))
	}
	pg = sys.get("/admin/workflows/default/3")
	must(t, pg.Status == http.StatusOK && strings.Contains(string(pg.Body), "恢复审核"), "version page: %s", pg)
}

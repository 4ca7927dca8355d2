package webapp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"infowork/access"
	"infowork/auth"
)

// Reports of one event (a heavy rain night) from three units: they share the city's alert
// wording and add their own facts, as real reports of one event do.
var rainReports = []struct{ reporter, approver, title, body string }{
	{"rep_a", "appr_a", "东湖街道连夜应对强降雨",
		"6月12日凌晨，我市出现短时强降雨，最大小时雨量达58毫米，市防汛办发布暴雨橙色预警，要求各地加强巡查、及时转移危险区域群众，全力做好防汛抢险各项准备工作。东湖街道组织网格员连夜排水，转移群众46人，辖区12处易涝点已全部排查。"},
	{"rep_b", "appr_b", "西湖街道启动防汛应急响应",
		"6月12日凌晨，我市出现短时强降雨，最大小时雨量达58毫米，市防汛办发布暴雨橙色预警，要求各地加强巡查、及时转移危险区域群众，全力做好防汛抢险各项准备工作。西湖街道设置警示标志20处，疏通排水管网3.2公里，未发生人员伤亡。"},
	{"rep_c", "appr_c", "市住建局检查在建工地基坑安全",
		"6月12日凌晨，我市出现短时强降雨，最大小时雨量达58毫米，市防汛办发布暴雨橙色预警，要求各地加强巡查、及时转移危险区域群众，全力做好防汛抢险各项准备工作。市住房和城乡建设局派出工作组检查在建工地基坑安全，责令3处积水工地停工整改。"},
}

const fourthReport = "东湖街道社区书画展开幕，展出居民作品80余幅，吸引周边群众300余人次参观。"

// editorialUsers adds the unit approvers of the three fixture units.
func editorialUsers(t *testing.T, s *stack) {
	t.Helper()
	for _, u := range []auth.NewUser{
		{Username: "appr_a", Password: password, DisplayName: "审签人甲", Roles: []string{access.RoleUnitApprover}, UnitCode: "Z101"},
		{Username: "appr_b", Password: password, DisplayName: "审签人乙", Roles: []string{access.RoleUnitApprover}, UnitCode: "Z102"},
		{Username: "appr_c", Password: password, DisplayName: "审签人丙", Roles: []string{access.RoleUnitApprover}, UnitCode: "B101"},
	} {
		if _, err := s.Auth.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// step takes a workflow transition through the API and returns the new version.
func (s *stack) step(t *testing.T, who string, id int64, code string, extra map[string]any) {
	t.Helper()
	r := s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d/transitions", id), s.token(t, who), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("transitions of %d as %s: %s", id, who, r)
	}
	body := map[string]any{"transition": code, "version": num(r.JSON(t)["version"])}
	for k, v := range extra {
		body[k] = v
	}
	if r := s.api(t, "POST", fmt.Sprintf("/api/v1/submissions/%d/transitions", id), s.token(t, who), body); r.Status != http.StatusOK {
		t.Fatalf("%s %d as %s: %s", code, id, who, r)
	}
}

// TestEditorialPathAPI is the done-when path through the JSON API: units draft reports,
// their approvers sign them off, the editor sees them as near duplicates, merges three units'
// reports into one draft (a second editor's stale save gets 409 with the changes), adopts it
// with credit to all three units, and returns a fourth report with a reason. Every state change
// is in the audit log and, through the outbox, in the search index.
func TestEditorialPathAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	editorialUsers(t, s)
	ed := s.token(t, "editor1")

	// Intake: a report without writer phone is refused when it skips the draft state.
	if r := s.api(t, "POST", "/api/v1/submissions", s.token(t, "rep_a"), map[string]any{"title": "t", "body": "b",
		"writer_name": "张三", "writer_phone": "12345"}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "手机号") {
		t.Fatalf("bad phone: %s", r)
	}
	var ids []int64
	for _, rr := range rainReports {
		r := s.api(t, "POST", "/api/v1/submissions", s.token(t, rr.reporter), map[string]any{"title": rr.title, "body": rr.body,
			"writer_name": "张三", "writer_phone": "0731-84001234", "draft": true})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %s", r)
		}
		id := num(r.JSON(t)["id"])
		s.step(t, rr.reporter, id, "submit", nil)
		s.step(t, rr.approver, id, "approve", nil)
		ids = append(ids, id)
	}
	r := s.api(t, "POST", "/api/v1/submissions", s.token(t, "rep_a2"), map[string]any{"title": "东湖街道社区书画展开幕", "body": fourthReport,
		"writer_name": "李四", "writer_phone": "13812345678", "draft": true})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	fourth := num(r.JSON(t)["id"])
	s.step(t, "rep_a2", fourth, "submit", nil)
	s.step(t, "appr_a", fourth, "approve", nil)

	// Near duplicates: the editor sees the other two units' reports, not the unrelated fourth.
	r = s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d/similar", ids[0]), ed, nil)
	var sim struct {
		Items []struct {
			ID    int64   `json:"id"`
			Unit  string  `json:"unit"`
			Score float64 `json:"score"`
		} `json:"items"`
	}
	r.Decode(t, &sim)
	got := map[int64]bool{}
	for _, it := range sim.Items {
		got[it.ID] = true
	}
	if r.Status != http.StatusOK || len(sim.Items) != 2 || !got[ids[1]] || !got[ids[2]] || got[fourth] {
		t.Fatalf("similar to %d: %s", ids[0], r)
	}
	// A unit's reporter gets hints only among its own unit's reports: none here.
	r = s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d/similar", ids[0]), s.token(t, "rep_a"), nil)
	r.Decode(t, &sim)
	if r.Status != http.StatusOK || len(sim.Items) != 0 {
		t.Fatalf("similar as rep_a leaks other units' reports: %s", r)
	}
	// Queue hints: several reports at once, in one call.
	r = s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/similar?ids=%d,%d,%d,%d", ids[0], ids[1], ids[2], fourth), ed, nil)
	var hints struct {
		Hints []struct {
			ID    int64 `json:"id"`
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
		} `json:"hints"`
	}
	r.Decode(t, &hints)
	counts := map[int64]int{}
	for _, h := range hints.Hints {
		counts[h.ID] = len(h.Items)
	}
	if r.Status != http.StatusOK || len(hints.Hints) != 4 || counts[ids[0]] != 2 || counts[ids[1]] != 2 || counts[ids[2]] != 2 || counts[fourth] != 0 {
		t.Fatalf("queue hints: %s", r)
	}
	// Intake hint for a text not yet saved.
	r = s.api(t, "POST", "/api/v1/submissions/similar", ed, map[string]any{"title": "强降雨", "body": rainReports[1].body})
	r.Decode(t, &sim)
	if r.Status != http.StatusOK || len(sim.Items) == 0 || sim.Items[0].ID != ids[1] {
		t.Fatalf("similar text: %s", r)
	}

	// Merge the three into one draft.
	if r := s.api(t, "POST", "/api/v1/drafts", s.token(t, "rep_a"), map[string]any{"submissions": ids}); r.Status != http.StatusForbidden {
		t.Fatalf("reporter made a draft: %s", r)
	}
	r = s.api(t, "POST", "/api/v1/drafts", ed, map[string]any{"title": "我市各地各部门连夜应对强降雨", "submissions": ids})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	d := r.JSON(t)
	draftID, v1 := num(d["id"]), num(d["version"])
	body := "<p>6月12日凌晨，我市出现短时强降雨，市防汛办发布暴雨橙色预警，各地各部门迅速行动。</p>" +
		"<p>东湖街道组织网格员连夜排水，转移群众46人；西湖街道设置警示标志20处，疏通排水管网3.2公里；" +
		"市住房和城乡建设局派出工作组检查在建工地基坑安全，责令3处积水工地停工整改。</p>"
	r = s.api(t, "PUT", fmt.Sprintf("/api/v1/drafts/%d", draftID), ed, map[string]any{"title": "我市各地各部门连夜应对强降雨",
		"body_html": body, "note": "合稿", "version": v1, "base_revision": 1})
	if r.Status != http.StatusOK {
		t.Fatal(r)
	}
	saved := r.JSON(t)
	if num(saved["revision"]) != 2 {
		t.Fatalf("save: %s", r)
	}
	for _, src := range saved["sources"].([]any) {
		m := src.(map[string]any)
		if m["contributes"] != true {
			t.Errorf("source %v does not contribute: %v", m["submission_id"], m)
		}
	}
	// A second editor saving on the old version: 409, with what the first one changed.
	editorialEditor2(t, s)
	r = s.api(t, "PUT", fmt.Sprintf("/api/v1/drafts/%d", draftID), s.token(t, "editor2"), map[string]any{"title": "别的标题",
		"body_html": "<p>另一种写法。</p>", "version": v1, "base_revision": 1})
	var conflict struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
		ChangedBy string `json:"changed_by"`
		Current   struct {
			Revision int `json:"revision"`
		} `json:"current"`
		Changes []struct{ Op, Text string } `json:"changes"`
	}
	r.Decode(t, &conflict)
	var inserted string
	for _, c := range conflict.Changes {
		if c.Op == "insert" {
			inserted += c.Text
		}
	}
	if r.Status != http.StatusConflict || conflict.Error.Code != "version_conflict" || conflict.ChangedBy != "editor1" ||
		conflict.Current.Revision != 2 || !strings.Contains(inserted, "各地各部门迅速行动") {
		t.Fatalf("stale save: %s", r)
	}
	// Revisions and a readable diff.
	r = s.api(t, "GET", fmt.Sprintf("/api/v1/drafts/%d/revisions/2", draftID), ed, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"op":"insert"`) {
		t.Fatalf("revision 2: %s", r)
	}

	// Adopt: each of the three units credited 综合采用.
	r = s.api(t, "POST", fmt.Sprintf("/api/v1/drafts/%d/adopt", draftID), ed, map[string]any{"version": num(saved["version"])})
	if r.Status != http.StatusOK {
		t.Fatal(r)
	}
	var adopted struct {
		State   string `json:"state"`
		Credits []struct {
			SubmissionID int64  `json:"submission_id"`
			Unit         string `json:"unit"`
			Kind         string `json:"kind"`
		} `json:"credits"`
	}
	r.Decode(t, &adopted)
	units := map[string]bool{}
	for _, c := range adopted.Credits {
		if c.Kind != "merged" {
			t.Errorf("credit %+v", c)
		}
		units[c.Unit] = true
	}
	if adopted.State != "adopted" || len(units) != 3 || !units["Z101"] || !units["Z102"] || !units["B101"] {
		t.Fatalf("adopt: %s", r)
	}
	for i, id := range ids {
		r := s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d", id), s.token(t, rainReports[i].reporter), nil)
		if r.JSON(t)["state"] != "merged" {
			t.Errorf("report %d as its unit sees it: %s", id, r)
		}
	}

	// Return the fourth with a reason the unit reads in the history.
	s.step(t, "editor1", fourth, "return", map[string]any{"reason": "not_newsworthy", "comment": "与本期主题无关，请报送防汛相关信息"})
	r = s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d/history", fourth), s.token(t, "rep_a2"), nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "与本期主题无关") || !strings.Contains(string(r.Body), "not_newsworthy") {
		t.Fatalf("history of the returned report: %s", r)
	}

	// Audit: every state change.
	count := func(action, object string) int {
		var n int
		if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = $1 AND object = $2`, action, object).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, id := range ids {
		obj := fmt.Sprintf("submission:%d", id)
		for _, a := range []string{"workflow.submit", "workflow.approve", "workflow.review", "workflow.merge"} {
			if count(a, obj) != 1 {
				t.Errorf("audit %s %s = %d", a, obj, count(a, obj))
			}
		}
	}
	if count("workflow.return", fmt.Sprintf("submission:%d", fourth)) != 1 {
		t.Error("return not audited")
	}
	for _, a := range []string{"draft.create", "draft.save", "draft.adopt"} {
		if count(a, fmt.Sprintf("draft:%d", draftID)) != 1 {
			t.Errorf("audit %s missing", a)
		}
	}
	// Search index: the states the units and the office search by.
	waitFor(t, 15*time.Second, "merged and returned states indexed", func() (bool, string) {
		r := s.api(t, "GET", "/api/v1/search?"+url.Values{"size": {"20"}}.Encode(), s.token(t, "res_secret"), nil)
		var res struct {
			Hits []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"hits"`
		}
		r.Decode(t, &res)
		states := map[string]string{}
		for _, h := range res.Hits {
			states[h.ID] = h.State
		}
		ok := states[fmt.Sprint(fourth)] == "returned"
		for _, id := range ids {
			ok = ok && states[fmt.Sprint(id)] == "merged"
		}
		return ok, fmt.Sprint(states)
	})
}

func editorialEditor2(t *testing.T, s *stack) {
	t.Helper()
	if _, err := s.Auth.CreateUser(context.Background(), auth.NewUser{Username: "editor2", Password: password, DisplayName: "测试editor2",
		Roles: []string{access.RoleEditor}, Clearance: 2}); err != nil {
		t.Fatal(err)
	}
}

// TestDraftPagesConflictAndScope: two editors on the draft page; the second one's save answers
// 409 with the first one's changes shown and the second one's text kept in the form. Units and
// researchers without the editor role cannot touch drafts; bad input is refused with the message.
func TestDraftPagesConflictAndScope(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	editorialEditor2(t, s)
	var ids []int64
	for _, rr := range rainReports {
		r := s.api(t, "POST", "/api/v1/submissions", s.token(t, rr.reporter), map[string]any{"title": rr.title, "body": rr.body,
			"writer_name": "张三", "writer_phone": "13812345678"})
		if r.Status != http.StatusCreated {
			t.Fatal(r)
		}
		ids = append(ids, num(r.JSON(t)["id"]))
	}
	one, two := s.browser(t), s.browser(t)
	one.login("editor1")
	two.login("editor2")
	page := one.get(fmt.Sprintf("/submissions/%d", ids[0]))
	if !strings.Contains(string(page.Body), "合并编成稿件") || !strings.Contains(string(page.Body), rainReports[1].title) {
		t.Fatalf("record page lacks the similar panel: %s", page)
	}
	r := one.post("/drafts", url.Values{"_csrf": {csrfOf(t, page)}, "submissions": {fmt.Sprint(ids[0]), fmt.Sprint(ids[1])}})
	if r.Status != http.StatusSeeOther {
		t.Fatal(r)
	}
	loc := r.Header.Get("Location")
	draftPath := strings.SplitN(loc, "?", 2)[0]
	p1, p2 := one.get(draftPath), two.get(draftPath)
	if p1.Status != http.StatusOK || !strings.Contains(string(p1.Body), `name="version" value="1"`) {
		t.Fatalf("draft page: %s", p1)
	}
	save := func(b *browser, csrf, title, body string) resp {
		return b.post(draftPath, url.Values{"_csrf": {csrf}, "title": {title}, "body_html": {body}, "version": {"1"}, "base_revision": {"1"}})
	}
	if r := save(one, csrfOf(t, p1), "两街道连夜应对强降雨", "<p>东湖、西湖两街道连夜排水，转移群众46人，设置警示标志20处。</p>"); r.Status != http.StatusSeeOther {
		t.Fatalf("first save: %s", r)
	}
	r = save(two, csrfOf(t, p2), "编辑二的标题", "<p>编辑二自己的改写文字。</p>")
	body := string(r.Body)
	if r.Status != http.StatusConflict || !strings.Contains(body, "保存冲突") || !strings.Contains(body, "<ins>") ||
		!strings.Contains(body, "转移群众46人，设置警示标志20处") || !strings.Contains(body, "编辑二自己的改写文字") ||
		!strings.Contains(body, `name="version" value="2"`) {
		t.Fatalf("second save: %s", r)
	}
	// Saving again from the conflict page is a deliberate overwrite and succeeds as revision 3.
	if r := two.post(draftPath, url.Values{"_csrf": {csrfOf(t, p2)}, "title": {"编辑二的标题"}, "body_html": {"<p>编辑二自己的改写文字。</p>"},
		"version": {"2"}, "base_revision": {"2"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("deliberate save: %s", r)
	}
	// Bad input: an empty body is refused on the page with the message, nothing saved.
	p1 = one.get(draftPath)
	r = one.post(draftPath, url.Values{"_csrf": {csrfOf(t, p1)}, "title": {"标题"}, "body_html": {"<p> </p>"}, "version": {"3"}, "base_revision": {"3"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "正文不能为空") {
		t.Fatalf("empty body: %s", r)
	}
	// The list and a revision page render.
	if list := one.get("/drafts"); list.Status != http.StatusOK || !strings.Contains(string(list.Body), "编辑二的标题") {
		t.Fatalf("drafts page: %s", list)
	}
	if rev := one.get(draftPath + "/revisions/3?against=1"); rev.Status != http.StatusOK || !strings.Contains(string(rev.Body), "与第 1 稿对比") ||
		!strings.Contains(string(rev.Body), "<ins>") {
		t.Fatalf("revision page: %s", rev)
	}
	// Withdrawing needs a reason.
	r = one.post(draftPath+"/withdraw", url.Values{"_csrf": {csrfOf(t, p1)}, "version": {"3"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "请说明撤销原因") {
		t.Fatalf("withdraw without reason: %s", r)
	}
	// Scope: a reporter gets 404 for the draft and 403 for making one; a researcher may read it
	// but not save.
	rep := s.browser(t)
	rep.login("rep_a")
	if r := rep.get(draftPath); r.Status != http.StatusNotFound {
		t.Fatalf("reporter reads a draft: %s", r)
	}
	if r := s.api(t, "GET", "/api/v1"+draftPath, s.token(t, "res_secret"), nil); r.Status != http.StatusOK {
		t.Fatalf("researcher reads a draft: %s", r)
	}
	if r := s.api(t, "PUT", "/api/v1"+draftPath, s.token(t, "res_secret"), map[string]any{"title": "x", "body_html": "<p>x</p>", "version": 3}); r.Status != http.StatusForbidden {
		t.Fatalf("researcher saves a draft: %s", r)
	}
	if r := s.api(t, "GET", "/api/v1"+draftPath, s.token(t, "res_public"), nil); r.Status != http.StatusOK {
		t.Fatalf("public researcher and a public draft: %s", r)
	}
	// A draft carries the highest classification of its sources: with a secret report merged in,
	// the public-cleared researcher no longer finds it, in the list or by id.
	r = s.api(t, "POST", "/api/v1/submissions", s.token(t, "rep_c"), map[string]any{"title": "涉密情况", "body": "涉密正文内容，不得外传。",
		"classification": "secret", "writer_name": "王五", "writer_phone": "13812345678"})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	secret := num(r.JSON(t)["id"])
	d := s.api(t, "GET", "/api/v1"+draftPath, s.token(t, "editor1"), nil).JSON(t)
	if r := s.api(t, "POST", "/api/v1"+draftPath+"/sources", s.token(t, "editor1"), map[string]any{"version": num(d["version"]),
		"submissions": []int64{secret}}); r.Status != http.StatusOK || r.JSON(t)["classification"] != "secret" {
		t.Fatalf("add a secret source: %s", r)
	}
	if r := s.api(t, "GET", "/api/v1"+draftPath, s.token(t, "res_public"), nil); r.Status != http.StatusNotFound {
		t.Fatalf("public researcher reads a secret draft: %s", r)
	}
	if r := s.api(t, "GET", "/api/v1/drafts", s.token(t, "res_public"), nil); strings.Contains(string(r.Body), "编辑二的标题") {
		t.Fatalf("secret draft listed for a public researcher: %s", r)
	}
	// Withdrawn: archived, history kept, no longer editable.
	if r := one.post(draftPath+"/withdraw", url.Values{"_csrf": {csrfOf(t, p1)}, "version": {fmt.Sprint(num(s.api(t, "GET", "/api/v1"+draftPath, s.token(t, "editor1"), nil).JSON(t)["version"]))}, "reason": {"已并入其他稿件"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("withdraw: %s", r)
	}
	if list := one.get("/drafts?state=withdrawn"); list.Status != http.StatusOK || !strings.Contains(string(list.Body), "已撤销") {
		t.Fatalf("withdrawn drafts page: %s", list)
	}
	if page := one.get(draftPath); !strings.Contains(string(page.Body), "历次稿件") || strings.Contains(string(page.Body), `id="draft-form"`) {
		t.Fatalf("a withdrawn draft keeps its history and is no longer editable: %s", page)
	}
}

// TestSolicitationsAPIAndForm: an editor asks two units for reports by a deadline; one answers
// through the API (on time), a unit not asked is refused, the intake form offers the
// solicitation to the units asked and not to others.
func TestSolicitationsAPIAndForm(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	ed := s.token(t, "editor1")
	deadline := time.Now().Add(2 * time.Hour).Format(time.RFC3339)
	if r := s.api(t, "POST", "/api/v1/solicitations", s.token(t, "rep_a"), map[string]any{"topic": "x", "deadline": deadline, "units": []string{"Z101"}}); r.Status != http.StatusForbidden {
		t.Fatalf("reporter issues a solicitation: %s", r)
	}
	if r := s.api(t, "POST", "/api/v1/solicitations", ed, map[string]any{"topic": "防汛工作情况"}); r.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.Body), "约稿须设截止时间") {
		t.Fatalf("solicitation without deadline: %s", r)
	}
	r := s.api(t, "POST", "/api/v1/solicitations", ed, map[string]any{"topic": "防汛工作情况", "description": "请报送本单位汛期准备情况",
		"deadline": deadline, "units": []string{"Z101", "Z102"}})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	sid := num(r.JSON(t)["id"])
	answer := func(who string) resp {
		return s.api(t, "POST", "/api/v1/submissions", s.token(t, who), map[string]any{"title": "汛期准备情况", "body": "本单位已完成汛前检查。",
			"writer_name": "张三", "writer_phone": "13812345678", "solicitation": sid})
	}
	if r := answer("rep_a"); r.Status != http.StatusCreated {
		t.Fatalf("answer: %s", r)
	}
	if r := answer("rep_c"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "不在该约稿的约稿单位之列") {
		t.Fatalf("answer from a unit not asked: %s", r)
	}
	var got struct {
		Targets []struct {
			Unit   string `json:"unit"`
			Status string `json:"status"`
		} `json:"targets"`
	}
	s.api(t, "GET", fmt.Sprintf("/api/v1/solicitations/%d", sid), ed, nil).Decode(t, &got)
	st := map[string]string{}
	for _, tg := range got.Targets {
		st[tg.Unit] = tg.Status
	}
	if len(st) != 2 || st["Z101"] != "on_time" || st["Z102"] != "pending" {
		t.Fatalf("answers: %v", st)
	}
	if r := s.api(t, "GET", fmt.Sprintf("/api/v1/solicitations/%d", sid), s.token(t, "rep_c"), nil); r.Status != http.StatusNotFound {
		t.Fatalf("a unit not asked reads the solicitation: %s", r)
	}
	for who, offered := range map[string]bool{"rep_b": true, "rep_c": false} {
		b := s.browser(t)
		b.login(who)
		form := b.get("/submissions/new")
		if has := strings.Contains(string(form.Body), "约稿：防汛工作情况"); has != offered {
			t.Errorf("form of %s offers the solicitation: %v", who, has)
		}
	}
	// The office's page lists each unit's answer.
	b := s.browser(t)
	b.login("editor1")
	if list := b.get("/solicitations"); list.Status != http.StatusOK || !strings.Contains(string(list.Body), "防汛工作情况") ||
		!strings.Contains(string(list.Body), "发布约稿或报送要点") {
		t.Fatalf("solicitations page: %s", list)
	}
	page := b.get(fmt.Sprintf("/solicitations/%d", sid))
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "按时报送") || !strings.Contains(string(page.Body), "待报送") {
		t.Fatalf("solicitation page: %s", page)
	}
}

// TestEditorialSchemasMatchResponses compares the documented schemas of this file's endpoints
// with live responses (the shared OpenAPI test covers the routes).
func TestEditorialSchemasMatchResponses(t *testing.T) {
	t.Parallel()
	keys, _ := readYAMLKeys(t, "../docs/openapi.yaml")
	s := newStack(t, stackOptions{})
	editorialEditor2(t, s)
	check := func(schema string, obj map[string]any) {
		t.Helper()
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		sort.Strings(got)
		want := keys.children("components/schemas/" + schema + "/properties")
		if !slices.Equal(got, want) {
			t.Errorf("schema %s documents %v; the response has %v", schema, want, got)
		}
	}
	first := func(v any) map[string]any {
		t.Helper()
		l, _ := v.([]any)
		if len(l) == 0 {
			t.Fatalf("empty list %v", v)
		}
		return l[0].(map[string]any)
	}
	ed := s.token(t, "editor1")
	var ids []int64
	for _, rr := range rainReports[:2] {
		r := s.api(t, "POST", "/api/v1/submissions", s.token(t, rr.reporter), map[string]any{"title": rr.title, "body": rr.body,
			"writer_name": "张三", "writer_phone": "13812345678"})
		ids = append(ids, num(r.JSON(t)["id"]))
	}
	sim := s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/%d/similar", ids[0]), ed, nil).JSON(t)
	check("SimilarList", sim)
	check("SimilarMatch", first(sim["items"]))
	check("SimilarTextList", s.api(t, "POST", "/api/v1/submissions/similar", ed, map[string]any{"body": rainReports[0].body}).JSON(t))
	hints := s.api(t, "GET", fmt.Sprintf("/api/v1/submissions/similar?ids=%d", ids[0]), ed, nil).JSON(t)
	check("SimilarHints", hints)
	check("SimilarList", first(hints["hints"]))
	check("CleanHTML", s.api(t, "POST", "/api/v1/submissions/clean-html", ed, map[string]any{"html": "<p class=MsoNormal>x</p>"}).JSON(t))

	d := s.api(t, "POST", "/api/v1/drafts", ed, map[string]any{"submissions": ids}).JSON(t)
	check("Draft", d)
	check("DraftSource", first(d["sources"]))
	check("DraftSpan", first(d["spans"]))
	path := fmt.Sprintf("/api/v1/drafts/%d", num(d["id"]))
	saved := s.api(t, "PUT", path, ed, map[string]any{"title": "合稿", "body_html": "<p>" + rainReports[0].body + "</p>", "version": num(d["version"]), "base_revision": 1}).JSON(t)
	conflict := s.api(t, "PUT", path, s.token(t, "editor2"), map[string]any{"title": "x", "body_html": "<p>x</p>", "version": num(d["version"]), "base_revision": 1}).JSON(t)
	check("DraftConflict", conflict)
	check("ErrorBody", conflict["error"].(map[string]any))
	check("DiffOp", first(conflict["changes"]))
	revs := s.api(t, "GET", path+"/revisions", ed, nil).JSON(t)
	check("DraftRevisionList", revs)
	rev := s.api(t, "GET", path+"/revisions/2", ed, nil).JSON(t)
	check("DraftRevision", rev)
	list := s.api(t, "GET", "/api/v1/drafts", ed, nil).JSON(t)
	check("DraftList", list)
	adopted := s.api(t, "POST", path+"/adopt", ed, map[string]any{"version": num(saved["version"])}).JSON(t)
	check("DraftCredit", first(adopted["credits"]))
	delete(adopted, "credits")
	check("Draft", adopted)

	deadline := time.Now().Add(time.Hour).Format(time.RFC3339)
	so := s.api(t, "POST", "/api/v1/solicitations", ed, map[string]any{"topic": "防汛", "deadline": deadline, "units": []string{"Z101"}}).JSON(t)
	check("Solicitation", so)
	check("SolicitationTarget", first(so["targets"]))
	check("SolicitationList", s.api(t, "GET", "/api/v1/solicitations", ed, nil).JSON(t))
}

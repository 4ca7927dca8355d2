package webapp_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"infowork/access"
	"infowork/auth"
	"infowork/draft"
	"infowork/internal/browsertest"
	"infowork/label"
	"infowork/periodical"
	"infowork/savedsearch"
	"infowork/search"
	"infowork/workflow"
)

func subjectOf(t *testing.T, s *stack, username string) access.Subject {
	t.Helper()
	var sub access.Subject
	var cl int16
	err := s.DB.QueryRow(context.Background(), `SELECT u.id, u.username, COALESCE(un.code, ''), u.roles, u.clearance
		FROM users u LEFT JOIN units un ON un.id = u.unit_id WHERE u.username = $1`, username).Scan(&sub.UserID, &sub.Username, &sub.UnitCode, &sub.Roles, &cl)
	if err != nil {
		t.Fatal(err)
	}
	sub.Clearance = label.Level(cl)
	return sub
}

// pdfPages extracts each page's text with poppler's pdftotext.
// flashSays waits until the page's flash message contains text: the new page after a form post.
// Evaluation errors while the page navigates are retried.
func flashSays(text string) chromedp.Action[chromedp.Void] {
	expr := fmt.Sprintf(`(function () { var f = document.querySelector(".flash"); return !!f && f.textContent.indexOf(%q) >= 0; })()`, text)
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
			if err == nil && ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("flash %q did not appear (last error %v)", text, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

func pdfPages(t *testing.T, pdf []byte) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "issue.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Split(strings.TrimRight(string(out), "\f\n"), "\f")
}

// TestPeriodicalDailyInBrowser is the issue's "done when": an editor builds 《每日要情》 for today
// from search results in the browser, orders it (keyboard and drag and drop), a signer signs it,
// the PDF and DOCX show the layout, the issue appears archived in search, and a leader
// endorsement of the merged item gives follow-up tasks to its two contributing units.
func TestPeriodicalDailyInBrowser(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	if _, err := s.Auth.CreateUser(ctx, auth.NewUser{Username: "signer1", Password: password, DisplayName: "王签发",
		Roles: []string{access.RoleSigner}, Clearance: label.Secret}); err != nil {
		t.Fatal(err)
	}
	editor := subjectOf(t, s, "editor1")
	svc := periodical.New(s.DB, periodical.Options{})
	if _, err := svc.CreatePeriodical(ctx, editor, periodical.PeriodicalInput{Code: "mryq", Name: "每日要情", Level: "city", Frequency: "daily",
		Classification: label.Internal, Sections: []string{"要情快报", "基层动态"}, MastheadOrg: "中共示范市委办公室",
		Distribution: []string{"省委办公厅", "市委常委"}, SignerUsername: "signer1"}, ""); err != nil {
		t.Fatal(err)
	}
	reports := []struct{ user, title, cl string }{
		{"rep_a", "东湖街道老旧小区改造加快推进", "internal"},
		{"rep_c", "市住建局老旧小区燃气管网排查", "internal"},
		{"rep_b", "西湖街道老旧小区加装电梯", "public"},
		{"rep_b", "老旧小区改造涉密资金安排", "secret"},
	}
	word := randomWord() // in every body: the search the editor compiles from
	ids := map[string]int64{}
	for _, r := range reports {
		s.token(t, r.user)
		c, err := s.createAPI(r.user, created{Title: r.title, Body: r.title + "。居民反映良好，下一步将继续推进。" + word, Classification: r.cl})
		if err != nil {
			t.Fatal(err)
		}
		ids[r.title] = c.ID
	}
	// A merged draft (合稿) of the reports of Z101 and B101.
	d, err := draft.New(s.DB, workflow.New(s.DB)).Create(ctx, editor, draft.CreateInput{Title: "全市老旧小区改造综合情况",
		SubmissionIDs: []int64{ids["东湖街道老旧小区改造加快推进"], ids["市住建局老旧小区燃气管网排查"]}})
	if err != nil {
		t.Fatal(err)
	}
	s.waitIndexed(t, len(reports))

	b := browsertest.Start(t, 3*time.Minute)
	b.Login(s.Base, "editor1", password)
	today := time.Now().In(search.Location)

	// A new issue of 每日要情 for today: numbers reserved at creation.
	b.Do(chromedp.Navigate(s.Base+"/periodicals"), chromedp.Click(chromedp.CSS(`button[data-new-issue="mryq"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#issue`)))
	want := fmt.Sprintf("《每日要情》%d年第1期（总第1期）", today.Year())
	if h := b.Text("h1"); h != want {
		t.Fatalf("issue heading %q, want %q", h, want)
	}
	loc := browsertest.Get(b, chromedp.Location())
	m := regexp.MustCompile(`/issues/(\d+)`).FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("not on an issue page: %s", loc)
	}
	issueID, _ := strconv.ParseInt(m[1], 10, 64)

	// Search, tick every hit, add them to the basket.
	b.Do(chromedp.Navigate(s.Base+"/search?q="+word+"&sort=date"), chromedp.WaitVisible(chromedp.CSS(`.hit-pick`)))
	if n := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll(".hit-pick").length`)); n != 4 {
		t.Fatalf("%d hits to pick, want 4", n)
	}
	b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".hit-pick").forEach(function (c) { c.click(); })`),
		chromedp.Click(chromedp.CSS(`#add-to-periodical`)), chromedp.WaitVisible(chromedp.CSS(`.compile-bar [role=status]`)))
	if got := b.Text(`.compile-bar [role=status]`); got != "已加入组刊篮。" {
		t.Fatalf("basket status %q", got)
	}

	// Compile from the basket: the secret report is refused with its reason, nothing is added.
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/issues/%d", s.Base, issueID)), chromedp.Click(chromedp.CSS(`#compile-basket`)),
		chromedp.WaitVisible(chromedp.CSS(`.error`)))
	if e := b.Text(".error"); !strings.Contains(e, "《老旧小区改造涉密资金安排》密级为秘密，高于本期密级（内部），不能编入") {
		t.Fatalf("refusal: %q", e)
	}
	if n := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll("li.issue-item").length`)); n != 0 {
		t.Fatalf("a refused compile added %d items", n)
	}
	b.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('#basket-form input[value="submission:%d"]').click()`, ids["老旧小区改造涉密资金安排"])),
		chromedp.Click(chromedp.CSS(`#compile-basket`)), flashSays("已编入本期"))
	titles := func() []string {
		return browsertest.Get(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("li.issue-item")).map(function (li) {
			return li.closest("ol").dataset.section + "|" + li.querySelector(".item-title").textContent; })`))
	}
	// Default order: newest report first, as the search listed them (sort=date).
	wantOrder := []string{"要情快报|西湖街道老旧小区加装电梯", "要情快报|市住建局老旧小区燃气管网排查", "要情快报|东湖街道老旧小区改造加快推进"}
	if got := titles(); strings.Join(got, ";") != strings.Join(wantOrder, ";") {
		t.Fatalf("compiled order %v, want %v", got, wantOrder)
	}

	// The merged draft joins the issue through the same compile form (as the drafts page would send it).
	hb := s.browser(t)
	hb.login("editor1")
	pageResp := hb.get(fmt.Sprintf("/issues/%d", issueID))
	if r := hb.post(fmt.Sprintf("/issues/%d/items", issueID), url.Values{"_csrf": {csrfOf(t, pageResp)}, "ref": {fmt.Sprintf("draft:%d", d.ID)},
		"section": {"要情快报"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("compile the draft: %s", r)
	}

	// Keyboard: "上移" on the third item (东湖), pressed with Enter.
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/issues/%d", s.Base, issueID)), chromedp.WaitVisible(chromedp.CSS(`li.issue-item`)))
	third := `ol[data-section="要情快报"] li.issue-item:nth-child(3) form[action$="/move"] button[aria-label^="上移"]`
	b.Do(chromedp.Focus(chromedp.CSS(third)), chromedp.KeyEvent("\r"), flashSays("顺序已保存"))
	wantOrder = []string{"要情快报|西湖街道老旧小区加装电梯", "要情快报|东湖街道老旧小区改造加快推进", "要情快报|市住建局老旧小区燃气管网排查", "要情快报|全市老旧小区改造综合情况"}
	if got := titles(); strings.Join(got, ";") != strings.Join(wantOrder, ";") {
		t.Fatalf("after 上移: %v, want %v", got, wantOrder)
	}
	// Drag and drop: the first item into 基层动态.
	if !browsertest.Get(b, chromedp.Evaluate[bool](`typeof Sortable === "function"`)) {
		t.Fatal("SortableJS is not served at /static/vendor/Sortable.min.js: run scripts/assets.sh (scripts/test.sh does)")
	}
	b.Do(chromedp.EmulateViewport(1280, 2400), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`li.issue-item`)),
		chromedp.DragAndDrop(chromedp.CSS(`ol[data-section="要情快报"] li.issue-item:first-child .handle`), chromedp.CSS(`ol[data-section="基层动态"]`)),
		chromedp.WaitReady(chromedp.CSS(`#issue[data-saved="1"]`)))
	b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`li.issue-item`)))
	wantOrder = []string{"要情快报|东湖街道老旧小区改造加快推进", "要情快报|市住建局老旧小区燃气管网排查", "要情快报|全市老旧小区改造综合情况", "基层动态|西湖街道老旧小区加装电梯"}
	if got := titles(); strings.Join(got, ";") != strings.Join(wantOrder, ";") {
		t.Fatalf("after drag and drop: %v, want %v", got, wantOrder)
	}
	// Drag and drop of a section: 基层动态 before 要情快报 (this issue only).
	b.Do(chromedp.DragAndDrop(chromedp.CSS(`section[data-section="基层动态"] .section-handle`), chromedp.CSS(`section[data-section="要情快报"] h3`)),
		chromedp.WaitReady(chromedp.CSS(`#issue[data-saved="1"]`)))
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/issues/%d", s.Base, issueID)), chromedp.WaitVisible(chromedp.CSS(`li.issue-item`)))
	wantOrder = []string{"基层动态|西湖街道老旧小区加装电梯", "要情快报|东湖街道老旧小区改造加快推进", "要情快报|市住建局老旧小区燃气管网排查", "要情快报|全市老旧小区改造综合情况"}
	if got := titles(); strings.Join(got, ";") != strings.Join(wantOrder, ";") {
		t.Fatalf("after dragging a section: %v, want %v", got, wantOrder)
	}
	// And back with the keyboard button 「栏目下移」.
	b.Do(chromedp.Focus(chromedp.CSS(`button[aria-label="栏目下移：基层动态"]`)), chromedp.KeyEvent("\r"), flashSays("顺序已保存"))
	wantOrder = []string{"要情快报|东湖街道老旧小区改造加快推进", "要情快报|市住建局老旧小区燃气管网排查", "要情快报|全市老旧小区改造综合情况", "基层动态|西湖街道老旧小区加装电梯"}
	if got := titles(); strings.Join(got, ";") != strings.Join(wantOrder, ";") {
		t.Fatalf("after 栏目下移: %v, want %v", got, wantOrder)
	}
	// Editor's note on the first item.
	b.Do(chromedp.SendKeys(chromedp.CSS(`li.issue-item:first-child textarea[name=note]`), "东湖街道的做法值得各区借鉴。"),
		chromedp.Click(chromedp.CSS(`li.issue-item:first-child .note-form button`)), flashSays("编者按已保存"))
	b.Save("issue-compiled") // screenshot and HTML kept under $INFOWORK_BROWSERTEST_ARTIFACTS

	// The editor cannot sign; the signer signs.
	if n := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll("#sign").length`)); n != 0 {
		t.Fatal("an editor is offered the sign button")
	}
	b.Do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)))
	b.Login(s.Base, "signer1", password)
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/issues/%d", s.Base, issueID)), chromedp.Click(chromedp.CSS(`#sign`)),
		chromedp.WaitVisible(chromedp.CSS(`a[data-output="pdf"]`)))
	if f := b.Text(".flash"); !strings.Contains(f, "已签发") {
		t.Fatalf("after signing: %q", f)
	}
	if st := b.Text(`[data-state]`); st != "已签发" {
		t.Fatalf("state %q", st)
	}
	b.Save("issue-signed")

	// Outputs: PDF text and marking on every page, DOCX XML.
	sb := s.browser(t)
	sb.login("signer1")
	pdf := sb.get(fmt.Sprintf("/issues/%d/issue.pdf", issueID))
	if pdf.Status != http.StatusOK || !bytes.HasPrefix(pdf.Body, []byte("%PDF-")) {
		t.Fatalf("pdf: %d %q", pdf.Status, truncate(string(pdf.Body), 40))
	}
	pages := pdfPages(t, pdf.Body)
	all := strings.Join(pages, "\n")
	for _, w := range []string{"每日要情", fmt.Sprintf("%d年第1期（总第1期）", today.Year()), "中共示范市委办公室", "【要情快报】", "【基层动态】",
		"东湖街道老旧小区改造加快推进", "全市老旧小区改造综合情况", "编者按：东湖街道的做法值得各区借鉴。", "报：省委办公厅，市委常委", "印发",
		"芙蓉区东湖街道直报点、市住房和城乡建设局供稿"} {
		if !strings.Contains(strings.ReplaceAll(all, " ", ""), strings.ReplaceAll(w, " ", "")) {
			t.Errorf("PDF lacks %q", w)
		}
	}
	for i, p := range pages {
		if !strings.Contains(p, "内部") || !strings.Contains(strings.ReplaceAll(p, " ", ""), fmt.Sprintf("—%d—", i+1)) {
			t.Errorf("PDF page %d lacks the marking or its page number:\n%s", i+1, p)
		}
	}
	if strings.Contains(all, "涉密资金") {
		t.Error("the refused secret report is in the PDF")
	}
	docx := sb.get(fmt.Sprintf("/issues/%d/issue.docx", issueID))
	zr, err := zip.NewReader(bytes.NewReader(docx.Body), int64(len(docx.Body)))
	if err != nil {
		t.Fatalf("docx: %v", err)
	}
	parts := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		body, _ := io.ReadAll(rc)
		rc.Close()
		parts[f.Name] = string(body)
	}
	for _, w := range []string{"每日要情", "【基层动态】", "西湖街道老旧小区加装电梯", "报：省委办公厅，市委常委"} {
		if !strings.Contains(parts["word/document.xml"], w) {
			t.Errorf("DOCX document.xml lacks %q", w)
		}
	}
	if !strings.Contains(parts["word/header1.xml"], ">内部<") || !strings.Contains(parts["word/footer1.xml"], "PAGE") {
		t.Error("DOCX header or footer lacks the marking or the page field")
	}

	// Signing twice and removing an item from the signed issue are refused with reasons.
	pageResp = sb.get(fmt.Sprintf("/issues/%d", issueID))
	tok := csrfOf(t, pageResp)
	if r := sb.post(fmt.Sprintf("/issues/%d/sign", issueID), url.Values{"_csrf": {tok}}); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "不能重复签发") {
		t.Errorf("second signature: %s", r)
	}
	is, err := svc.Issue(ctx, editor, issueID)
	if err != nil {
		t.Fatal(err)
	}
	if r := sb.post(fmt.Sprintf("/issues/%d/items/%d/remove", issueID, is.Items[0].ID), url.Values{"_csrf": {tok}}); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "不能删除条目") {
		t.Errorf("remove from a signed issue: %s", r)
	}

	// Archive; the compiled reports show as archived in search, with the issue named beside them.
	b.Do(chromedp.Click(chromedp.CSS(`#archive`)), flashSays("本期已归档"))
	if st := b.Text(`[data-state]`); st != "已归档" {
		t.Fatalf("state after archiving %q", st)
	}
	waitFor(t, 15*time.Second, "archived facet", func() (bool, string) {
		res := s.search(t, "res_secret", url.Values{"q": {word}, "archived": {"archived"}})
		return res.Total == 3, fmt.Sprintf("total %d", res.Total)
	})
	b.Do(chromedp.Navigate(s.Base+"/search?q="+word+"&archived=archived"), chromedp.WaitVisible(chromedp.CSS(`.hit-issues`)))
	b.Save("search-archived")
	if txt := b.Text(`.hit-issues`); !strings.Contains(txt, fmt.Sprintf("《每日要情》%d年第1期（已归档）", today.Year())) {
		t.Errorf("search hit names %q", txt)
	}
	if txt := b.Text(`.facets`); !strings.Contains(txt, "刊物归档") || !strings.Contains(txt, "已收入归档刊物") {
		t.Errorf("facets: %q", txt)
	}

	// A leader's endorsement of the merged item: tasks for its two contributing units.
	var draftItem int64
	for _, it := range is.Items {
		if it.Ref.Kind == periodical.KindDraft {
			draftItem = it.ID
		}
	}
	item := fmt.Sprintf(`#item-%d`, draftItem)
	deadline := today.AddDate(0, 0, 10).Format("2006-01-02")
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/issues/%d", s.Base, issueID)),
		chromedp.Click(chromedp.CSS(item+` details.endorse summary`)),
		chromedp.SendKeys(chromedp.CSS(item+` input[name=leader]`), "张市长"),
		chromedp.SendKeys(chromedp.CSS(item+` textarea[name=text]`), "请市住建局会同东湖街道抓紧推进，按期反馈。"),
		chromedp.SetValue(chromedp.CSS(item+` input[name=deadline]`), deadline),
		chromedp.Click(chromedp.CSS(item+` .endorse-form button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`.endorsement`)))
	if f := b.Text(".flash"); !strings.Contains(f, "批示已登记") {
		t.Fatalf("after endorsing: %q (%s)", f, b.Text(".error"))
	}
	units := browsertest.Get(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".endorsement [data-task-unit]")).map(function (li) { return li.dataset.taskUnit; })`))
	if strings.Join(units, ",") != "Z101,B101" {
		t.Fatalf("follow-up tasks for %v, want Z101 and B101", units)
	}
	waitFor(t, 15*time.Second, "endorsed facet", func() (bool, string) {
		res := s.search(t, "res_secret", url.Values{"endorsed": {"open"}})
		return res.Total == 2, fmt.Sprintf("total %d", res.Total)
	})

	// The unit answers its task; the editor's review closes it.
	ub := s.browser(t)
	ub.login("rep_a")
	list := ub.get("/endorsements")
	if list.Status != http.StatusOK || !strings.Contains(string(list.Body), "张市长") || strings.Contains(string(list.Body), `data-task-unit="B101"`) {
		t.Fatalf("unit Z101's endorsement page: %s", list)
	}
	taskID := regexp.MustCompile(`data-task="(\d+)" data-task-unit="Z101"`).FindStringSubmatch(string(list.Body))
	if taskID == nil {
		t.Fatal("no task row for Z101")
	}
	if r := ub.post("/endorsement-tasks/"+taskID[1]+"/feedback", url.Values{"_csrf": {csrfOf(t, list)}, "feedback": {"已完成改造方案，12月底前完工。"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("feedback: %s", r)
	}
	elist := hb.get("/endorsements")
	if r := hb.post("/endorsement-tasks/"+taskID[1]+"/review", url.Values{"_csrf": {csrfOf(t, elist)}, "review": {"反馈属实"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("review: %s", r)
	}
	e, err := svc.Endorsements(ctx, editor, issueID)
	if err != nil || len(e) != 1 || e[0].Tasks[0].State != "closed" || e[0].Tasks[1].State != "open" || e[0].State != "open" {
		t.Fatalf("after one review: %+v %v", e, err)
	}
}

// TestPeriodicalAccess: who may see and do what, answered as a person or a program sees it.
func TestPeriodicalAccess(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	editor := subjectOf(t, s, "editor1")
	svc := periodical.New(s.DB, periodical.Options{})
	p, err := svc.CreatePeriodical(ctx, editor, periodical.PeriodicalInput{Code: "mryq", Name: "每日要情", Classification: label.Internal,
		Distribution: []string{"省委办公厅"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	is, err := svc.CreateIssue(ctx, editor, p.ID, periodical.IssueInput{}, "")
	if err != nil {
		t.Fatal(err)
	}
	issue := fmt.Sprintf("/issues/%d", is.ID)

	// A reporter: no periodical pages, cannot compile or fill a basket.
	rep := s.browser(t)
	rep.login("rep_a")
	if r := rep.get("/periodicals"); r.Status != http.StatusForbidden {
		t.Errorf("reporter /periodicals: %s", r)
	}
	if r := rep.get(issue); r.Status != http.StatusNotFound {
		t.Errorf("reporter issue page: %s", r)
	}
	home := rep.get("/search")
	if r := rep.post("/basket", url.Values{"_csrf": {csrfOf(t, home)}, "ref": {"submission:1"}}); r.Status != http.StatusForbidden {
		t.Errorf("reporter basket: %s", r)
	}
	// A researcher cleared for public only does not see an internal issue; one cleared for
	// secret reads it without any editing form.
	pub := s.browser(t)
	pub.login("res_public")
	if r := pub.get(issue); r.Status != http.StatusNotFound {
		t.Errorf("public researcher on an internal issue: %s", r)
	}
	res := s.browser(t)
	res.login("res_secret")
	r := res.get(issue)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), `action="`+issue+`/items"`) || strings.Contains(string(r.Body), `id="sign"`) {
		t.Errorf("researcher issue page: %s", r)
	}
	// Bad input: an unknown section, a malformed reference, an empty compile.
	ed := s.browser(t)
	ed.login("editor1")
	page := ed.get(issue)
	tok := csrfOf(t, page)
	if r := ed.post(issue+"/items", url.Values{"_csrf": {tok}, "ref": {"submission:x"}}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "条目引用") {
		t.Errorf("malformed ref: %s", r)
	}
	if r := ed.post(issue+"/items", url.Values{"_csrf": {tok}}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "请选择要编入的条目") {
		t.Errorf("empty compile: %s", r)
	}
	if r := ed.post(issue+"/sign", url.Values{"_csrf": {tok}}); r.Status != http.StatusForbidden {
		t.Errorf("an editor signing: %s", r)
	}
	// The API answers the same decisions in JSON.
	if r := s.api(t, "GET", fmt.Sprintf("/api/v1/issues/%d", is.ID), s.token(t, "res_public"), nil); r.Status != http.StatusNotFound {
		t.Errorf("API issue for a public researcher: %s", r)
	}
	if r := s.api(t, "GET", "/api/v1/periodicals", s.token(t, "editor1"), nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "每日要情") {
		t.Errorf("API periodicals: %s", r)
	}
	if r := s.api(t, "GET", "/api/v1/periodicals", s.token(t, "rep_a"), nil); r.Status != http.StatusForbidden {
		t.Errorf("API periodicals for a reporter: %s", r)
	}
}

// TestSeedFromSavedSearch: an issue seeded from a saved search (issue 7) or a typed query
// gets the hits in the engine's order; a search without hits adds nothing and says so.
func TestSeedFromSavedSearch(t *testing.T) {
	s := newStack(t, stackOptions{})
	ctx := context.Background()
	editor := subjectOf(t, s, "editor1")
	svc := periodical.New(s.DB, periodical.Options{})
	p, err := svc.CreatePeriodical(ctx, editor, periodical.PeriodicalInput{Code: "zb", Name: "专报", Kind: "special",
		Classification: label.Internal, Distribution: []string{"市委主要领导"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	is, err := svc.CreateIssue(ctx, editor, p.ID, periodical.IssueInput{Title: "防汛专题"}, "")
	if err != nil {
		t.Fatal(err)
	}
	word := randomWord()
	s.token(t, "rep_a")
	s.token(t, "rep_c")
	for _, u := range []string{"rep_a", "rep_c"} {
		if _, err := s.createAPI(u, created{Title: "防汛检查情况" + u, Body: "汛期检查。" + word, Classification: "internal"}); err != nil {
			t.Fatal(err)
		}
	}
	s.waitIndexed(t, 2)
	ss, err := savedsearch.New(s.DB).Create(ctx, editor.UserID, "防汛", "q="+word+"&sort=date", false)
	if err != nil {
		t.Fatal(err)
	}
	ed := s.browser(t)
	ed.login("editor1")
	page := ed.get(fmt.Sprintf("/issues/%d", is.ID))
	if !strings.Contains(string(page.Body), `<option value="`+strconv.FormatInt(ss.ID, 10)+`">防汛</option>`) {
		t.Fatalf("the seed form does not offer the saved search: %s", page)
	}
	tok := csrfOf(t, page)
	if r := ed.post(fmt.Sprintf("/issues/%d/seed", is.ID), url.Values{"_csrf": {tok}, "query": {"q=nohitsatall" + word}}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "该检索没有结果") {
		t.Errorf("a search without hits: %s", r)
	}
	if r := ed.post(fmt.Sprintf("/issues/%d/seed", is.ID), url.Values{"_csrf": {tok}, "saved": {strconv.FormatInt(ss.ID, 10)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("seed from the saved search: %s", r)
	}
	got, err := svc.Issue(ctx, editor, is.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 || got.Items[0].Title != "防汛检查情况rep_c" || got.Items[1].Title != "防汛检查情况rep_a" {
		t.Fatalf("seeded items (newest first): %+v", got.Items)
	}
	// Seeding again adds nothing new (already items).
	if r := ed.post(fmt.Sprintf("/issues/%d/seed", is.ID), url.Values{"_csrf": {tok}, "query": {"/search?q=" + word}}); r.Status != http.StatusSeeOther {
		t.Fatalf("seed from a search link: %s", r)
	}
	if got, _ := svc.Issue(ctx, editor, is.ID); len(got.Items) != 2 {
		t.Errorf("re-seeding duplicated items: %d", len(got.Items))
	}
	// From the search page straight into an issue (the 「加入」 select names issue and section).
	is2, err := svc.CreateIssue(ctx, editor, p.ID, periodical.IssueInput{Title: "第二期"}, "")
	if err != nil {
		t.Fatal(err)
	}
	sp := ed.get("/search?q=" + word)
	if !strings.Contains(string(sp.Body), fmt.Sprintf(`<option value="%d|">`, is2.ID)) {
		t.Fatalf("the search page does not offer the open issue: %s", sp)
	}
	ref := "submission:" + got.Items[0].Ref.String()[len("submission:"):]
	if r := ed.post("/basket", url.Values{"_csrf": {csrfOf(t, sp)}, "ref": {ref}, "target": {fmt.Sprintf("%d|", is2.ID)}}); r.Status != http.StatusSeeOther ||
		r.Header.Get("Location") != fmt.Sprintf("/issues/%d?flash=added", is2.ID) {
		t.Fatalf("add to an issue from the search page: %s %s", r, r.Header.Get("Location"))
	}
	if got2, _ := svc.Issue(ctx, editor, is2.ID); len(got2.Items) != 1 || got2.Items[0].Ref.String() != ref {
		t.Errorf("items of the second issue: %+v", got2.Items)
	}
}

package webapp_test

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"infowork/internal/browsertest"
)

// pasteJS dispatches a paste of the given HTML into the intake editor, as Chromium does when a
// user presses Ctrl+V after copying from Word.
const pasteJS = `(function(html){
  var ed = document.querySelector('.rich-editor .ql-editor');
  ed.focus();
  var dt = new DataTransfer();
  dt.setData('text/html', html);
  dt.setData('text/plain', 'plain');
  ed.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
  return true;
})(%q)`

var idInURL = regexp.MustCompile(`/(submissions|drafts)/([0-9]+)`)

func urlID(t *testing.T, u string) int64 {
	t.Helper()
	m := idInURL.FindStringSubmatch(u)
	if m == nil {
		t.Fatalf("no id in %s", u)
	}
	id, _ := strconv.ParseInt(m[2], 10, 64)
	return id
}

func logout(b *browsertest.Browser) {
	b.Do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)))
}

// clickTransition presses the button of the flow panel's form for transition code and waits for
// the page that says it was done.
func clickTransition(t *testing.T, b *browsertest.Browser, code string) {
	t.Helper()
	b.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`form.transition-form:has(input[name=transition][value=%q]) button[type=submit]`, code))))
	waitLocation(t, b, "flash=transitioned")
}

// waitLocation waits until the page's URL contains part (after a form post and redirect).
func waitLocation(t *testing.T, b *browsertest.Browser, part string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		u := browsertest.Get(b, chromedp.Location())
		if strings.Contains(u, part) {
			b.Do(chromedp.WaitReady(chromedp.CSS("footer")))
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("still on %s, waiting for %q (error shown: %q)", u, part, b.Text(".error"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEditorialPathBrowser is the done-when path in headless Chromium: a reporter writes a
// report in the rich-text editor by pasting from Word (cleaned on the server), saves it as a
// draft and submits it for approval; the unit approver signs it off; the editor opens it, sees
// the other units' reports of the same event as similar, merges the three into a draft, edits
// and adopts it, and every unit's report shows 综合采用; the editor returns a fourth report with a
// reason that its unit reads on the record page.
func TestEditorialPathBrowser(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	editorialUsers(t, s)
	b := browsertest.Start(t, 3*time.Minute)

	// 1. The reporter drafts a report, pasting from Word.
	word, err := os.ReadFile("../submission/testdata/word_clipboard.html")
	if err != nil {
		t.Fatal(err)
	}
	b.Login(s.Base, "rep_a", password)
	b.Do(chromedp.Navigate(s.Base+"/submissions/new"), chromedp.WaitVisible(chromedp.CSS(`.rich-editor.ready .ql-editor`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=title]`), rainReports[0].title))
	browsertest.Get(b, chromedp.Evaluate[bool](fmt.Sprintf(pasteJS, string(word))))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.ql-editor ol li`)))
	if got := b.Text(".ql-editor"); !strings.Contains(got, "疏通排水管网3.2公里") || strings.Contains(got, "mso") || strings.Contains(got, "Normal") {
		t.Fatalf("editor after the Word paste: %q", got)
	}
	// The report's own facts, typed after the pasted notice.
	browsertest.Get(b, chromedp.Evaluate[bool](fmt.Sprintf(`(function(){var q=document.querySelector('form[data-editor]').quill;
		q.insertText(q.getLength(), %q, 'user'); return true})()`, "\n"+rainReports[0].body)))
	b.Do(chromedp.SetValue(chromedp.CSS(`input[name=writer_phone]`), "12345"),
		chromedp.Click(chromedp.CSS(`button[name=draft]`)), chromedp.WaitVisible(chromedp.CSS(`.error`)))
	if msg := b.Text(`.invalid .field-error`); !strings.Contains(msg, "手机号") {
		t.Fatalf("bad phone message: %q", msg)
	}
	// The form came back with the text kept; fix the phone and save the draft.
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.rich-editor.ready .ql-editor ol li`)),
		chromedp.SetValue(chromedp.CSS(`input[name=writer_phone]`), "0731-84001234"),
		chromedp.Click(chromedp.CSS(`button[name=draft]`)))
	loc := waitLocation(t, b, "flash=draft")
	repA := urlID(t, loc)
	if body := b.Text(".record .body"); !strings.Contains(body, "储备沙袋2000个") || !strings.Contains(body, "转移群众46人") {
		t.Fatalf("stored body: %q", body)
	}
	clickTransition(t, b, "submit")
	logout(b)

	// 2. The unit approver signs it off.
	b.Login(s.Base, "appr_a", password)
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/submissions/%d", s.Base, repA)), chromedp.WaitVisible(chromedp.CSS(`#flow`)))
	clickTransition(t, b, "approve")
	if st := b.Text(".flow-state .state-badge"); st != "已报送" {
		t.Fatalf("after approval: %q", st)
	}
	logout(b)

	// The other two units report the same event through the API (the same handlers).
	var ids = []int64{repA}
	for _, rr := range rainReports[1:] {
		r := s.api(t, "POST", "/api/v1/submissions", s.token(t, rr.reporter), map[string]any{"title": rr.title, "body": rr.body,
			"writer_name": "张三", "writer_phone": "0731-84001234", "draft": true})
		if r.Status != http.StatusCreated {
			t.Fatal(r)
		}
		id := num(r.JSON(t)["id"])
		s.step(t, rr.reporter, id, "submit", nil)
		s.step(t, rr.approver, id, "approve", nil)
		ids = append(ids, id)
	}
	r := s.api(t, "POST", "/api/v1/submissions", s.token(t, "rep_a2"), map[string]any{"title": "东湖街道社区书画展开幕", "body": fourthReport,
		"writer_name": "李四", "writer_phone": "13812345678"})
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	fourth := num(r.JSON(t)["id"])

	// 3. The editor sees the near duplicates and merges them.
	b.Login(s.Base, "editor1", password)
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/submissions/%d", s.Base, repA)), chromedp.WaitVisible(chromedp.CSS(`#similar`)))
	sim := b.Text("#similar")
	for _, rr := range rainReports[1:] {
		if !strings.Contains(sim, rr.title) {
			t.Fatalf("similar panel lacks %q: %q", rr.title, sim)
		}
	}
	b.Save("record-similar") // kept when INFOWORK_BROWSERTEST_ARTIFACTS is set
	if strings.Contains(sim, "书画展") {
		t.Fatalf("unrelated report shown as similar: %q", sim)
	}
	b.Do(chromedp.Click(chromedp.CSS(`#merge-form button[type=submit]`)))
	draftURL := strings.SplitN(waitLocation(t, b, "flash=created"), "?", 2)[0]
	draftID := urlID(t, draftURL)
	if src := b.Text("ol.sources"); strings.Count(src, "字与之相同") != 3 {
		t.Fatalf("sources panel: %q", src)
	}
	// Edit: an opening sentence of the editor's own, then save as revision 2.
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.rich-editor.ready .ql-editor`)))
	browsertest.Get(b, chromedp.Evaluate[bool](`(function(){var q=document.querySelector('#draft-form').quill;
		q.insertText(0, '全市各地各部门连夜应对强降雨，确保群众安全。\n', 'user'); return true})()`))
	b.Do(chromedp.SetValue(chromedp.CSS(`#draft-form input[name=title]`), "我市各地各部门连夜应对强降雨"),
		chromedp.SetValue(chromedp.CSS(`#draft-form input[name=note]`), "加导语"),
		chromedp.Click(chromedp.CSS(`#draft-form button[type=submit]`)))
	waitLocation(t, b, "flash=saved")
	if got := b.Text(".revisions"); !strings.Contains(got, "第 2 稿") || !strings.Contains(got, "加导语") {
		t.Fatalf("revisions: %q", got)
	}
	if prov := b.Text(".provenance-text"); !strings.Contains(prov, "全市各地各部门连夜应对强降雨") {
		t.Fatalf("provenance: %q", prov)
	}
	b.Save("draft-revision-2")
	if marks := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll('.provenance-text mark.src').length`)); marks < 3 {
		t.Fatalf("%d provenance marks", marks)
	}
	// The readable diff of revision 2.
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/drafts/%d/revisions/2", s.Base, draftID)), chromedp.WaitVisible(chromedp.CSS(`#revision-diff`)))
	if ins := b.Text("#revision-diff ins"); !strings.Contains(ins, "全市各地各部门连夜应对强降雨") {
		t.Fatalf("diff insertion: %q", ins)
	}
	// Adopt.
	b.Do(chromedp.Navigate(draftURL), chromedp.WaitVisible(chromedp.CSS(`#adopt-form`)),
		chromedp.Click(chromedp.CSS(`#adopt-form button[type=submit]`)))
	waitLocation(t, b, "flash=adopted")
	if st := b.Text(".flow-state .state-badge"); st != "已采用" {
		t.Fatalf("draft state after adopt: %q (%s)", st, b.Text(".error"))
	}
	if n := browsertest.Get(b, chromedp.Evaluate[int](`Array.from(document.querySelectorAll('ol.sources .credit')).filter(e => e.textContent === '综合采用').length`)); n != 3 {
		t.Fatalf("%d sources credited 综合采用: %q", n, b.Text("ol.sources"))
	}

	// 4. Return the fourth with a reason.
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/submissions/%d", s.Base, fourth)), chromedp.WaitVisible(chromedp.CSS(`#flow`)),
		chromedp.SetValue(chromedp.CSS(`form.transition-form:has(input[value=return]) select[name=reason]`), "not_newsworthy"),
		chromedp.SendKeys(chromedp.CSS(`form.transition-form:has(input[value=return]) textarea[name=comment]`), "与防汛主题无关，请报送防汛相关信息"))
	clickTransition(t, b, "return")
	logout(b)

	// Each unit sees its credit; the fourth's unit reads the reason.
	for i, id := range ids {
		b.Login(s.Base, rainReports[i].reporter, password)
		b.Do(chromedp.Navigate(fmt.Sprintf("%s/submissions/%d", s.Base, id)), chromedp.WaitVisible(chromedp.CSS(`#flow`)))
		if st, cr := b.Text(".flow-state .state-badge"), b.Text("#credits"); st != "综合采用" || !strings.Contains(cr, "综合采用") || strings.Contains(cr, "我市各地") {
			t.Errorf("report %d as %s: state %q credits %q", id, rainReports[i].reporter, st, cr)
		}
		logout(b)
	}
	b.Login(s.Base, "rep_a2", password)
	b.Do(chromedp.Navigate(fmt.Sprintf("%s/submissions/%d", s.Base, fourth)), chromedp.WaitVisible(chromedp.CSS(`#history`)))
	if h := b.Text("#history"); !strings.Contains(h, "价值不高") || !strings.Contains(h, "与防汛主题无关") {
		t.Fatalf("returned report history: %q", h)
	}
	// A colleague of the same unit starts writing the same event: the form warns while typing.
	b.Do(chromedp.Navigate(s.Base+"/submissions/new"), chromedp.WaitVisible(chromedp.CSS(`.rich-editor.ready .ql-editor`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=title]`), "东湖街道强降雨情况"))
	browsertest.Get(b, chromedp.Evaluate[bool](fmt.Sprintf(`(function(){var q=document.querySelector('form[data-editor]').quill;
		q.insertText(0, %q, 'user'); return true})()`, rainReports[0].body)))
	b.Do(chromedp.WaitVisible(chromedp.CSS(`#similar-hints li`)))
	if hint := b.Text("#similar-hints"); !strings.Contains(hint, rainReports[0].title) {
		t.Fatalf("intake hint: %q", hint)
	}
}

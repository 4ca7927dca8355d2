package webapp_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"infowork/internal/browsertest"
)

// TestDeskBrowser drives headless Chromium: editor1 locks a report from its page, editor2 sees
// the holder on the desk and on the record page and has no way to take it, the signer breaks
// the lock (privileged unlock, audited), and editor2 can then take it while editor1 finds the
// notice in the inbox behind the header's unread badge.
func TestDeskBrowser(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	deskUsers(t, s)
	id := directReport(t, s, "浏览器锁定测试", false)
	rec := s.Base + "/submissions/" + strconv.FormatInt(id, 10)

	a := browsertest.Start(t, 2*time.Minute)
	b := browsertest.Start(t, 2*time.Minute)
	a.Login(s.Base, "editor1", password)
	b.Login(s.Base, "editor2", password)

	a.Do(chromedp.Navigate(rec), chromedp.WaitVisible(chromedp.CSS("#take-lock")), chromedp.Click(chromedp.CSS("#take-lock")),
		chromedp.WaitVisible(chromedp.CSS(`#desk .lock-badge`)))
	if got := a.Text(`#desk .lock-state`); !strings.Contains(got, "测试editor1 正在处理") {
		t.Fatalf("holder's page shows %q", got)
	}
	if got := a.Text(`#desk .flash`); !strings.Contains(got, "已锁定") {
		t.Errorf("holder's notice %q", got)
	}

	// editor2: the desk lists the holder; the record page shows it and offers no lock or unlock.
	b.Do(chromedp.Navigate(s.Base+"/desk"), chromedp.WaitVisible(chromedp.CSS(`table.desk-table`)))
	if got := b.Text(`tr[data-id="` + strconv.FormatInt(id, 10) + `"] .lock-badge`); !strings.Contains(got, "测试editor1") {
		t.Errorf("desk row lock %q", got)
	}
	b.Do(chromedp.Navigate(rec), chromedp.WaitVisible(chromedp.CSS(`#desk .lock-badge`)))
	if got := b.Text(`#desk .lock-state`); !strings.Contains(got, "测试editor1 正在处理") {
		t.Errorf("second editor sees %q", got)
	}
	if n := browsertest.Get(b, chromedp.Evaluate[int](`document.querySelectorAll("#take-lock, #force-unlock").length`)); n != 0 {
		t.Errorf("second editor is offered %d lock buttons", n)
	}
	if got := b.Text(`#desk .desk-actions`); !strings.Contains(got, "请联系签发人解除") {
		t.Errorf("second editor's hint %q", got)
	}

	// The signer (in the first browser, after editor1 signs out) breaks the lock.
	a.Do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)))
	a.Login(s.Base, "chief", password)
	a.Do(chromedp.Navigate(rec), chromedp.WaitVisible(chromedp.CSS("#force-unlock")), chromedp.Click(chromedp.CSS("#force-unlock")),
		chromedp.WaitVisible(chromedp.CSS("#take-lock")))
	if got := a.Text(`#desk .lock-state`); !strings.Contains(got, "未锁定") {
		t.Errorf("after the unlock the page shows %q", got)
	}
	var n int
	if err := s.DB.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'desk.unlock' AND username = 'chief' AND outcome = 'success'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("privileged unlock audited %d times (%v)", n, err)
	}

	// editor2 may take it now.
	b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#take-lock")), chromedp.Click(chromedp.CSS("#take-lock")),
		chromedp.WaitVisible(chromedp.CSS(`#desk .lock-badge`)))
	if got := b.Text(`#desk .lock-state`); !strings.Contains(got, "测试editor2 正在处理") {
		t.Errorf("editor2's lock shows %q", got)
	}

	// editor1 signs in again: the header badge counts the notice, the inbox names the signer.
	a.Do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)))
	a.Login(s.Base, "editor1", password)
	a.Do(chromedp.Navigate(s.Base+"/desk"), chromedp.WaitVisible(chromedp.CSS(`.unread-badge`)))
	if got := a.Text(`.unread-badge`); got != "1" {
		t.Errorf("unread badge %q", got)
	}
	a.Do(chromedp.Click(chromedp.CSS(`a.inbox-link`)), chromedp.WaitVisible(chromedp.CSS(`ul.inbox`)))
	if got := a.Text(`ul.inbox`); !strings.Contains(got, "您的锁定已被测试总编解除") {
		t.Errorf("inbox %q", got)
	}
}

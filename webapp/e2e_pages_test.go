package webapp_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func wantHTML(t *testing.T, r resp, status int, contains ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d", r.URL, r.Status, status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q, want text/html", r.URL, ct)
	}
	for _, c := range contains {
		if !strings.Contains(string(r.Body), c) {
			t.Errorf("%s: page lacks %q:\n%s", r.URL, c, truncate(string(r.Body), 3000))
		}
	}
}

func TestPagesLoginSessionLogout(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	b := s.browser(t)
	anon := s.browser(t)

	// Anonymous: redirected to the login page, keeping where the user wanted to go.
	r := anon.get("/search?q=" + url.QueryEscape("停车"))
	if r.Status != http.StatusSeeOther {
		t.Fatalf("GET /search anonymously: %s, want 303", r)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Path != "/login" || loc.Query().Get("next") != "/search?q="+url.QueryEscape("停车") {
		t.Errorf("redirect to %q, want /login?next=<the search URL>", r.Header.Get("Location"))
	}
	r = anon.get("/submissions/new")
	must(t, r.Status == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/login?next="), "GET /submissions/new anonymously: %d %s", r.Status, r.Header.Get("Location"))

	// The login form carries the pre-session CSRF token of its cookie.
	page := b.get("/login")
	wantHTML(t, page, http.StatusOK, `<html lang="zh-CN">`, "登录", `name="username"`)
	pre := setCookie(page, "infowork_csrf")
	if pre == nil {
		t.Fatalf("GET /login sets no infowork_csrf cookie (headers %v)", page.Header)
	}
	must(t, pre.HttpOnly && pre.SameSite == http.SameSiteLaxMode, "pre-session cookie %+v: want HttpOnly and SameSite=Lax", pre)
	token := csrfOf(t, page)
	must(t, token == pre.Value, "form _csrf %q differs from the cookie %q", token, pre.Value)

	creds := url.Values{"username": {"rep_a"}, "password": {password}, "next": {"/search?q=x"}}
	withCSRF := func(v url.Values, tok string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		if tok != "" {
			out.Set("_csrf", tok)
		}
		return out
	}
	wantHTML(t, b.post("/login", creds), http.StatusForbidden, "CSRF")
	wantHTML(t, b.post("/login", withCSRF(creds, "forged-token-forged-token")), http.StatusForbidden, "CSRF")
	must(t, b.cookie("infowork_session") == nil, "a rejected login left a session cookie")
	// A program cannot post the form without the cookie either.
	r, err = call(apiClient, "POST", s.Base+"/login", strings.NewReader(withCSRF(creds, token).Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if err != nil {
		t.Fatal(err)
	}
	must(t, r.Status == http.StatusForbidden, "login form with a token but no cookie: %s", r)

	bad := withCSRF(creds, token)
	bad.Set("password", "Wrong-pass-2026")
	wantHTML(t, b.post("/login", bad), http.StatusUnauthorized, "用户名或密码错误", `value="rep_a"`)

	r = b.post("/login", withCSRF(creds, token))
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/search?q=x" {
		t.Fatalf("login: %s (Location %q), want 303 to next", r, r.Header.Get("Location"))
	}
	sc := setCookie(r, "infowork_session")
	if sc == nil {
		t.Fatalf("login sets no session cookie: %v", r.Header)
	}
	must(t, sc.HttpOnly && sc.SameSite == http.SameSiteLaxMode && sc.Path == "/", "session cookie %+v: want HttpOnly, SameSite=Lax, Path=/", sc)
	first := sc.Value

	// Logged in: the home page sends a reporter to its unit's list.
	r = b.get("/")
	must(t, r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/submissions", "GET / as reporter: %d %s", r.Status, r.Header.Get("Location"))
	list := b.get("/submissions")
	wantHTML(t, list, http.StatusOK, "本单位报送信息", "测试rep_a")
	r = b.get("/login")
	must(t, r.Status == http.StatusSeeOther, "GET /login while logged in: %s", r)

	// Logging in again (from a page's token) issues a new session and revokes the old one.
	r = b.post("/login", withCSRF(creds, csrfOf(t, list)))
	must(t, r.Status == http.StatusSeeOther, "second login: %s", r)
	second := b.cookie("infowork_session").Value
	must(t, second != first, "session id did not change on a new login")
	r, _ = call(apiClient, "GET", s.Base+"/submissions", nil, map[string]string{"Cookie": "infowork_session=" + first})
	must(t, r.Status == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/login"), "old session after re-login: %s", r)

	// A cookie planted before login is never adopted (session fixation).
	victim := s.browser(t)
	planted := "planted-session-value-0123456789abcdef"
	victim.hc.Jar.SetCookies(victim.base, []*http.Cookie{{Name: "infowork_session", Value: planted, Path: "/"}})
	victim.login("rep_b")
	if c := victim.cookie("infowork_session"); c == nil || c.Value == planted {
		t.Errorf("session cookie after login with a planted cookie: %+v", c)
	}

	// Logout needs the token, revokes the session server-side and clears the cookie.
	r = b.post("/logout", url.Values{})
	must(t, r.Status == http.StatusForbidden, "logout without _csrf: %s", r)
	list = b.get("/submissions")
	r = b.post("/logout", url.Values{"_csrf": {csrfOf(t, list)}})
	must(t, r.Status == http.StatusSeeOther && r.Header.Get("Location") == "/login", "logout: %s", r)
	r, _ = call(apiClient, "GET", s.Base+"/submissions", nil, map[string]string{"Cookie": "infowork_session=" + second})
	must(t, r.Status == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/login"), "session after logout: %s", r)
	must(t, b.get("/submissions").Status == http.StatusSeeOther, "browser still logged in after logout")
}

var createdRedirect = regexp.MustCompile(`^/submissions/(\d+)(\?.*)?$`)

func TestPagesSubmissionForm(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	b := s.browser(t)
	b.login("rep_a")

	form := b.get("/submissions/new")
	wantHTML(t, form, http.StatusOK, "报送信息", `name="idempotency_key"`, "物业管理")
	key := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(string(form.Body))
	if key == nil {
		t.Fatal("form has no idempotency key")
	}
	tok := csrfOf(t, form)

	// Invalid: the form comes back with the message and the typed text.
	typed := "居民反映<小区>路灯损坏 & 无人维修。"
	r := b.post("/submissions", url.Values{"_csrf": {tok}, "title": {"  "}, "body": {typed}, "category": {"C11"},
		"urgency": {"normal"}, "classification": {"public"}, "idempotency_key": {key[1]}})
	wantHTML(t, r, http.StatusUnprocessableEntity, "标题不能为空", html.EscapeString(typed), `<option value="C11" selected>`)

	title := "东湖街道路灯损坏情况反映"
	good := url.Values{"_csrf": {tok}, "title": {title}, "body": {typed}, "category": {"C11"}, "urgency": {"urgent"},
		"classification": {"internal"}, "writer_name": {"张三"}, "writer_phone": {"0731-1234567"}, "idempotency_key": {key[1]}}
	r = b.post("/submissions", good)
	m := createdRedirect.FindStringSubmatch(r.Header.Get("Location"))
	if r.Status != http.StatusSeeOther || m == nil {
		t.Fatalf("good form: %s (Location %q), want 303 to /submissions/{id}", r, r.Header.Get("Location"))
	}
	id := m[1]
	// A double-clicked submit (same form key) stores one report.
	r = b.post("/submissions", good)
	m2 := createdRedirect.FindStringSubmatch(r.Header.Get("Location"))
	must(t, r.Status == http.StatusSeeOther && m2 != nil && m2[1] == id, "resubmitted form: %s (Location %q), want the same record %s", r, r.Header.Get("Location"), id)

	// The list reads the database: the new record is there at once, whatever the indexer does.
	wantHTML(t, b.get("/submissions"), http.StatusOK, title, "共 1 条", `href="/submissions/`+id+`"`)
	show := b.get(r.Header.Get("Location"))
	wantHTML(t, show, http.StatusOK, title, "报送成功", "物业管理", "加急", "内部", "芙蓉区", "张三", html.EscapeString("居民反映<小区>路灯损坏 & 无人维修。"))

	// Another unit's reporter: a 404 page in Chinese, indistinguishable from a missing record.
	other := s.browser(t)
	other.login("rep_b")
	for _, path := range []string{"/submissions/" + id, "/submissions/999999999"} {
		r := other.get(path)
		wantHTML(t, r, http.StatusNotFound, `<html lang="zh-CN">`, "记录不存在或无权查看", "返回首页")
		must(t, !strings.Contains(string(r.Body), "Not Found"), "%s: 404 page has an English title:\n%s", path, truncate(string(r.Body), 800))
		must(t, !strings.Contains(string(r.Body), title), "%s: 404 page leaks the title", path)
	}
	wantHTML(t, other.get("/no/such/page"), http.StatusNotFound, "页面不存在")
	wantHTML(t, other.get("/submissions"), http.StatusOK, "共 0 条")

	// A researcher may not submit.
	res := s.browser(t)
	res.login("res_secret")
	wantHTML(t, res.get("/submissions/new"), http.StatusForbidden, "无权")
}

// facetLink finds a facet entry by its label and returns its href and count.
func facetLink(t *testing.T, page resp, label string) (string, int) {
	t.Helper()
	re := regexp.MustCompile(`<a href="([^"]*)"[^>]*><span class="fl">` + regexp.QuoteMeta(label) + `</span><span class="count">(\d+)</span>`)
	m := re.FindStringSubmatch(string(page.Body))
	if m == nil {
		t.Fatalf("%s: no facet entry %q in the sidebar", page.URL, label)
	}
	n, _ := strconv.Atoi(m[2])
	return html.UnescapeString(m[1]), n
}

var totalRE = regexp.MustCompile(`共 <strong>(\d+)</strong> 条结果`)

func pageTotal(t *testing.T, page resp) int {
	t.Helper()
	m := totalRE.FindStringSubmatch(string(page.Body))
	if m == nil {
		t.Fatalf("%s: no result count on the page", page.URL)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestPagesSearch(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	w := randomWord()
	plan := []struct{ user, cat string }{{"rep_a", "C11"}, {"rep_a", "C21"}, {"rep_b", "C11"}, {"rep_c", "C1"}}
	for i, p := range plan {
		s.token(t, p.user)
		body := fmt.Sprintf("第%d条：小区停车位紧张，关键词 %s。", i+1, w)
		if _, err := s.createAPI(p.user, created{Title: fmt.Sprintf("停车问题反映%d", i+1), Body: body, Category: p.cat, Classification: "public"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.createAPI("rep_b", created{Title: "无关记录", Body: "与检索词无关。", Classification: "public"}); err != nil {
		t.Fatal(err)
	}
	s.waitIndexed(t, len(plan)+1)

	b := s.browser(t)
	b.login("res_secret")
	page := b.get("/search?q=" + w)
	wantHTML(t, page, http.StatusOK, "<mark>"+w+"</mark>", `aria-label="分面筛选"`, "报送单位", "类别", "密级")
	must(t, pageTotal(t, page) == 4, "q=%s: page shows %d results, want 4", w, pageTotal(t, page))
	must(t, !strings.Contains(string(page.Body), "搜索服务降级"), "healthy search shows the degraded banner")

	for _, tc := range []struct {
		label string
		count int
	}{{unitByCode["Z101"].Name, 2}, {unitByCode["Z102"].Name, 1}, {unitByCode["B101"].Name, 1}, {"城乡建设", 3}, {"社会治理", 1}, {"公开", 4}} {
		if _, n := facetLink(t, page, tc.label); n != tc.count {
			t.Errorf("facet %s shows %d, want %d", tc.label, n, tc.count)
		}
	}

	// Clicking a facet narrows the results; clicking it again removes the filter.
	href, _ := facetLink(t, page, unitByCode["Z101"].Name)
	narrowed := b.get(href)
	wantHTML(t, narrowed, http.StatusOK, "报送单位："+unitByCode["Z101"].Name, `aria-current="true"`)
	must(t, pageTotal(t, narrowed) == 2, "after the Z101 facet: %d results, want 2", pageTotal(t, narrowed))
	must(t, !strings.Contains(string(narrowed.Body), unitByCode["Z102"].Name), "Z102 still listed after filtering on Z101")
	href, n := facetLink(t, narrowed, "社会治理")
	must(t, n == 1, "category facet under the unit filter: %d", n)
	both := b.get(href)
	must(t, pageTotal(t, both) == 1, "unit and category filter: %d results, want 1", pageTotal(t, both))
	href, _ = facetLink(t, both, unitByCode["Z101"].Name)
	must(t, pageTotal(t, b.get(href)) == 1, "removing the unit filter keeps the category filter")

	// A query the parser rejects is a 400 page with the message, not a 500.
	wantHTML(t, b.get("/search?q="+url.QueryEscape(`"停车`)), http.StatusBadRequest, "引号未闭合")
	r := b.get("/search?page=0")
	wantHTML(t, r, http.StatusBadRequest, "page 必须是")
	must(t, !strings.Contains(string(r.Body), "bad query"), "page shows the internal error text")
}
